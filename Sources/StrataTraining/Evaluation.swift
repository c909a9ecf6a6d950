import StrataData
import StrataNN
import StrataTensor

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// Loss, top-1 and top-5 accuracy, per-class accuracy and the confusion matrix of a model on a dataset.
public struct EvaluationResult: Sendable, Equatable {
    /// Mean cross-entropy (no label smoothing).
    public var loss: Double
    public var top1: Double
    /// Top-5 accuracy (top-k with k = the class count when there are fewer than 5 classes).
    public var top5: Double
    /// confusion[true][predicted]
    public var confusion: [[Int]]

    public init(loss: Double, top1: Double, top5: Double, confusion: [[Int]]) {
        (self.loss, self.top1, self.top5, self.confusion) = (loss, top1, top5, confusion)
    }

    /// Examples evaluated.
    public var count: Int { confusion.reduce(0) { $0 + $1.reduce(0, +) } }

    /// Per class: the share of its examples predicted correctly (0 for a class with no examples).
    public var perClassAccuracy: [Double] {
        confusion.enumerated().map { i, row in
            let n = row.reduce(0, +)
            return n == 0 ? 0 : Double(row[i]) / Double(n)
        }
    }

    /// Per class: how many examples it has.
    public var perClassCount: [Int] { confusion.map { $0.reduce(0, +) } }

    /// A plain-text report: loss, top-1, top-5 and a per-class table.
    public func formatted(classNames: [String]) -> String {
        var lines = [
            "examples  \(count)",
            "loss      \(fixed(loss, 4))",
            "top-1     \(fixed(top1 * 100, 2))%",
            "top-5     \(fixed(top5 * 100, 2))%",
            "",
            "per-class accuracy:",
        ]
        let names = confusion.indices.map { $0 < classNames.count ? classNames[$0] : "class \($0)" }
        let width = names.map(\.count).max() ?? 5
        for (i, name) in names.enumerated() {
            let pad = String(repeating: " ", count: Swift.max(0, width - name.count))
            lines.append(
                "  \(name)\(pad)  \(fixed(perClassAccuracy[i] * 100, 2).leftPadded(toWidth: 6))%  (\(confusion[i][i])/\(perClassCount[i]))"
            )
        }
        return lines.joined(separator: "\n")
    }
}

/// Test-time augmentation for ``evaluate(_:on:batchSize:transform:augmentation:)``.
public enum TestTimeAugmentation: String, Sendable, CaseIterable {
    /// Each image as given.
    case none
    /// The mean of the softmax probabilities of each image and its left-right mirror image
    /// (the flip that CIFAR/ImageNet training augments with); costs a second forward pass.
    case flip
}

/// Runs `model` in eval mode over `dataset` without recording gradients.
/// - Parameters:
///   - model: the network; left in eval mode.
///   - dataset: the examples to evaluate.
///   - batchSize: images per forward pass.
///   - transform: applied to every example (normalization, resize + center crop).
///   - augmentation: with ``TestTimeAugmentation/flip``, predictions (and the loss, the cross-entropy
///     of the averaged probabilities) come from the mean of the image's and its mirror image's softmax.
public func evaluate(
    _ model: Module, on dataset: any Dataset, batchSize: Int = 256, transform: ImageTransform? = nil,
    augmentation: TestTimeAugmentation = .none
) -> EvaluationResult {
    let wasTraining = model.training
    model.eval()
    defer { model.train(wasTraining) }
    let k = dataset.classNames.count
    var confusion = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
    var lossSum = 0.0
    var top1 = 0
    var top5 = 0
    withNoGrad {
        for batch in BatchLoader(dataset, batchSize: batchSize, transform: transform).prefetching(workers: 1, depth: 2)
        {
            // scores: logits, or averaged probabilities under flip TTA; both rank classes the same way.
            let scores: Tensor
            switch augmentation {
            case .none:
                scores = model(batch.images)
                lossSum += crossEntropy(scores, labels: batch.labels, reduction: .sum).item()
            case .flip:
                let p =
                    (model(batch.images).softmax(axis: 1) + model(mirroredLeftRight(batch.images)).softmax(axis: 1))
                    * 0.5
                let probabilities = p.doubles
                for (i, label) in batch.labels.enumerated() {
                    lossSum -= log(Swift.max(probabilities[i * k + label], 1e-300))
                }
                scores = p
            }
            top1 += correctCount(scores, labels: batch.labels, k: 1)
            top5 += correctCount(scores, labels: batch.labels, k: Swift.min(5, k))
            for (label, predicted) in zip(batch.labels, scores.argmax(axis: 1)) { confusion[label][predicted] += 1 }
        }
    }
    let n = Double(Swift.max(dataset.count, 1))
    return EvaluationResult(loss: lossSum / n, top1: Double(top1) / n, top5: Double(top5) / n, confusion: confusion)
}

/// A batch of images [N, C, H, W] mirrored left-right (the last axis reversed).
public func mirroredLeftRight(_ images: Tensor) -> Tensor {
    precondition(images.rank == 4, "mirroredLeftRight: expected [N, C, H, W], got \(images.shape)")
    let w = images.shape[3]
    func mirror<T: TensorScalar>(_ values: [T]) -> Tensor {
        var v = values
        for row in stride(from: 0, to: v.count, by: w) { v[row..<(row + w)].reverse() }
        return Tensor(v, shape: images.shape)
    }
    return images.dtype == .float64 ? mirror(images.doubles) : mirror(images.floats)
}

/// `v` with `digits` decimals ("0.1235"), without Foundation.
func fixed(_ v: Double, _ digits: Int) -> String {
    guard v.isFinite else { return "\(v)" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let r = (Swift.abs(v) * scale).rounded()
    guard r < 9e18 else { return "\(v)" }
    let n = Int(r)
    let s = String(n)
    let sign = v < 0 && n != 0 ? "-" : ""
    if digits == 0 { return sign + s }
    let padded = String(repeating: "0", count: Swift.max(0, digits + 1 - s.count)) + s
    return sign + padded.dropLast(digits) + "." + padded.suffix(digits)
}
