import StrataData
import StrataNN
import StrataTensor

/// Loss, top-1 and top-5 accuracy, per-class accuracy and the confusion matrix of a model on a dataset.
public struct EvaluationResult: Sendable {
    public var loss: Double
    public var top1: Double
    public var top5: Double
    /// confusion[true][predicted]
    public var confusion: [[Int]]
    public var perClassAccuracy: [Double] {
        confusion.enumerated().map { i, row in
            let n = row.reduce(0, +)
            return n == 0 ? 0 : Double(row[i]) / Double(n)
        }
    }
}

/// Runs `model` in eval mode over `dataset` without recording gradients.
public func evaluate(_ model: Module, on dataset: any Dataset, batchSize: Int = 256) -> EvaluationResult {
    let wasTraining = model.training
    model.eval()
    defer { model.train(wasTraining) }
    let k = dataset.classNames.count
    var confusion = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
    var lossSum = 0.0, top1 = 0, top5 = 0
    withNoGrad {
        for batch in BatchLoader(dataset, batchSize: batchSize) {
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
