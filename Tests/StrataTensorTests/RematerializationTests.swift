import StrataTensor
import StrataTestSupport
import Testing

/// conv → batch norm → ReLU → conv keeps neither the batch-norm nor the ReLU output for the
/// backward (Autograd/Rematerialization.swift): both are rebuilt, and the gradients are the same.
@Suite("Rematerialization")
struct RematerializationTests {
    let x = randomTensor([2, 3, 5, 5], seed: 1, dtype: .float64)
    let w1 = randomTensor([4, 3, 3, 3], seed: 2, std: 0.3, dtype: .float64)
    let gamma = uniformTensor([4], seed: 3, low: 0.5, high: 1.5, dtype: .float64)
    let beta = randomTensor([4], seed: 4, std: 0.2, dtype: .float64)
    let w2 = randomTensor([3, 4, 3, 3], seed: 5, std: 0.3, dtype: .float64)

    /// conv → BN (batch statistics, running statistics updated) → ReLU → conv → weighted sum.
    func network(_ t: [Tensor], observe: ((Tensor, Tensor) -> Void)? = nil) -> Tensor {
        let c = conv2d(t[0], weight: t[1], bias: nil, Conv2dParameters(padding: 1))
        let y = batchNorm2d(
            c, runningMean: .zeros([4], dtype: .float64), runningVar: .ones([4], dtype: .float64),
            weight: t[2], bias: t[3], training: true)
        let r = y.relu()
        observe?(y, r)
        let out = conv2d(r, weight: t[4], bias: nil, Conv2dParameters(stride: 2))
        return (out * Tensor((0..<out.count).map { Double($0 % 7) - 3 }, shape: out.shape)).sum()
    }

    @Test("gradients through rebuilt BN and ReLU outputs match finite differences")
    func finiteDifferences() {
        checkGradients([x, w1, gamma, beta, w2], "conv-BN-ReLU-conv") { network($0) }
    }

    @Test("the BN and ReLU outputs are freed after the forward, and the gradients equal keeping them")
    func outputsAreFreedAndGradientsUnchanged() throws {
        func run(rematerialize: Bool) -> (freed: Bool, grads: [[Double]]) {
            Rematerialization.$isEnabled.withValue(rematerialize) {
                let leaves = [x, w1, gamma, beta, w2].map { $0.copy().requiringGrad() }
                weak var bnOutput: TensorStorage?
                weak var reluOutput: TensorStorage?
                let loss = network(leaves) { y, r in (bnOutput, reluOutput) = (y.storage, r.storage) }
                let freed = bnOutput == nil && reluOutput == nil
                loss.backward()
                return (freed, leaves.map { $0.grad!.doubles })
            }
        }
        let rebuilt = run(rematerialize: true)
        let kept = run(rematerialize: false)
        #expect(rebuilt.freed, "with rematerialization nothing keeps the BN and ReLU outputs")
        #expect(!kept.freed, "without it, the ReLU and the second convolution keep them")
        // The reference backend normalizes the same way in both passes: bit-for-bit equal gradients.
        #expect(rebuilt.grads == kept.grads)
    }

    @Test("no recipe without recording, and a BN output fed straight to a convolution is rebuilt too")
    func recipesOnlyWhenRecording() {
        let c = x.copy().requiringGrad()
        let inference = withNoGrad {
            batchNorm2d(c, runningMean: nil, runningVar: nil, weight: nil, bias: nil, training: true)
        }
        #expect(inference.rematerialization == nil)
        let y = batchNorm2d(c, runningMean: nil, runningVar: nil, weight: nil, bias: nil, training: true)
        #expect(y.rematerialization != nil)
        let pre = randomTensor([3, 3, 3, 3], seed: 9, dtype: .float64)
        conv2d(y, weight: pre, bias: nil, Conv2dParameters(padding: 1)).sum().backward()
        let withRecipe = c.grad!.doubles
        let c2 = x.copy().requiringGrad()
        Rematerialization.$isEnabled.withValue(false) {
            let y2 = batchNorm2d(c2, runningMean: nil, runningVar: nil, weight: nil, bias: nil, training: true)
            conv2d(y2, weight: pre, bias: nil, Conv2dParameters(padding: 1)).sum().backward()
        }
        #expect(withRecipe == c2.grad!.doubles)
    }
}
