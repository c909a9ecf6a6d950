import StrataTensor
import StrataTestSupport
import Testing

/// batchNorm2d and localResponseNorm (Ops/Normalization.swift, Reference/NormalizationKernels.swift).
/// PyTorch values: FixtureTests; here: finite-difference gradients and hand-computed values.
@Suite("Normalization")
struct NormalizationTests {
    // MARK: Batch norm, worked out by hand

    /// One channel holding 1, 2, 3, 4: mean 2.5, biased variance 1.25, unbiased 5/3.
    @Test("batch norm on [1, 2, 3, 4], worked out by hand")
    func batchNormByHand() {
        let eps = 1e-5
        let x = Tensor([1.0, 2, 3, 4], shape: [1, 1, 2, 2]).requiringGrad()
        let runningMean = Tensor([0.0])
        let runningVar = Tensor([1.0])
        let y = batchNorm2d(
            x, runningMean: runningMean, runningVar: runningVar, weight: nil, bias: nil,
            training: true, momentum: 0.1, eps: eps)
        let s = 1 / (1.25 + eps).squareRoot()
        expectClose(y, [-1.5 * s, -0.5 * s, 0.5 * s, 1.5 * s], shape: [1, 1, 2, 2], tolerance: 1e-15, "y")
        // running = 0.9·running + 0.1·batch, with the unbiased variance 5/3.
        expectClose(runningMean.item(), 0.25, tolerance: 1e-15, "running mean")
        expectClose(runningVar.item(), 0.9 + 0.1 * 5.0 / 3.0, tolerance: 1e-15, "running var")

        // ∂L/∂y = [1, 0, 0, 0]. With eps = 0 and s² = 1/1.25 = 0.8:
        // ∂x_i = s·(g_i − mean(g) − x̂_i·mean(g·x̂)) = s·(g_i − 0.25 + 0.3·(x_i − 2.5))
        //      = s·[0.3, −0.4, −0.1, 0.2].
        let x0 = Tensor([1.0, 2, 3, 4], shape: [1, 1, 2, 2]).requiringGrad()
        let w = Tensor([2.0]).requiringGrad()
        let b = Tensor([0.5]).requiringGrad()
        let y0 = batchNorm2d(x0, runningMean: nil, runningVar: nil, weight: w, bias: b, training: true, eps: 0)
        let s0 = 1 / 1.25.squareRoot()
        expectClose(
            y0, [-3 * s0 + 0.5, -s0 + 0.5, s0 + 0.5, 3 * s0 + 0.5], shape: [1, 1, 2, 2], tolerance: 1e-15, "affine y")
        y0.backward(Tensor([1.0, 0, 0, 0], shape: [1, 1, 2, 2]))
        // γ = 2 scales ∂x; ∂γ = Σ g·x̂ = x̂_0 = −1.5·s; ∂β = Σ g = 1.
        expectClose(x0.grad!, [0.6 * s0, -0.8 * s0, -0.2 * s0, 0.4 * s0], shape: [1, 1, 2, 2], tolerance: 1e-15, "∂x")
        expectClose(w.grad!.item(), -1.5 * s0, tolerance: 1e-15, "∂γ")
        expectClose(b.grad!.item(), 1, tolerance: 0, "∂β")
    }

    @Test("batch norm: the same values spread over batch and space")
    func batchNormLayouts() {
        // [1, 2, 3, 4] as 4 images of 1×1, and as 2 images of 1×2: identical statistics.
        for shape in [[4, 1, 1, 1], [2, 1, 1, 2], [4, 1]] {
            let rv = Tensor([1.0])
            let rm = Tensor([0.0])
            let y = batchNorm2d(
                Tensor([1.0, 2, 3, 4], shape: shape), runningMean: rm, runningVar: rv,
                weight: nil, bias: nil, training: true, momentum: 0.5, eps: 0)
            let s = 1 / 1.25.squareRoot()
            expectClose(y, [-1.5 * s, -0.5 * s, 0.5 * s, 1.5 * s], shape: shape, tolerance: 1e-15, "\(shape)")
            expectClose(rm.item(), 1.25, tolerance: 1e-15, "running mean \(shape)")
            expectClose(rv.item(), 0.5 + 0.5 * 5.0 / 3.0, tolerance: 1e-15, "running var \(shape)")
        }
    }

    @Test("batch norm eval uses the running statistics and leaves them alone")
    func batchNormEval() {
        let x = Tensor([1.0, 2, 3, 4, 10, 20, 30, 40], shape: [1, 2, 2, 2])
        let rm = Tensor([1.0, 10])
        let rv = Tensor([4.0, 100])
        let w = Tensor([1.0, 3])
        let b = Tensor([0.0, -1])
        let y = batchNorm2d(x, runningMean: rm, runningVar: rv, weight: w, bias: b, training: false, eps: 0)
        expectClose(y, [0, 0.5, 1, 1.5, -1, 2, 5, 8], shape: [1, 2, 2, 2], tolerance: 1e-15, "eval y")
        #expect(rm.doubles == [1, 10])
        #expect(rv.doubles == [4, 100])
    }

