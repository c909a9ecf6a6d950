import StrataTensor

/// A labelled image dataset with random access: example `i` is a [C, H, W] image and its class.
///
/// `load(_:into:)` is called concurrently from loader threads, so conforming types must be
/// safe to read from several threads at once (the built-in ones are immutable after `init`).
/// File-backed datasets read and validate everything they can in `init` (which throws), so
/// that loading an example cannot fail.
///
/// Datasets whose examples differ in size (an ImageFolder of photos) report a nominal
/// ``imageShape`` and each example's own size through ``shape(of:)``; a loader's
/// ``ImageTransform`` (for example RandomResizedCrop or resize + center crop) then brings
/// every example to one size.
public protocol Dataset: Sendable {
    /// Number of examples.
    var count: Int { get }
    /// [C, H, W] of every example (for variable-size datasets: a nominal size, see ``shape(of:)``).
    var imageShape: [Int] { get }
    /// Class names, index = label.
    var classNames: [String] { get }
    /// Writes example `index` into `pixels` (C·H·W floats of ``shape(of:)``, CHW order,
    /// values in [0, 1] for image files) and returns its label.
    func load(_ index: Int, into pixels: UnsafeMutableBufferPointer<Float>) -> Int
    /// The label of example `index` without decoding its pixels (default: loads the example).
    func label(_ index: Int) -> Int
    /// [C, H, W] of example `index` (default: ``imageShape``).
    func shape(of index: Int) -> [Int]
}

extension Dataset {
    public func label(_ index: Int) -> Int {
        var scratch = [Float](repeating: 0, count: shape(of: index).reduce(1, *))
        return scratch.withUnsafeMutableBufferPointer { load(index, into: $0) }
    }

    public func shape(of index: Int) -> [Int] { imageShape }

    /// Number of examples of each class, index = label.
    public func labelCounts() -> [Int] {
        var counts = [Int](repeating: 0, count: classNames.count)
        for i in 0..<count {
            let l = label(i)
            if l >= 0 && l < counts.count { counts[l] += 1 }
        }
        return counts
    }
}

/// A view of some examples of another dataset (a train/validation split).
public struct Subset: Dataset {
    public let base: any Dataset
    public let indices: [Int]
    public init(_ base: any Dataset, indices: [Int]) {
        self.base = base
        self.indices = indices
    }
    public var count: Int { indices.count }
    public var imageShape: [Int] { base.imageShape }
    public var classNames: [String] { base.classNames }
    public func load(_ index: Int, into pixels: UnsafeMutableBufferPointer<Float>) -> Int {
        base.load(indices[index], into: pixels)
    }
    public func label(_ index: Int) -> Int { base.label(indices[index]) }
    public func shape(of index: Int) -> [Int] { base.shape(of: indices[index]) }
}

/// A train/validation split of a training set.
public struct TrainValidationSplit: Sendable {
    public let train: Subset
    public let validation: Subset

    /// He et al. (2015) hold out 5,000 of CIFAR-10's 50,000 training images (45k/5k).
    public static let heValidationCount = 5_000

    /// Splits `dataset` into train and validation subsets, deterministically.
    ///
    /// - Parameters:
    ///   - dataset: the training set to split.
    ///   - validationCount: examples held out for validation (0 ≤ n ≤ count).
    ///   - shuffleSeed: `nil` (the default) holds out the **last** `validationCount` examples
    ///     (CIFAR-10's training files are in a random order, so this is a fair sample, and
    ///     it is the same split every time); a seed holds out a seeded random sample instead.
    ///   Both subsets keep the dataset's order.
    public init(_ dataset: any Dataset, validationCount: Int = heValidationCount, shuffleSeed: UInt64? = nil) {
        precondition(
            validationCount >= 0 && validationCount <= dataset.count,
            "TrainValidationSplit: cannot hold out \(validationCount) of \(dataset.count) examples")
        let n = dataset.count
        var held = [Bool](repeating: false, count: n)
        if let shuffleSeed {
            var g = RandomGenerator(seed: shuffleSeed)
            for i in g.permutation(n).prefix(validationCount) { held[i] = true }
        } else {
            for i in (n - validationCount)..<n { held[i] = true }
        }
        train = Subset(dataset, indices: (0..<n).filter { !held[$0] })
        validation = Subset(dataset, indices: (0..<n).filter { held[$0] })
    }
}

/// Which part of a dataset to load.
public enum DatasetSplit: String, Sendable, CaseIterable {
    case train
    case test
}

/// Images held in memory as bytes (CHW, one byte per channel value) with their labels;
/// ``load(_:into:)`` converts to Float in [0, 1] (value / 255). CIFAR and MNIST load into this.
public struct InMemoryDataset: Dataset {
    /// All images, example after example, each C·H·W bytes in CHW order.
    public let pixels: [UInt8]
    /// Label of each example.
    public let labels: [Int]
    public let imageShape: [Int]
    public let classNames: [String]

    /// - Precondition: `pixels.count == labels.count · C·H·W` and every label is a class index.
    public init(pixels: [UInt8], labels: [Int], imageShape: [Int], classNames: [String]) {
        let per = imageShape.reduce(1, *)
        precondition(imageShape.count == 3 && per > 0, "InMemoryDataset: image shape \(imageShape) is not [C, H, W]")
        precondition(
            pixels.count == labels.count * per,
            "InMemoryDataset: \(pixels.count) pixel bytes for \(labels.count) images of \(imageShape)")
        precondition(
            labels.allSatisfy { $0 >= 0 && $0 < classNames.count },
            "InMemoryDataset: a label is outside 0..<\(classNames.count)")
        self.pixels = pixels
        self.labels = labels
        self.imageShape = imageShape
        self.classNames = classNames
    }

    public var count: Int { labels.count }

    public func load(_ index: Int, into out: UnsafeMutableBufferPointer<Float>) -> Int {
        let per = out.count
        precondition(
            per == imageShape[0] * imageShape[1] * imageShape[2], "InMemoryDataset.load: buffer of \(per) floats")
        pixels.withUnsafeBufferPointer { src in
            let s = src.baseAddress! + index * per
            let d = out.baseAddress!
            byteToUnit.withUnsafeBufferPointer { table in
                for i in 0..<per { d[i] = table[Int(s[i])] }
            }
        }
        return labels[index]
    }

    public func label(_ index: Int) -> Int { labels[index] }

    /// The bytes of example `index` (C·H·W, CHW order).
    public func imageBytes(_ index: Int) -> ArraySlice<UInt8> {
        let per = imageShape.reduce(1, *)
        return pixels[(index * per)..<((index + 1) * per)]
    }
}

/// v / 255 for every byte value (what torchvision's ToTensor computes).
let byteToUnit: [Float] = (0..<256).map { Float($0) / 255 }
