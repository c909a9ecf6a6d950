import StrataData
import StrataNN
import StrataTensor

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
        var lines = ["examples  \(count)",
                     "loss      \(fixed(loss, 4))",
                     "top-1     \(fixed(top1 * 100, 2))%",
                     "top-5     \(fixed(top5 * 100, 2))%",
                     "",
                     "per-class accuracy:"]
        let names = confusion.indices.map { $0 < classNames.count ? classNames[$0] : "class \($0)" }
        let width = names.map(\.count).max() ?? 5
        for (i, name) in names.enumerated() {
            let pad = String(repeating: " ", count: Swift.max(0, width - name.count))
            lines.append("  \(name)\(pad)  \(fixed(perClassAccuracy[i] * 100, 2).leftPadded(toWidth: 6))%  (\(confusion[i][i])/\(perClassCount[i]))")
        }
        return lines.joined(separator: "\n")
    }
}

/// Runs `model` in eval mode over `dataset` without recording gradients.
/// - Parameter transform: applied to every example (normalization, resize + center crop).
public func evaluate(_ model: Module, on dataset: any Dataset, batchSize: Int = 256, transform: ImageTransform? = nil) -> EvaluationResult {
    let wasTraining = model.training
    model.eval()
    defer { model.train(wasTraining) }
    let k = dataset.classNames.count
    var confusion = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
    var lossSum = 0.0, top1 = 0, top5 = 0
    withNoGrad {
        for batch in BatchLoader(dataset, batchSize: batchSize, transform: transform).prefetching(workers: 1, depth: 2) {
            let logits = model(batch.images)
            lossSum += crossEntropy(logits, labels: batch.labels, reduction: .sum).item()
            top1 += correctCount(logits, labels: batch.labels, k: 1)
            top5 += correctCount(logits, labels: batch.labels, k: Swift.min(5, k))
            for (label, predicted) in zip(batch.labels, logits.argmax(axis: 1)) { confusion[label][predicted] += 1 }
        }
    }
    let n = Double(Swift.max(dataset.count, 1))
    return EvaluationResult(loss: lossSum / n, top1: Double(top1) / n, top5: Double(top5) / n, confusion: confusion)
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

