import StrataTensor

/// A dataset name or folder the catalog cannot use; the message names the option and what it accepts.
public struct DatasetCatalogError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// The one place where dataset names (`strata train --dataset`) map to datasets and their
/// transforms (used by `train` and `evaluate`). To add a dataset: add its name to `all` and a case to `load`.
///
/// ```swift
/// let data = try DatasetCatalog.load("cifar10", data: "data/cifar10")
/// let trainer = Trainer(model: model, configuration: configuration)
/// trainer.trainTransform = data.trainTransform
/// ```
public enum DatasetCatalog {
    /// Every name `--dataset` accepts, with what it is.
    public static let all: [(name: String, about: String)] = [
        ("synthetic", "built in: ten classes of 32×32 grayscale shapes and textures, no files needed"),
        ("cifar10", "CIFAR-10 binary version in --data; validates on the 10k test set"),
        ("cifar10-split", "CIFAR-10, training on 45k and validating on the last 5k training images (He et al.)"),
        ("cifar100", "CIFAR-100 binary version in --data (fine labels); validates on the test set"),
        ("mnist", "MNIST IDX files (gzipped or not) in --data, padded to 32×32; validates on the 10k test set"),
        ("imagefolder", "ImageNet layout: --data/train/<class>/*.jpg|png and --data/val/<class>/…"),
    ]

    /// The datasets of one run.
    public struct Loaded {
        public let train: any Dataset
        /// What per-epoch evaluation and `strata evaluate` use.
        public let validation: any Dataset
        /// Per-example training transform (augmentation + normalization), seeded by the loader.
        public let trainTransform: ImageTransform?
        /// Per-example evaluation transform (normalization, resize + center crop).
        public let evaluationTransform: ImageTransform?
        /// Training-time augmentation beyond the transform, if any.
        public let augment: (@Sendable (UnsafeMutableBufferPointer<Float>, inout RandomGenerator) -> Void)?
        /// "12000 train, 2000 validation".
        public let description: String
    }

    /// The datasets named `name`, read from the folder `data`.
    /// - Parameters:
    ///   - name: a dataset name, as `strata train --dataset` takes it.
    ///   - data: the folder holding the dataset's files.
    ///   - inputSize: the model's input side (224 for ImageNet models, 32 for CIFAR ones):
    ///     ImageFolder crops to it.
    /// - Throws: ``DatasetCatalogError`` for an unknown name, a missing or mismatched folder; the
    ///   datasets' own errors (files missing or malformed).
    public static func load(_ name: String, data: String?, inputSize: Int = 32) throws -> Loaded {
        func folder() throws -> String {
            guard let data, !data.isEmpty else {
                throw DatasetCatalogError(description: "--dataset \(name) needs --data PATH (the dataset folder)")
            }
            return data
        }
        func describe(_ train: any Dataset, _ validation: any Dataset, _ what: String) -> String {
            "\(what): \(train.count) train, \(validation.count) validation"
        }
        switch name {
        case "synthetic":
            let train = SyntheticShapes(count: 12_000, seed: 1)
            let validation = SyntheticShapes(count: 2_000, seed: 2)
            return Loaded(
                train: train, validation: validation, trainTransform: nil, evaluationTransform: nil, augment: nil,
                description: describe(train, validation, "synthetic shapes (built in)"))
        case "cifar10", "cifar10-split":
            let path = try folder()
            var train: any Dataset = try CIFAR10(directory: path, split: .train)
            var validation: any Dataset
            if name == "cifar10-split" {
                let split = TrainValidationSplit(train, validationCount: 5_000)
                (train, validation) = (split.train, split.validation)
            } else {
                validation = try CIFAR10(directory: path, split: .test)
            }
            return Loaded(
                train: train, validation: validation, trainTransform: .cifarTraining(.cifar10),
                evaluationTransform: .normalization(.cifar10), augment: nil,
                description: describe(train, validation, "CIFAR-10 (\(path))"))
        case "cifar100":
            let path = try folder()
            let train = try CIFAR100(directory: path, split: .train)
            let validation = try CIFAR100(directory: path, split: .test)
            return Loaded(
                train: train, validation: validation, trainTransform: .cifarTraining(.cifar100),
                evaluationTransform: .normalization(.cifar100), augment: nil,
                description: describe(train, validation, "CIFAR-100 (\(path))"))
        case "mnist":
            let path = try folder()
            let train = try MNIST(directory: path, split: .train)
            let validation = try MNIST(directory: path, split: .test)
            // LeNet-5 reads 32×32: MNIST's 28×28 digits are zero-padded by 2, as in LeCun et al. 1998.
            let pad = ImageTransform([.centerCrop(size: 32), .normalize(.mnist)])
            return Loaded(
                train: train, validation: validation, trainTransform: pad, evaluationTransform: pad, augment: nil,
                description: describe(train, validation, "MNIST (\(path))"))
        case "imagefolder":
            let path = try folder()
            let train = try ImageFolder(root: path + "/train")
            let validation = try ImageFolder(root: path + "/val")
            guard train.classNames == validation.classNames else {
                throw DatasetCatalogError(description: "\(path)/train and \(path)/val have different class folders")
            }
            let resize = Int((Double(inputSize) / 0.875).rounded())
            return Loaded(
                train: train, validation: validation, trainTransform: .imageNetTraining(size: inputSize),
                evaluationTransform: .imageNetEvaluation(resize: resize, size: inputSize), augment: nil,
                description: describe(train, validation, "ImageFolder (\(path))"))
        default:
            throw DatasetCatalogError(
                description: "unknown --dataset '\(name)'; available: "
                    + all.map { "\($0.name) (\($0.about))" }.joined(separator: "; "))
        }
    }
}
