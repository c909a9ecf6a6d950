import StrataTensor
import StrataTestSupport
import Testing

/// The Float32 backward of each kernel-backed op against its Float64 backward: the finite
/// difference checks run in Float64 only, and the fixtures hold forward values (plus the
/// batch-norm and cross-entropy gradients), so this covers the single-precision backwards.
@Suite("Float32 gradients")
struct PrecisionTests {
    @Test("conv2d")
    func conv() {
        let x = randomTensor([2, 4, 6, 5], seed: 130)
        let b = randomTensor([6], seed: 132)
        let w = randomTensor([6, 2, 3, 3], seed: 131, std: 0.5)
        let p = Conv2dParameters(
            stride: (2, 1), padding: (top: 1, bottom: 0, left: 2, right: 1), dilation: (1, 2), groups: 2)
        expectFloat32GradientsMatch([x, w, b], "conv2d") { conv2d($0[0], weight: $0[1], bias: $0[2], p) }
        expectFloat32GradientsMatch([x, randomTensor([4, 1, 3, 3], seed: 133)], "depthwise") {
            conv2d($0[0], weight: $0[1], .init(padding: 1, groups: 4))
        }
    }

    @Test("pooling")
    func pooling() {
        let x = distinctTensor([2, 3, 7, 6], seed: 134)
        let p = Pool2dParameters(kernel: 3, stride: 2, padding: 1, ceilMode: true)
        expectFloat32GradientsMatch([x], "maxPool2d") { maxPool2d($0[0], p) }
        for include in [true, false] {
            var q = p
            q.countIncludePad = include
            expectFloat32GradientsMatch([x], "avgPool2d include \(include)") { avgPool2d($0[0], q) }
        }
        expectFloat32GradientsMatch([x], "adaptiveAvgPool2d") { adaptiveAvgPool2d($0[0], outputSize: (4, 3)) }
    }

    @Test("normalization")
    func normalization() {
        let x = randomTensor([2, 3, 4, 4], seed: 135) * 2 + 1
        let w = uniformTensor([3], seed: 136, low: 0.5, high: 1.5)
        let b = randomTensor([3], seed: 137)
        for training in [true, false] {
            expectFloat32GradientsMatch([x, w, b], "batchNorm2d training \(training)") {
                batchNorm2d(
                    $0[0], runningMean: Tensor.zeros([3], dtype: $0[0].dtype),
                    runningVar: Tensor.ones([3], dtype: $0[0].dtype),
                    weight: $0[1], bias: $0[2], training: training)
            }
        }
        expectFloat32GradientsMatch([x], "localResponseNorm") {
            localResponseNorm($0[0], size: 3, alpha: 0.5, beta: 0.75, k: 1)
        }
    }

    @Test("dense ops, reductions and losses")
    func dense() {
        let x = randomTensor([4, 6], seed: 138)
        let w = randomTensor([5, 6], seed: 139)
        let b = randomTensor([5], seed: 140)
        expectFloat32GradientsMatch([x, w, b], "linear") { linear($0[0], weight: $0[1], bias: $0[2]) }
        expectFloat32GradientsMatch([x, w], "matmul") { $0[0].matmul($0[1].transposed()) }
        expectFloat32GradientsMatch([x], "softmax") { $0[0].softmax(axis: 1) }
        expectFloat32GradientsMatch([x], "logSoftmax") { $0[0].logSoftmax(axis: 0) }
        expectFloat32GradientsMatch([x], "crossEntropy") {
            crossEntropy($0[0], labels: [0, 5, 2, 2], labelSmoothing: 0.1)
        }
        expectFloat32GradientsMatch([distinctTensor([4, 6], seed: 141)], "max") { $0[0].max(axis: 1) }
        expectFloat32GradientsMatch([x], "sum, mean") { $0[0].sum(axis: 0) + $0[0].mean(axes: [0], keepDims: true) }
        expectFloat32GradientsMatch([x, b.slice(axis: 0, start: 0, end: 4).reshaped([4, 1])], "broadcast ops") {
            ($0[0] * $0[1] - $0[0] / ($0[1].squared() + 1)).exp()
        }
    }
}
