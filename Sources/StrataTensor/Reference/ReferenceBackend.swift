/// The portable pure-Swift backend: written for clarity, the oracle for faster backends.
///
/// bfloat16 and float16 tensors (storage-only dtypes) run the float32 kernels: inputs are widened
/// to float32, accumulated there, and each result is rounded back once to the storage dtype.
///
/// Convolution is im2col + a cache-friendly GEMM; images, planes and channels are split
/// across cores with `DispatchQueue.concurrentPerform` (set `STRATA_NUM_THREADS` to limit).
public final class ReferenceBackend: Backend {
    public let name = "reference"
    public init() {}

    public func matmul(_ a: Tensor, _ b: Tensor, transA: Bool, transB: Bool) -> Tensor {
        if a.dtype.isReducedPrecisionFloat {
            return matmul(widen(a), widen(b), transA: transA, transB: transB).converted(to: a.dtype)
        }
        return a.dtype.dispatch(MatmulKernel(a: a, b: b, transA: transA, transB: transB))
    }

    public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, _ p: Conv2dParameters) -> Tensor {
        if x.dtype.isReducedPrecisionFloat {
            return conv2d(widen(x), weight: widen(weight), bias: widen(bias), p).converted(to: x.dtype)
        }
        return x.dtype.dispatch(
            ConvForwardKernel(
                x: x, weight: weight, bias: bias, geo: ConvGeometry(input: x.shape, weight: weight.shape, p)))
    }

    public func conv2dBackwardData(_ gradOutput: Tensor, weight: Tensor, inputShape: [Int], _ p: Conv2dParameters)
        -> Tensor
    {
        if weight.dtype.isReducedPrecisionFloat {
            return conv2dBackwardData(widen(gradOutput), weight: widen(weight), inputShape: inputShape, p).converted(
                to: weight.dtype)
        }
        return weight.dtype.dispatch(
            ConvBackwardDataKernel(
                dy: gradOutput, weight: weight, geo: ConvGeometry(input: inputShape, weight: weight.shape, p)))
    }

    public func conv2dBackwardWeight(_ gradOutput: Tensor, input: Tensor, weightShape: [Int], _ p: Conv2dParameters)
        -> Tensor
    {
        if input.dtype.isReducedPrecisionFloat {
            return conv2dBackwardWeight(widen(gradOutput), input: widen(input), weightShape: weightShape, p).converted(
                to: input.dtype)
        }
        return input.dtype.dispatch(
            ConvBackwardWeightKernel(
                dy: gradOutput, x: input, geo: ConvGeometry(input: input.shape, weight: weightShape, p)))
    }

    public func maxPool2d(_ x: Tensor, _ p: Pool2dParameters) -> (output: Tensor, indices: Tensor) {
        if x.dtype.isReducedPrecisionFloat {
            // Widening is exact and monotonic: the same maxima, exactly representable back.
            let (y, indices) = maxPool2d(widen(x), p)
            return (y.converted(to: x.dtype), indices)
        }
        return x.dtype.dispatch(MaxPoolKernel(x: x, p: p))
    }

    public func maxPool2dBackward(_ gradOutput: Tensor, indices: Tensor, inputShape: [Int]) -> Tensor {
        if gradOutput.dtype.isReducedPrecisionFloat {
            return maxPool2dBackward(widen(gradOutput), indices: indices, inputShape: inputShape).converted(
                to: gradOutput.dtype)
        }
        return gradOutput.dtype.dispatch(
            MaxPoolBackwardKernel(dy: gradOutput, indices: indices, inputShape: inputShape))
    }

    public func avgPool2d(_ x: Tensor, _ p: Pool2dParameters) -> Tensor {
        if x.dtype.isReducedPrecisionFloat { return x.widened { avgPool2d($0, p) } }
        return x.dtype.dispatch(AvgPoolKernel(x: x, p: p, forward: true, inputShape: x.shape))
    }

    public func avgPool2dBackward(_ gradOutput: Tensor, inputShape: [Int], _ p: Pool2dParameters) -> Tensor {
        if gradOutput.dtype.isReducedPrecisionFloat {
            return gradOutput.widened { avgPool2dBackward($0, inputShape: inputShape, p) }
        }
        return gradOutput.dtype.dispatch(AvgPoolKernel(x: gradOutput, p: p, forward: false, inputShape: inputShape))
    }

    public func adaptiveAvgPool2d(_ x: Tensor, outputSize: (Int, Int)) -> Tensor {
        if x.dtype.isReducedPrecisionFloat { return x.widened { adaptiveAvgPool2d($0, outputSize: outputSize) } }
        return x.dtype.dispatch(
            AdaptiveAvgPoolKernel(x: x, inputShape: x.shape, outH: outputSize.0, outW: outputSize.1, forward: true))
    }

    public func adaptiveAvgPool2dBackward(_ gradOutput: Tensor, inputShape: [Int]) -> Tensor {
        if gradOutput.dtype.isReducedPrecisionFloat {
            return gradOutput.widened { adaptiveAvgPool2dBackward($0, inputShape: inputShape) }
        }
        return gradOutput.dtype.dispatch(
            AdaptiveAvgPoolKernel(
                x: gradOutput, inputShape: inputShape, outH: gradOutput.shape[2],
                outW: gradOutput.shape[3], forward: false))
    }

    public func batchNormStatistics(_ x: Tensor, eps: Double) -> BatchNormSaved {
        if x.dtype.isReducedPrecisionFloat {
            let s = batchNormStatistics(widen(x), eps: eps)
            return BatchNormSaved(mean: s.mean.converted(to: x.dtype), invStd: s.invStd.converted(to: x.dtype))
        }
        return x.dtype.dispatch(BatchNormStatsKernel(x: x, eps: eps))
    }

    public func batchNormApply(_ x: Tensor, saved: BatchNormSaved, weight: Tensor?, bias: Tensor?) -> Tensor {
        if x.dtype.isReducedPrecisionFloat {
            let s = BatchNormSaved(mean: widen(saved.mean), invStd: widen(saved.invStd))
            return batchNormApply(widen(x), saved: s, weight: widen(weight), bias: widen(bias)).converted(to: x.dtype)
        }
        return x.dtype.dispatch(BatchNormApplyKernel(x: x, saved: saved, weight: weight, bias: bias))
    }

    public func batchNormBackward(
        _ gradOutput: Tensor, input: Tensor, saved: BatchNormSaved, weight: Tensor?,
        trainingStatistics: Bool
    ) -> (input: Tensor, weight: Tensor, bias: Tensor) {
        if input.dtype.isReducedPrecisionFloat {
            let s = BatchNormSaved(mean: widen(saved.mean), invStd: widen(saved.invStd))
            let g = batchNormBackward(
                widen(gradOutput), input: widen(input), saved: s, weight: widen(weight),
                trainingStatistics: trainingStatistics)
            return (
                g.input.converted(to: input.dtype), g.weight.converted(to: input.dtype),
                g.bias.converted(to: input.dtype)
            )
        }
        return input.dtype.dispatch(
            BatchNormBackwardKernel(
                dy: gradOutput, x: input, saved: saved, weight: weight, training: trainingStatistics))
    }

    public func localResponseNorm(_ x: Tensor, size: Int, alpha: Double, beta: Double, k: Double) -> Tensor {
        if x.dtype.isReducedPrecisionFloat {
            return x.widened { localResponseNorm($0, size: size, alpha: alpha, beta: beta, k: k) }
        }
        return x.dtype.dispatch(LocalResponseNormKernel(x: x, dy: nil, size: size, alpha: alpha, beta: beta, k: k))
    }

    public func localResponseNormBackward(
        _ gradOutput: Tensor, input: Tensor, size: Int, alpha: Double, beta: Double, k: Double
    ) -> Tensor {
        if input.dtype.isReducedPrecisionFloat {
            return localResponseNormBackward(
                widen(gradOutput), input: widen(input), size: size, alpha: alpha, beta: beta, k: k
            )
            .converted(to: input.dtype)
        }
        return input.dtype.dispatch(
            LocalResponseNormKernel(x: input, dy: gradOutput, size: size, alpha: alpha, beta: beta, k: k))
    }
}
