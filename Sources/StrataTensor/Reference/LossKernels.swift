// The reference softmax and cross-entropy kernels (the defaults of Backend.softmax,
// Backend.crossEntropy and Backend.crossEntropyBackward).

struct SoftmaxKernel: ScalarKernel {
    let x: Tensor, axis: Int, log: Bool
    func run<T: TensorScalar>(_: T.Type) -> Tensor {
        let (outer, n, inner) = splitAround(x.shape, axis: axis)
        let y = Tensor.empty(x.shape, T.dtype)
        let xp = x.storage.typed(T.self)
        let yp = y.storage.typed(T.self)
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

/// Softmax (or log-softmax) along `axis` (``Backend/softmax(_:axis:log:)``'s default).
func referenceSoftmax(_ x: Tensor, axis: Int, log: Bool) -> Tensor {
    if x.dtype.isReducedPrecisionFloat { return x.widened { referenceSoftmax($0, axis: axis, log: log) } }
    return x.dtype.dispatch(SoftmaxKernel(x: x, axis: axis, log: log), op: log ? "logSoftmax" : "softmax")
}

/// The cross-entropy targets, [N·K] row-major: (1 − ε)·one-hot(label) + ε/K.
func crossEntropyTargets(labels: [Int], classes k: Int, labelSmoothing eps: Double) -> [Double] {
    var target = [Double](repeating: eps / Double(k), count: labels.count * k)
    for (i, label) in labels.enumerated() { target[i * k + label] += 1 - eps }
    return target
}

/// The factor a batch's summed loss is multiplied by: 1/N for the mean, 1 for the sum.
func crossEntropyScale(batch n: Int, _ reduction: LossReduction) -> Double {
    reduction == .mean ? 1 / Double(Swift.max(n, 1)) : 1
}

/// −Σ target·log p over log-probabilities `logProbabilities` [N, K], reduced, as a scalar of
/// their dtype (accumulated in Double on the host).
func referenceCrossEntropyLoss(
    _ logProbabilities: Tensor, labels: [Int], labelSmoothing: Double,
    reduction: LossReduction
) -> Tensor {
    let (n, k) = (logProbabilities.shape[0], logProbabilities.shape[1])
    let lp = logProbabilities.doubles
    let target = crossEntropyTargets(labels: labels, classes: k, labelSmoothing: labelSmoothing)
    var total = 0.0
    for i in 0..<n {
        for j in 0..<k { total -= target[i * k + j] * lp[i * k + j] }
    }
    return Tensor(scalar: total * crossEntropyScale(batch: n, reduction), dtype: logProbabilities.dtype)
}
