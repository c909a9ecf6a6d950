/// A backend that computes only output shapes: its "fat" kernels return tensors of the
/// right shape with unspecified values. Tracing a forward pass through it tells layer
/// shapes and multiply-accumulates of even the largest models in milliseconds
/// (`strata summary`, `strata models`). Never use its outputs as numbers.
public final class ShapeInferenceBackend: Backend {
    public let name = "shape-inference"
    public init() {}

    public func matmul(_ a: Tensor, _ b: Tensor, transA: Bool, transB: Bool) -> Tensor {
        .zeros([transA ? a.shape[1] : a.shape[0], transB ? b.shape[0] : b.shape[1]], dtype: a.dtype)
    }

    public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, _ p: Conv2dParameters) -> Tensor {
        let (oh, ow) = p.outputSize(h: x.shape[2], w: x.shape[3], kh: weight.shape[2], kw: weight.shape[3])
        return .zeros([x.shape[0], weight.shape[0], oh, ow], dtype: x.dtype)
    }

    public func conv2dBackwardData(_ gradOutput: Tensor, weight: Tensor, inputShape: [Int], _ p: Conv2dParameters)
        -> Tensor
    {
        .zeros(inputShape, dtype: gradOutput.dtype)
    }

    public func conv2dBackwardWeight(_ gradOutput: Tensor, input: Tensor, weightShape: [Int], _ p: Conv2dParameters)
        -> Tensor
    {
        .zeros(weightShape, dtype: input.dtype)
    }

    public func maxPool2d(_ x: Tensor, _ p: Pool2dParameters) -> (output: Tensor, indices: Tensor) {
        let (oh, ow) = p.outputSize(h: x.shape[2], w: x.shape[3])
        return (.zeros([x.shape[0], x.shape[1], oh, ow], dtype: x.dtype), .zeros([0], dtype: .int32))
    }

    public func maxPool2dBackward(_ gradOutput: Tensor, indices: Tensor, inputShape: [Int]) -> Tensor {
        .zeros(inputShape, dtype: gradOutput.dtype)
    }

    public func avgPool2d(_ x: Tensor, _ p: Pool2dParameters) -> Tensor {
        let (oh, ow) = p.outputSize(h: x.shape[2], w: x.shape[3])
        return .zeros([x.shape[0], x.shape[1], oh, ow], dtype: x.dtype)
    }

    public func avgPool2dBackward(_ gradOutput: Tensor, inputShape: [Int], _ p: Pool2dParameters) -> Tensor {
        .zeros(inputShape, dtype: gradOutput.dtype)
    }

    public func adaptiveAvgPool2d(_ x: Tensor, outputSize: (Int, Int)) -> Tensor {
        .zeros([x.shape[0], x.shape[1], outputSize.0, outputSize.1], dtype: x.dtype)
    }

    public func adaptiveAvgPool2dBackward(_ gradOutput: Tensor, inputShape: [Int]) -> Tensor {
        .zeros(inputShape, dtype: gradOutput.dtype)
    }

    public func batchNormStatistics(_ x: Tensor, eps: Double) -> BatchNormSaved {
        BatchNormSaved(mean: .zeros([x.shape[1]], dtype: x.dtype), invStd: .ones([x.shape[1]], dtype: x.dtype))
    }

    public func batchNormApply(_ x: Tensor, saved: BatchNormSaved, weight: Tensor?, bias: Tensor?) -> Tensor {
        .zeros(x.shape, dtype: x.dtype)
    }

    public func batchNormBackward(
        _ gradOutput: Tensor, input: Tensor, saved: BatchNormSaved, weight: Tensor?,
        trainingStatistics: Bool
    ) -> (input: Tensor, weight: Tensor, bias: Tensor) {
        (
            .zeros(input.shape, dtype: input.dtype), .zeros([input.shape[1]], dtype: input.dtype),
            .zeros([input.shape[1]], dtype: input.dtype)
        )
    }

    public func localResponseNorm(_ x: Tensor, size: Int, alpha: Double, beta: Double, k: Double) -> Tensor {
        .zeros(x.shape, dtype: x.dtype)
    }

    public func localResponseNormBackward(
        _ gradOutput: Tensor, input: Tensor, size: Int, alpha: Double, beta: Double, k: Double
    ) -> Tensor {
        .zeros(input.shape, dtype: input.dtype)
    }
}
