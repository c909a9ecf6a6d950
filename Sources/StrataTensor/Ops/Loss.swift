// Softmax, log-softmax and cross-entropy over integer labels. The kernels are the backend's
// softmax, crossEntropy and crossEntropyBackward (reference: Reference/LossKernels.swift).

extension Tensor {
    /// Softmax along `axis`. Backward: ∂x = y·(∂y − Σ ∂y·y); saved: the output.
    public func softmax(axis: Int = -1) -> Tensor {
        let a = normalizeAxis(axis, rank: rank, op: "softmax")
        let y = Backends.current.softmax(self, axis: a, log: false)
        let saved = y.detached() // not y: the closure lives in y.gradFn (a retain cycle)
        return record("softmax", y, inputs: [self]) { g in [saved * (g - (g * saved).sum(axis: a, keepDims: true))] }
    }

    /// Log-softmax along `axis`. Backward: ∂x = ∂y − softmax·Σ ∂y; saved: the output.
    public func logSoftmax(axis: Int = -1) -> Tensor {
        let a = normalizeAxis(axis, rank: rank, op: "logSoftmax")
        let y = Backends.current.softmax(self, axis: a, log: true)
        let saved = y.detached() // not y: the closure lives in y.gradFn (a retain cycle)
        return record("logSoftmax", y, inputs: [self]) { g in [g - saved.exp() * g.sum(axis: a, keepDims: true)] }
    }
}

/// How a per-example loss is reduced over the batch.
public enum LossReduction: String, Sendable, CaseIterable {
    case mean, sum
}

/// Cross-entropy of `logits` [N, K] against integer `labels` (N values in 0..<K), as
/// `torch.nn.functional.cross_entropy`, with optional label smoothing ε: the target is
/// (1 − ε)·one-hot + ε/K.
///
/// Fused: the backward is (softmax − target)/N (or without /N for `.sum`); saved: the log-softmax.
public func crossEntropy(_ logits: Tensor, labels: [Int], labelSmoothing: Double = 0, reduction: LossReduction = .mean)
    -> Tensor
{
    shapeCheck(
        logits.rank == 2 && logits.shape[0] == labels.count, "crossEntropy",
        got: "logits \(logits.shape), \(labels.count) labels", expected: "logits [N, K] and N labels")
    let k = logits.shape[1]
    shapeCheck(
        labels.allSatisfy { $0 >= 0 && $0 < k }, "crossEntropy",
        got: "labels \(labels.filter { $0 < 0 || $0 >= k }.prefix(5))", expected: "labels in 0..<\(k)")
    shapeCheck(
        labelSmoothing >= 0 && labelSmoothing <= 1, "crossEntropy", got: "label smoothing \(labelSmoothing)",
        expected: "0...1")
    let (loss, logProbabilities) = Backends.current.crossEntropy(
        logits, labels: labels, labelSmoothing: labelSmoothing,
        reduction: reduction)
    return Tensor.record("crossEntropy", loss, inputs: [logits]) { g in
        [
            Backends.current.crossEntropyBackward(
                g, logProbabilities: logProbabilities, labels: labels,
                labelSmoothing: labelSmoothing, reduction: reduction)
        ]
    }
}

/// Top-k accuracy helpers: the number of rows of `logits` [N, K] whose label is among the k largest.
public func correctCount(_ logits: Tensor, labels: [Int], k: Int = 1) -> Int {
    shapeCheck(
        logits.rank == 2 && logits.shape[0] == labels.count, "correctCount", got: "\(logits.shape)",
        expected: "[\(labels.count), K]")
    let v = logits.doubles
    let classes = logits.shape[1]
    var correct = 0
    for i in 0..<labels.count {
        let target = v[i * classes + labels[i]]
        var above = 0
        for j in 0..<classes where v[i * classes + j] > target || (v[i * classes + j] == target && j < labels[i]) {
            above += 1
        }
        if above < k { correct += 1 }
    }
    return correct
}
