// Softmax, log-softmax and cross-entropy over integer labels.

struct SoftmaxKernel: ScalarKernel {
    let x: Tensor, axis: Int, log: Bool
    func run<T: TensorScalar>(_: T.Type) -> Tensor {
        let (outer, n, inner) = splitAround(x.shape, axis: axis)
        let y = Tensor.empty(x.shape, T.dtype)
        let xp = x.storage.typed(T.self), yp = y.storage.typed(T.self)
        for o in 0..<outer {
            for j in 0..<inner {
                let base = o * n * inner + j
                var m = -T.infinity
                for k in 0..<n { m = Swift.max(m, xp[base + k * inner]) }
                var s: T = 0
                for k in 0..<n { s += T.exp(xp[base + k * inner] - m) }
                if log {
                    let lse = m + T.log(s)
                    for k in 0..<n { yp[base + k * inner] = xp[base + k * inner] - lse }
                } else {
                    for k in 0..<n { yp[base + k * inner] = T.exp(xp[base + k * inner] - m) / s }
                }
            }
        }
        return y
    }
}

extension Tensor {
    /// Softmax along `axis`. Backward: ∂x = y·(∂y − Σ ∂y·y); saved: the output.
    public func softmax(axis: Int = -1) -> Tensor {
        let a = normalizeAxis(axis, rank: rank, op: "softmax")
        let y = dtype.dispatch(SoftmaxKernel(x: self, axis: a, log: false))
        let saved = y.detached()   // not y: the closure lives in y.gradFn (a retain cycle)
        return record("softmax", y, inputs: [self]) { g in [saved * (g - (g * saved).sum(axis: a, keepDims: true))] }
    }

    /// Log-softmax along `axis`. Backward: ∂x = ∂y − softmax·Σ ∂y; saved: the output.
    public func logSoftmax(axis: Int = -1) -> Tensor {
        let a = normalizeAxis(axis, rank: rank, op: "logSoftmax")
        let y = dtype.dispatch(SoftmaxKernel(x: self, axis: a, log: true))
        let saved = y.detached()   // not y: the closure lives in y.gradFn (a retain cycle)
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
/// Fused: the backward is (softmax − target)/N (or without /N for `.sum`); saved: the softmax.
public func crossEntropy(_ logits: Tensor, labels: [Int], labelSmoothing: Double = 0, reduction: LossReduction = .mean) -> Tensor {
    shapeCheck(logits.rank == 2 && logits.shape[0] == labels.count, "crossEntropy",
               got: "logits \(logits.shape), \(labels.count) labels", expected: "logits [N, K] and N labels")
    let (n, k) = (logits.shape[0], logits.shape[1])
    shapeCheck(labels.allSatisfy { $0 >= 0 && $0 < k }, "crossEntropy",
               got: "labels \(labels.filter { $0 < 0 || $0 >= k }.prefix(5))", expected: "labels in 0..<\(k)")
    shapeCheck(labelSmoothing >= 0 && labelSmoothing <= 1, "crossEntropy", got: "label smoothing \(labelSmoothing)", expected: "0...1")
    let logp = withNoGrad { logits.logSoftmax(axis: 1) }
    let lp = logp.doubles
    let eps = labelSmoothing
    var total = 0.0
    var target = [Double](repeating: eps / Double(k), count: n * k)
    for i in 0..<n {
        target[i * k + labels[i]] += 1 - eps
        for j in 0..<k { total -= target[i * k + j] * lp[i * k + j] }
    }
    let scale = reduction == .mean ? 1 / Double(Swift.max(n, 1)) : 1
    let loss = Tensor(scalar: total * scale, dtype: logits.dtype)
    return Tensor.record("crossEntropy", loss, inputs: [logits]) { g in
        let targetT = Tensor(target, shape: [n, k]).to(logits.dtype)
        return [(logp.exp() - targetT) * (g * scale)]
    }
}

/// Top-k accuracy helpers: the number of rows of `logits` [N, K] whose label is among the k largest.
public func correctCount(_ logits: Tensor, labels: [Int], k: Int = 1) -> Int {
    shapeCheck(logits.rank == 2 && logits.shape[0] == labels.count, "correctCount", got: "\(logits.shape)", expected: "[\(labels.count), K]")
    let v = logits.doubles, classes = logits.shape[1]
    var correct = 0
    for i in 0..<labels.count {
        let target = v[i * classes + labels[i]]
        var above = 0
        for j in 0..<classes where v[i * classes + j] > target || (v[i * classes + j] == target && j < labels[i]) { above += 1 }
        if above < k { correct += 1 }
    }
    return correct
}