    @Test("batch norm: two training steps compound the running statistics")
    func batchNormRunningTwice() {
        let rm = Tensor([0.0])
        let rv = Tensor([1.0])
        let x = Tensor([1.0, 2, 3, 4], shape: [4, 1])
        for _ in 0..<2 {
            _ = batchNorm2d(x, runningMean: rm, runningVar: rv, weight: nil, bias: nil, training: true, momentum: 0.1)
        }
        expectClose(rm.item(), 0.9 * 0.25 + 0.1 * 2.5, tolerance: 1e-15, "running mean after 2 steps")
        let v1 = 0.9 + 0.1 * 5.0 / 3.0
        expectClose(rv.item(), 0.9 * v1 + 0.1 * 5.0 / 3.0, tolerance: 1e-12, "running var after 2 steps")
    }

    // MARK: Batch norm gradients

    struct BNCase: Sendable, CustomTestStringConvertible {
        var name: String
        var shape: [Int]
        var training: Bool
        var weight: Bool
        var bias: Bool
        var testDescription: String { name }
    }

    static let bnCases: [BNCase] = [
        BNCase(name: "training, affine, 2x3x3x3", shape: [2, 3, 3, 3], training: true, weight: true, bias: true),
        BNCase(name: "training, no affine, 3x2x2x3", shape: [3, 2, 2, 3], training: true, weight: false, bias: false),
        BNCase(
            name: "training, weight only, batch 1, 1x3x3x5", shape: [1, 3, 3, 5], training: true, weight: true,
            bias: false),
        BNCase(name: "training, bias only, 4x2x1x1", shape: [4, 2, 1, 1], training: true, weight: false, bias: true),
        BNCase(name: "training, affine, [N, C] input 5x3", shape: [5, 3], training: true, weight: true, bias: true),
        BNCase(name: "eval, affine, 2x3x3x3", shape: [2, 3, 3, 3], training: false, weight: true, bias: true),
        BNCase(name: "eval, no affine, 1x2x3x3", shape: [1, 2, 3, 3], training: false, weight: false, bias: false),
    ]

    @Test("batch norm gradients through the batch statistics", arguments: bnCases)
    func batchNormGrad(_ c: BNCase) {
        let channels = c.shape[1]
        // Per-channel scale and shift, so channels differ in statistics.
        let x = randomTensor(c.shape, seed: 80) * 1.5 + 0.3
        var inputs = [x]
        if c.weight { inputs.append(uniformTensor([channels], seed: 81, low: 0.5, high: 1.5)) }
        if c.bias { inputs.append(randomTensor([channels], seed: 82)) }
        let runningMean = uniformTensor([channels], seed: 83, low: -0.5, high: 0.5)
        let runningVar = uniformTensor([channels], seed: 84, low: 0.5, high: 2)
        checkGradients(inputs, c.name) { t in
            let w = c.weight ? t[1] : nil
            let b = c.bias ? t[c.weight ? 2 : 1] : nil
            // Fresh running statistics each call: training updates them in place.
            return batchNorm2d(
                t[0], runningMean: runningMean.copy(), runningVar: runningVar.copy(),
                weight: w, bias: b, training: c.training, momentum: 0.1, eps: 1e-3)
        }
    }

    @Test("batch norm output is normalized per channel in training")
    func batchNormMoments() {
        let x = randomTensor([3, 4, 5, 5], seed: 85) * 3 + 2
        let y = batchNorm2d(x, runningMean: nil, runningVar: nil, weight: nil, bias: nil, training: true, eps: 0)
        let mean = y.mean(axes: [0, 2, 3]).doubles
        let variance = y.squared().mean(axes: [0, 2, 3]).doubles
        expectClose(mean, [0, 0, 0, 0], tolerance: 1e-14, "channel means")
        expectClose(variance, [1, 1, 1, 1], tolerance: 1e-13, "channel variances")
    }

    // MARK: Local response norm

    static let lrnCases: [(size: Int, alpha: Double, beta: Double, k: Double, channels: Int)] = [
        (5, 0.5, 0.75, 2, 7), (4, 0.3, 0.75, 1, 6), (3, 0.5, 0.5, 1, 4), (2, 0.2, 0.75, 1, 3), (1, 0.4, 1.2, 1.5, 3),
        (7, 1.0, 0.75, 1, 3),
    ]

    @Test("local response norm gradients", arguments: lrnCases)
    func lrnGrad(_ c: (size: Int, alpha: Double, beta: Double, k: Double, channels: Int)) {
        let x = randomTensor([2, c.channels, 2, 3], seed: 86, std: 1.5)
        checkGradients([x], "LRN \(c)") { localResponseNorm($0[0], size: c.size, alpha: c.alpha, beta: c.beta, k: c.k) }
    }

    @Test("local response norm values worked out by hand")
    func lrnByHand() {
        // Channels 1, 2, 3 at one pixel; size 3, α = 3, β = 1, k = 1:
        // scale_c = 1 + (α/3)·Σ x² over channels c−1…c+1.
        let x = Tensor([1.0, 2, 3], shape: [1, 3, 1, 1])
        let y = localResponseNorm(x, size: 3, alpha: 3, beta: 1, k: 1)
        expectClose(
            y, [1 / (1 + 1 + 4), 2 / (1 + 1 + 4 + 9), 3 / (1 + 4 + 9)], shape: [1, 3, 1, 1], tolerance: 1e-15, "size 3")
        // Even size 2: the window is [c − 1, c].
        let y2 = localResponseNorm(x, size: 2, alpha: 2, beta: 1, k: 1)
        expectClose(
            y2, [1 / (1 + 1), 2 / (1 + 1 + 4), 3 / (1 + 4 + 9)], shape: [1, 3, 1, 1], tolerance: 1e-15, "size 2")
    }
}
