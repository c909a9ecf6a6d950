import Foundation
import StrataImage
import StrataModels
import StrataNN
import StrataTensor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A problem setting up or running an ``ImageClassifier`` (bad weights, bad options).
public struct ClassifierError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A zoo model with trained weights, classifying image files: what `strata classify` runs.
///
/// ```swift
/// let classifier = try ImageClassifier(model: "resnet50", weights: "resnet50.safetensors")
/// for p in try classifier.classify(paths: ["cat.jpg"], top: 5)[0] {
///     print(p.probability, p.name)
/// }
/// ```
///
/// Images go through torchvision's evaluation preprocessing (`ImageTransforms`): the shorter
/// side resized to ``resize``, a center crop of ``crop``, scaled to [0, 1] and normalized.
///
/// A checkpoint can describe itself in its safetensors `__metadata__` (all values are strings):
/// - `class_names`: a JSON array of the class names, in output order (also gives the class count);
/// - `mean`, `std`: JSON arrays of the normalization the model was trained with.
public final class ImageClassifier {
    /// One ranked class for one image.
    public struct Prediction: Sendable, Equatable {
        public let index: Int
        public let name: String
        public let probability: Float
    }

    public let modelName: String
    public let model: Module
    /// Names of the outputs, in order.
    public let classNames: [String]
    /// Channels the model takes (3 = RGB, 1 = grayscale): images are converted to this.
    public let channels: Int
    /// Shorter side after resizing, and the square center crop.
    public let resize: Int, crop: Int
    public let normalization: ImageTransforms.Normalization

    /// The resize that goes with a crop by default: torchvision's 256 for 224 (crop / 0.875,
    /// rounded: 342 for 299) for ImageNet-sized inputs; for small inputs (CIFAR, MNIST, < 128)
    /// no enlargement, resize = crop.
    public static func defaultResize(forCrop crop: Int) -> Int {
        crop >= 128 ? Int((Double(crop) / 0.875).rounded()) : crop
    }

    /// Builds model `modelName` and loads `weightsPath` (safetensors) into it, strictly.
    ///
    /// - Parameters:
    ///   - modelName: a zoo model's name (`Models.entry(_:)`).
    ///   - weightsPath: a safetensors file (a Strata checkpoint or a converted PyTorch state dict),
    ///     or a run directory (its `best.safetensors`, else `last.safetensors`).
    ///   - classes: the number of outputs; default: the checkpoint's `class_names` count, else
    ///     `classNames`' count, else the model's reference count (1000 ImageNet, 10 CIFAR).
    ///   - classNames: names to use (e.g. read from a file); default: the checkpoint's
    ///     `class_names`, else ImageNet's for 1000 classes, else "class i".
    ///   - resize: the shorter side after resizing; default: ``defaultResize(forCrop:)``.
    ///   - crop: the square center crop; default: the model's input size.
    ///   - normalization: default: the checkpoint's `mean`/`std`, else ImageNet's for RGB
    ///     models and MNIST's (0.1307, 0.3081) for grayscale ones.
    public init(
        model modelName: String, weights weightsPath: String, classes: Int? = nil, classNames: [String]? = nil,
        resize: Int? = nil, crop: Int? = nil, normalization: ImageTransforms.Normalization? = nil
    ) throws {
        let entry = try Models.entry(modelName)
        // A run directory stands for its best checkpoint (else its last).
        var weightsPath = weightsPath
        if let inRun = ["best.safetensors", "last.safetensors"].map({ weightsPath + "/" + $0 }).first(where: {
            access($0, F_OK) == 0
        }) {
            weightsPath = inRun
        }
        let file = try SafeTensorsFile(path: weightsPath)
        do { try Checkpoint.verifyChecksums(file, file: weightsPath) } catch { throw ClassifierError("\(error)") }
        let metaNames = try Self.jsonStrings(file.metadata["class_names"], key: "class_names", path: weightsPath)
        let n = classes ?? metaNames?.count ?? classNames?.count ?? entry.classes
        guard n > 0 else { throw ClassifierError("the number of classes must be positive, got \(n)") }

        let names: [String]
        if let given = classNames ?? metaNames {
            guard given.count == n else {
                throw ClassifierError(
                    "\(given.count) class names (\(classNames != nil ? "given" : "in \(weightsPath)'s metadata")) for a model with \(n) classes"
                )
            }
            names = given
        } else if n == imageNetClassNames.count {
            names = imageNetClassNames
        } else {
            names = (0..<n).map { "class \($0)" }
        }

        let channels = entry.input[0]
        let size = entry.input[1]
        let crop = crop ?? size
        do { try entry.checkInput([channels, crop, crop]) } catch { throw ClassifierError("crop \(crop): \(error)") }
        let resize = resize ?? Self.defaultResize(forCrop: crop)
        guard resize > 0 else { throw ClassifierError("resize must be positive, got \(resize)") }

        var norm = normalization
        if norm == nil, let mean = try Self.jsonNumbers(file.metadata["mean"], key: "mean", path: weightsPath),
            let std = try Self.jsonNumbers(file.metadata["std"], key: "std", path: weightsPath)
        {
            guard mean.count == std.count, mean.count == 1 || mean.count == channels, std.allSatisfy({ $0 != 0 }) else {
                throw ClassifierError(
                    "\(weightsPath): metadata mean \(mean) / std \(std) do not fit a \(channels)-channel model")
            }
            norm = .init(mean: mean, std: std)
        }
        let normalization = norm ?? (channels == 3 ? .imageNet : .init(mean: [0.1307], std: [0.3081]))
        guard normalization.mean.count == 1 || normalization.mean.count == channels else {
            throw ClassifierError(
                "normalization has \(normalization.mean.count) values for a \(channels)-channel model")
        }

        // A training checkpoint (last.safetensors) also holds optimizer state under "optimizer/".
        let tensors = try file.tensors().filter { !$0.key.hasPrefix("optimizer/") }
        let model = try Init.withoutInitialization {
            try Models.make(entry.name, classes: n, forWeightKeys: tensors.keys)
        }
        do {
            try model.loadStateDict(tensors)
        } catch let error as StateDictError {
            var hint = ""
            if !error.shapeMismatches.isEmpty && classes == nil {
                hint = "\n(built with \(n) classes; if the checkpoint has a different number, pass --classes)"
            }
            throw ClassifierError("\(weightsPath) does not fit \(entry.name) with \(n) classes:\n\(error)\(hint)")
        }
        model.eval()

        self.modelName = entry.name
        self.model = model
        self.classNames = names
        self.channels = channels
        self.resize = resize
        self.crop = crop
        self.normalization = normalization
    }

