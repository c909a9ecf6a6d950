import ArgumentParser
import Strata

/// The one place where `--dataset` names map to datasets (used by `train` and `evaluate`).
/// To add a dataset: add its name to `all` and a case to `load`.
enum DatasetCatalog {
    /// Every name `--dataset` accepts, with what it is.
    static let all: [(name: String, about: String)] = [
        ("synthetic", "built in: ten classes of 32×32 grayscale shapes and textures, no files needed"),
    ]
    /// Names other engineers are bringing (reported as "not available yet", not as unknown).
    static let planned = ["cifar10", "cifar100", "mnist", "imagefolder"]

    /// The datasets of one run.
    struct Loaded {
        let train: any Dataset
        /// What per-epoch evaluation and `strata evaluate` use.
        let validation: any Dataset
        /// Training-time augmentation, if the dataset has one.
        let augment: (@Sendable (UnsafeMutableBufferPointer<Float>, inout RandomGenerator) -> Void)?
        /// "12000 train, 2000 validation".
        let description: String
    }

    static func load(_ name: String, data: String?) throws -> Loaded {
        switch name {
        case "synthetic":
            let train = SyntheticShapes(count: 12_000, seed: 1), validation = SyntheticShapes(count: 2_000, seed: 2)
            return Loaded(train: train, validation: validation, augment: nil,
                          description: "synthetic shapes (built in): \(train.count) train, \(validation.count) validation")
        default:
            if planned.contains(name) {
                throw ValidationError("--dataset \(name) is not available in this build yet; available: " + all.map(\.name).joined(separator: ", "))
            }
            throw ValidationError("unknown --dataset '\(name)'; available: " + all.map { "\($0.name) (\($0.about))" }.joined(separator: "; "))
        }
    }
}
