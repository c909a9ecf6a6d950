import Foundation
import StrataModels

/// Weights trained with Strata and shipped with it: they load offline, from the package's resources.
///
/// ```swift
/// let w = try PretrainedWeights.named(model: "resnet20", dataset: "cifar10")
/// let classifier = try ImageClassifier(model: w.model, weights: w.path)   // or: strata classify x.png --model resnet20 --pretrained cifar10
/// ```
///
/// Each file is a Strata checkpoint (`best.safetensors` layout): torchvision-style keys, and metadata
/// with the class names and the normalization the model was trained with.
public struct PretrainedWeights: Sendable, CustomStringConvertible {
    /// Zoo model name.
    public let model: String
    /// Dataset name (as `strata train --dataset` takes it).
    public let dataset: String
    /// Top-1 accuracy on the dataset's test set, as a fraction.
    public let top1: Double
    /// How it was trained (the command, or the run directory under Benchmarks/runs).
    public let recipe: String
    /// The resource file's name.
    let file: String

    /// Every shipped set.
    public static let all: [PretrainedWeights] = [
        PretrainedWeights(
            model: "resnet20", dataset: "cifar10", top1: 0.8803,
            recipe:
                "He et al. 2016: SGD 0.1 (÷10 at 32k, 48k of 64k steps), batch 128, momentum 0.9, weight decay 1e-4, "
                + "4-pixel pad + crop + flip; the best epoch (87 of 164) on the CIFAR-10 test set, 87.80% at the end "
                + "(Benchmarks/runs/resnet20-he2015)",
            file: "resnet20-cifar10"),
        PretrainedWeights(
            model: "lenet5", dataset: "mnist", top1: 0.9920,
            recipe: "strata train --model lenet5 --dataset mnist --epochs 8 (SGD 0.05, Nesterov, cosine, batch 64, "
                + "weight decay 5e-4; digits zero-padded to 32×32); the last epoch on the MNIST test set (Benchmarks/runs/lenet5-mnist)",
            file: "lenet5-mnist"),
    ]

    /// The weights for `model` trained on `dataset`.
    /// - Throws: ``PretrainedWeightsError`` listing what is shipped when there is none.
    public static func named(model: String, dataset: String) throws -> PretrainedWeights {
        if let w = all.first(where: { $0.model == model && $0.dataset == dataset.lowercased() }) { return w }
        let shipped = all.map { "\($0.model) on \($0.dataset)" }.joined(separator: ", ")
        throw PretrainedWeightsError(
            description: "no pretrained weights for \(model) on \(dataset); Strata ships: \(shipped)")
    }

    /// The safetensors file's path.
    public var path: String {
        get throws {
            guard let url = Bundle.module.url(forResource: file, withExtension: "safetensors", subdirectory: "Weights")
            else {
                throw PretrainedWeightsError(
                    description: "the pretrained weights \(file).safetensors are missing from Strata's resources "
                        + "(\(Bundle.module.bundlePath)); rebuild the package")
            }
            return url.path
        }
    }

    public var description: String {
        "\(model) on \(dataset): \(String(format: "%.2f", top1 * 100))% top-1 — \(recipe)"
    }
}

/// No shipped weights match, or the resource is missing.
public struct PretrainedWeightsError: Error, CustomStringConvertible, Sendable {
    public let description: String
}