    /// Decodes and preprocesses one image file to the model's input (an image `crop × crop`).
    public func preprocess(path: String) throws -> Image {
        let image = try ImageDecoder.decode(path: path, channels: channels)
        return ImageTransforms.resizeShorterSideAndCenterCrop(image, resize: resize, crop: crop)
    }

    /// Class probabilities (softmax of the logits) for preprocessed images, one row per image.
    public func probabilities(_ images: [Image]) -> [[Float]] {
        guard !images.isEmpty else { return [] }
        let x = ImageTransforms.toTensor(images, normalizedWith: normalization)
        let p = withNoGrad { model(x).softmax(axis: 1) }.floats
        let k = classNames.count
        return (0..<images.count).map { Array(p[$0 * k..<($0 + 1) * k]) }
    }

    /// The `top` most probable classes, most probable first (ties: lower index first).
    public func topK(_ probabilities: [Float], _ top: Int) -> [Prediction] {
        let order = probabilities.indices.sorted {
            probabilities[$0] > probabilities[$1] || (probabilities[$0] == probabilities[$1] && $0 < $1)
        }
        return order.prefix(max(top, 0)).map {
            Prediction(index: $0, name: classNames[$0], probability: probabilities[$0])
        }
    }

    /// Classifies image files, `batchSize` at a time: for each path its top `top` classes, or
    /// the error that kept it from being read.
    public func classify(paths: [String], top: Int = 5, batchSize: Int = 8) -> [Result<[Prediction], ImageError>] {
        var results = [Result<[Prediction], ImageError>?](repeating: nil, count: paths.count)
        var start = 0
        while start < paths.count {
            let batch = start..<min(start + max(batchSize, 1), paths.count)
            var images: [Image] = []
            var slots: [Int] = []
            for i in batch {
                do {
                    images.append(try preprocess(path: paths[i]))
                    slots.append(i)
                } catch let error as ImageError {
                    results[i] = .failure(error)
                } catch {
                    results[i] = .failure(ImageError(name: paths[i], kind: .corrupt, detail: "\(error)"))
                }
            }
            for (slot, p) in zip(slots, probabilities(images)) { results[slot] = .success(topK(p, top)) }
            start = batch.upperBound
        }
        return results.map { $0! }
    }

    // MARK: Metadata

    static func jsonStrings(_ text: String?, key: String, path: String) throws -> [String]? {
        guard let text else { return nil }
        guard let names = try? JSONDecoder().decode([String].self, from: Data(text.utf8)) else {
            throw ClassifierError("\(path): metadata \"\(key)\" is not a JSON array of strings")
        }
        return names
    }

    static func jsonNumbers(_ text: String?, key: String, path: String) throws -> [Float]? {
        guard let text else { return nil }
        guard let values = try? JSONDecoder().decode([Double].self, from: Data(text.utf8)), !values.isEmpty,
            values.allSatisfy(\.isFinite)
        else {
            throw ClassifierError("\(path): metadata \"\(key)\" is not a JSON array of numbers")
        }
        return values.map { Float($0) }
    }
}
