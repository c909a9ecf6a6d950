import StrataTensor
import StrataTestSupport
import Testing

/// softmax, logSoftmax and crossEntropy (Ops/Loss.swift). PyTorch values: FixtureTests.
@Suite("Softmax and cross-entropy")
struct LossTests {
    static let softmaxCases: [([Int], Int)] = [
        ([3, 5], 1), ([4, 3], 0), ([2, 3, 4], -1), ([2, 4, 2, 3], 1), ([1, 6], 1), ([5], 0),
    ]

    @Test("softmax and logSoftmax gradients", arguments: softmaxCases)
    func softmaxGrad(_ c: ([Int], Int)) {
        let x = randomTensor(c.0, seed: 90, std: 2)
        checkGradients([x], "softmax \(c)") { $0[0].softmax(axis: c.1) }
        checkGradients([x], "logSoftmax \(c)") { $0[0].logSoftmax(axis: c.1) }
    }

    @Test("softmax values: sums to one, shift invariant, stable for large logits")
    func softmaxValues() {
        let x = Tensor([1.0, 2, 3, 1000, 1001, 1002], shape: [2, 3])
        let y = x.softmax(axis: 1)
        let e = [1.0, Double.exp(1), Double.exp(2)]
        let z = e.reduce(0, +)
        expectClose(y, e.map { $0 / z } + e.map { $0 / z }, shape: [2, 3], tolerance: 1e-15, "softmax")
        let ly = x.logSoftmax(axis: 1)
        // Near 1000 one ulp is 1.1e-13: x − logsumexp(x) keeps about 13 digits of the result.
        expectClose(
            ly, e.map { Double.log($0 / z) } + e.map { Double.log($0 / z) }, shape: [2, 3], tolerance: 1e-13,
            "logSoftmax")
        let col = x.softmax(axis: 0).doubles
        expectClose(col, [0, 0, 0, 1, 1, 1], tolerance: 1e-15, "softmax over axis 0 of far-apart rows")
        #expect(x.logSoftmax(axis: 0).doubles.allSatisfy { $0.isFinite })
    }

    static let ceCases: [(n: Int, k: Int, smoothing: Double, reduction: LossReduction)] = [
        (4, 5, 0, .mean), (4, 5, 0, .sum), (3, 7, 0.1, .mean), (3, 7, 0.1, .sum), (1, 3, 0, .mean), (1, 3, 0.1, .sum),
        (5, 2, 0.1, .mean),
    ]

    @Test("crossEntropy gradients", arguments: ceCases)
    func crossEntropyGrad(_ c: (n: Int, k: Int, smoothing: Double, reduction: LossReduction)) {
        let logits = randomTensor([c.n, c.k], seed: 91, std: 2)
        let labels = (0..<c.n).map { ($0 * 3 + 1) % c.k }
        checkGradients([logits], "crossEntropy \(c)") {
            crossEntropy($0[0], labels: labels, labelSmoothing: c.smoothing, reduction: c.reduction)
        }
    }

    @Test("crossEntropy equals the smoothed negative log-likelihood")
    func crossEntropyValues() {
        let logits = Tensor([2.0, 0, -1, 0.5, 0.5, 3], shape: [2, 3])
        let labels = [0, 2]
        let lp = logits.logSoftmax(axis: 1).doubles
        let nll = -(lp[0] + lp[5])
        expectClose(crossEntropy(logits, labels: labels).item(), nll / 2, tolerance: 1e-15, "mean")
        expectClose(crossEntropy(logits, labels: labels, reduction: .sum).item(), nll, tolerance: 1e-15, "sum")
        // ε = 0.1: target (1 − ε)·one-hot + ε/K.
        let eps = 0.1
        var smoothed = 0.0
        for i in 0..<2 { for j in 0..<3 { smoothed -= ((j == labels[i] ? 1 - eps : 0) + eps / 3) * lp[i * 3 + j] } }
        expectClose(
            crossEntropy(logits, labels: labels, labelSmoothing: eps, reduction: .sum).item(), smoothed,
            tolerance: 1e-14, "smoothed")
        // Uniform logits: log K.
        expectClose(
            crossEntropy(Tensor.zeros([3, 4], dtype: .float64), labels: [0, 1, 3]).item(), Double.log(4),
            tolerance: 1e-15, "log K")
        #expect(crossEntropy(logits.to(.float32), labels: labels).dtype == .float32)
    }

    @Test("crossEntropy gradient is (softmax − target)/N")
    func crossEntropyGradValues() {
        let logits = Tensor([2.0, 0, -1, 0.5, 0.5, 3], shape: [2, 3]).requiringGrad()
        crossEntropy(logits, labels: [1, 0]).backward()
        var expected = logits.softmax(axis: 1).detached().doubles
        expected[1] -= 1
        expected[3] -= 1
        expectClose(logits.grad!, expected.map { $0 / 2 }, shape: [2, 3], tolerance: 1e-15, "grad")
    }

    @Test("correctCount counts labels among the top k")
    func correctCount() {
        let logits = Tensor([0.1, 0.7, 0.2, 0.5, 0.3, 0.2, 0.3, 0.3, 0.4], shape: [3, 3])
        #expect(StrataTensor.correctCount(logits, labels: [1, 1, 2]) == 2)
        #expect(StrataTensor.correctCount(logits, labels: [2, 1, 0], k: 2) == 3)
        #expect(StrataTensor.correctCount(logits, labels: [0, 2, 1], k: 1) == 0)
    }
}
