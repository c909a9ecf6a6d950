import StrataTensor
import StrataTestSupport
import Testing

/// The test suite's own gradient checker (StrataTestSupport/GradientCheck.swift): it must pass
/// correct gradients with a wide margin and flag wrong ones.
@Suite("Gradient checker")
struct GradientCheckerTests {
    @Test("correct gradients pass with a wide margin")
    func accurate() {
        let x = randomTensor([4, 5], seed: 120)
        let results = checkGradients([x], "exp ∘ tanh") { $0[0].tanh().exp() }
        #expect(results.count == 1)
        #expect(results.allSatisfy { $0.relativeError < 1e-8 }, "\(results)")
    }

    @Test("a wrong gradient is flagged")
    func flagsWrongGradient() {
        let x = randomTensor([3, 4], seed: 121)
        // x · stop(x): the tape sees ∂/∂x = x, the function's true derivative is 2x.
        withKnownIssue {
            checkGradients([x], "x · detached(x)") { $0[0] * $0[0].detached() }
        }
        // A gradient wrong in a single element is flagged too.
        withKnownIssue {
            checkGradients([x], "one element detached") { t in
                let head = t[0].slice(axis: 1, start: 0, end: 1).detached()
                return Tensor.concatenate([head, t[0].slice(axis: 1, start: 1)], axis: 1)
            }
        }
    }

    @Test("an input left out of the graph is reported")
    func flagsMissingGradient() {
        let a = randomTensor([2], seed: 122)
        let b = randomTensor([2], seed: 123)
        withKnownIssue {
            checkGradients([a, b], "b unused") { $0[0] * 2 }
        }
        // Constants (not in `wrt`) are fine.
        checkGradients([a, b], wrt: [0], "b constant") { $0[0] * 2 }
    }
}
