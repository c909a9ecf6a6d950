import StrataTensor
import StrataTestSupport
import Testing

/// dropout and the option-A shortcut (Ops/Regularization.swift).
@Suite("Dropout and option-A shortcut")
struct RegularizationTests {
    @Test("dropout with a fixed mask: gradient equals the mask", arguments: [0.1, 0.5, 0.8])
    func dropoutGrad(_ p: Double) {
        let x = awayFromZeroTensor([3, 4, 5], seed: 100, margin: 0.5)
        // The generator is made inside the op's closure: every call draws the same mask.
        checkGradients([x], "dropout p \(p)") { t in
            var g = RandomGenerator(seed: 7)
            return dropout(t[0], p: p, training: true, generator: &g)
        }
        var g = RandomGenerator(seed: 7)
        let leaf = x.copy().requiringGrad()
        let y = dropout(leaf, p: p, training: true, generator: &g)
        y.sum().backward()
        let mask = leaf.grad!.doubles
        #expect(mask.allSatisfy { $0 == 0 || Swift.abs($0 - 1 / (1 - p)) < 1e-12 }, "mask values are 0 or 1/(1 − p)")
        // y = x ⊙ mask.
        expectClose(y.doubles, zip(x.doubles, mask).map { $0 * $1 }, tolerance: 1e-15, "y = x ⊙ mask")
        // Same seed, same mask.
        var g2 = RandomGenerator(seed: 7)
        #expect(dropout(x, p: p, training: true, generator: &g2).doubles == y.doubles)
    }

    @Test("dropout keeps about 1 − p of the elements and is the identity in eval")
    func dropoutStatistics() {
        var g = RandomGenerator(seed: 8)
        let x = Tensor.ones([100_000], dtype: .float64)
        let y = dropout(x, p: 0.3, training: true, generator: &g)
        let kept = Double(y.doubles.filter { $0 != 0 }.count) / 100_000
        #expect(Swift.abs(kept - 0.7) < 0.01, "kept fraction \(kept)")
        // Inverted dropout preserves the mean.
        #expect(Swift.abs(y.mean().item() - 1) < 0.02)
        let before = g
        #expect(dropout(x, p: 0.3, training: false, generator: &g) === x)
        #expect(dropout(x, p: 0, training: true, generator: &g) === x)
        #expect(g == before, "eval and p = 0 draw nothing")
    }

    @Test("option-A shortcut gradients", arguments: [(3, 8, 2), (4, 8, 2), (2, 2, 2), (3, 6, 1), (2, 5, 3)])
    func optionAGrad(_ c: (Int, Int, Int)) {
        let (cin, cout, stride) = c
        let x = randomTensor([2, cin, 5, 5], seed: 101)
        checkGradients([x], "optionA \(c)") { optionAShortcut($0[0], outChannels: cout, stride: stride) }
    }

    @Test("option-A shortcut values: subsample, then zero channels half before and half after")
    func optionAValues() {
        let x = Tensor.arange(0, 2 * 2 * 4 * 4, dtype: .float64).reshaped([2, 2, 4, 4])
        let y = optionAShortcut(x, outChannels: 5, stride: 2)
        #expect(y.shape == [2, 5, 2, 2])
        let v = y.doubles
        // Image 0: channel 0 zero (1 before), channels 1, 2 = x[0, 0 and 1, ::2, ::2], channels 3, 4 zero (2 after).
        #expect(Array(v[0..<4]) == [0, 0, 0, 0])
        #expect(Array(v[4..<8]) == [0, 2, 8, 10])
        #expect(Array(v[8..<12]) == [16, 18, 24, 26])
        #expect(Array(v[12..<20]) == [0, 0, 0, 0, 0, 0, 0, 0])
        #expect(Array(v[24..<28]) == [32, 34, 40, 42])
        #expect(optionAShortcut(x, outChannels: 2, stride: 1) === x)
    }
}
