import StrataTensor

/// A labelled image dataset with random access: example `i` is a [C, H, W] image and its class.
public protocol Dataset: Sendable {
    /// Number of examples.
    var count: Int { get }
    /// [C, H, W] of every example.
    var imageShape: [Int] { get }
    /// Class names, index = label.
    var classNames: [String] { get }
    /// Writes example `index` into `pixels` (C·H·W floats, CHW order) and returns its label.
    func load(_ index: Int, into pixels: UnsafeMutableBufferPointer<Float>) -> Int
}

/// A view of some examples of another dataset (a train/validation split).
public struct Subset: Dataset {
    public let base: any Dataset
    public let indices: [Int]
    public init(_ base: any Dataset, indices: [Int]) { self.base = base; self.indices = indices }
    public var count: Int { indices.count }
    public var imageShape: [Int] { base.imageShape }
    public var classNames: [String] { base.classNames }
    public func load(_ index: Int, into pixels: UnsafeMutableBufferPointer<Float>) -> Int { base.load(indices[index], into: pixels) }
}

/// One mini-batch: images [N, C, H, W] and labels.
public struct Batch {
    public let images: Tensor
    public let labels: [Int]
}

/// Splits 0..<count into mini-batches in a seeded shuffled (or fixed) order and assembles them.
public struct BatchLoader: Sequence {
    public let dataset: any Dataset
    public let batchSize: Int
    public let order: [Int]
    /// Optional per-example augmentation applied to the CHW pixels (e.g. pad-crop-flip).
    public let augment: ((UnsafeMutableBufferPointer<Float>, inout RandomGenerator) -> Void)?
    let augmentSeed: UInt64

    /// - Parameters:
    ///   - shuffleSeed: when set, the order is a permutation drawn from this seed (an epoch's order).
    public init(_ dataset: any Dataset, batchSize: Int, shuffleSeed: UInt64? = nil, dropLast: Bool = false,
                augment: ((UnsafeMutableBufferPointer<Float>, inout RandomGenerator) -> Void)? = nil) {
        precondition(batchSize > 0, "BatchLoader: batch size must be positive")
        self.dataset = dataset
        self.batchSize = batchSize
        var order: [Int]
        if let shuffleSeed {
            var g = RandomGenerator(seed: shuffleSeed)
            order = g.permutation(dataset.count)
        } else {
            order = Array(0..<dataset.count)
        }
        if dropLast { order = Array(order.prefix(dataset.count / batchSize * batchSize)) }
        self.order = order
        self.augment = augment
        augmentSeed = (shuffleSeed ?? 0) &* 0x9E37_79B9_7F4A_7C15 &+ 1
    }

    public var batchCount: Int { (order.count + batchSize - 1) / batchSize }

    /// Assembles batch `b` (examples are loaded in parallel; augmentation is seeded per example,
    /// so the result does not depend on the thread count).
    public func batch(_ b: Int) -> Batch {
        let start = b * batchSize, end = Swift.min(order.count, start + batchSize)
        let n = end - start
        let shape = dataset.imageShape
        let per = shape.reduce(1, *)
        var pixels = [Float](repeating: 0, count: n * per)
        var labels = [Int](repeating: 0, count: n)
        pixels.withUnsafeMutableBufferPointer { buf in
            labels.withUnsafeMutableBufferPointer { lab in
                let base = buf.baseAddress!, labBase = lab.baseAddress!
                concurrentLoop(n) { i in
                    let slot = UnsafeMutableBufferPointer(start: base + i * per, count: per)
                    labBase[i] = dataset.load(order[start + i], into: slot)
                    if let augment {
                        var g = RandomGenerator(seed: augmentSeed ^ UInt64(start + i) &* 0xD1B5_4A32_D192_ED03)
                        augment(slot, &g)
                    }
                }
            }
        }
        return Batch(images: Tensor(pixels, shape: [n] + shape), labels: labels)
    }

    public func makeIterator() -> AnyIterator<Batch> {
        var b = 0
        return AnyIterator {
            guard b < batchCount else { return nil }
            defer { b += 1 }
            return batch(b)
        }
    }
}

import Dispatch
func concurrentLoop(_ n: Int, _ body: (Int) -> Void) {
    if n < 16 { for i in 0..<n { body(i) }; return }
    withoutActuallyEscaping(body) { body in DispatchQueue.concurrentPerform(iterations: n, execute: body) }
}
