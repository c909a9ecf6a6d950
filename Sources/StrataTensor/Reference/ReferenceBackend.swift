/// The portable pure-Swift backend: written for clarity, the oracle for faster backends.
///
/// Convolution is im2col + a cache-friendly GEMM; images, planes and channels are split
/// across cores with `DispatchQueue.concurrentPerform` (set `STRATA_NUM_THREADS` to limit).
public final class ReferenceBackend: Backend {
    public let name = "reference"
    public init() {}

    public func matmul(_ a: Tensor, _ b: Tensor, transA: Bool, transB: Bool) -> Tensor {
        a.dtype.dispatch(MatmulKernel(a: a, b: b, transA: transA, transB: transB))
    }

    public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, _ p: Conv2dParameters) -> Tensor {
        x.dtype.dispatch(ConvForwardKernel(x: x, weight: weight, bias: bias, geo: ConvGeometry(input: x.shape, weight: weight.shape, p)))
    }

    public func conv2dBackwardData(_ gradOutput: Tensor, weight: Tensor, inputShape: [Int], _ p: Conv2dParameters) -> Tensor {
        weight.dtype.dispatch(ConvBackwardDataKernel(dy: gradOutput, weight: weight, geo: ConvGeometry(input: inputShape, weight: weight.shape, p)))
    }

    public func conv2dBackwardWeight(_ gradOutput: Tensor, input: Tensor, weightShape: [Int], _ p: Conv2dParameters) -> Tensor {
        input.dtype.dispatch(ConvBackwardWeightKernel(dy: gradOutput, x: input, geo: ConvGeometry(input: input.shape, weight: weightShape, p)))
    }

    public func maxPool2d(_ x: Tensor, _ p: Pool2dParameters) -> (output: Tensor, indices: [Int32]) {
        x.dtype.dispatch(MaxPoolKernel(x: x, p: p))
    }

    public func maxPool2dBackward(_ gradOutput: Tensor, indices: [Int32], inputShape: [Int]) -> Tensor {
        gradOutput.dtype.dispatch(MaxPoolBackwardKernel(dy: gradOutput, indices: indices, inputShape: inputShape))
    }

    public func avgPool2d(_ x: Tensor, _ p: Pool2dParameters) -> Tensor {
        x.dtype.dispatch(AvgPoolKernel(x: x, p: p, forward: true, inputShape: x.shape))
    }

    public func avgPool2dBackward(_ gradOutput: Tensor, inputShape: [Int], _ p: Pool2dParameters) -> Tensor {
        gradOutput.dtype.dispatch(AvgPoolKernel(x: gradOutput, p: p, forward: false, inputShape: inputShape))
    }

    public func adaptiveAvgPool2d(_ x: Tensor, outputSize: (Int, Int)) -> Tensor {
        x.dtype.dispatch(AdaptiveAvgPoolKernel(x: x, inputShape: x.shape, outH: outputSize.0, outW: outputSize.1, forward: true))
    }

    public func adaptiveAvgPool2dBackward(_ gradOutput: Tensor, inputShape: [Int]) -> Tensor {
        gradOutput.dtype.dispatch(AdaptiveAvgPoolKernel(x: gradOutput, inputShape: inputShape, outH: gradOutput.shape[2],
                                                        outW: gradOutput.shape[3], forward: false))
    }

    public func batchNormStatistics(_ x: Tensor, eps: Double) -> BatchNormSaved {
        x.dtype.dispatch(BatchNormStatsKernel(x: x, eps: eps))
    }

    public func batchNormApply(_ x: Tensor, saved: BatchNormSaved, weight: Tensor?, bias: Tensor?) -> Tensor {
        x.dtype.dispatch(BatchNormApplyKernel(x: x, saved: saved, weight: weight, bias: bias))
    }

    public func batchNormBackward(_ gradOutput: Tensor, input: Tensor, saved: BatchNormSaved, weight: Tensor?,
                                  trainingStatistics: Bool) -> (input: Tensor, weight: Tensor, bias: Tensor) {
        input.dtype.dispatch(BatchNormBackwardKernel(dy: gradOutput, x: input, saved: saved, weight: weight, training: trainingStatistics))
    }

    public func localResponseNorm(_ x: Tensor, size: Int, alpha: Double, beta: Double, k: Double) -> Tensor {
        x.dtype.dispatch(LocalResponseNormKernel(x: x, dy: nil, size: size, alpha: alpha, beta: beta, k: k))
    }

    public func localResponseNormBackward(_ gradOutput: Tensor, input: Tensor, size: Int, alpha: Double, beta: Double, k: Double) -> Tensor {
        input.dtype.dispatch(LocalResponseNormKernel(x: input, dy: gradOutput, size: size, alpha: alpha, beta: beta, k: k))
    }
}
