// Max, average and adaptive-average pooling, NCHW.

func checkPool(_ x: Tensor, _ p: Pool2dParameters, _ op: String) {
    shapeCheck(x.rank == 4, op, got: "input \(x.shape)", expected: "[N, C, H, W]")
    shapeCheck(
        p.kernelH > 0 && p.kernelW > 0 && p.strideH > 0 && p.strideW > 0 && p.padH >= 0 && p.padW >= 0
            && p.padH * 2 <= p.kernelH && p.padW * 2 <= p.kernelW, op,
        got: "kernel \(p.kernelH)×\(p.kernelW), stride \(p.strideH)×\(p.strideW), padding \(p.padH)×\(p.padW)",
        expected: "positive kernel and stride, padding at most half the kernel")
    let (oh, ow) = p.outputSize(h: x.shape[2], w: x.shape[3])
    shapeCheck(
        oh > 0 && ow > 0, op, got: "input \(x.shape) with kernel \(p.kernelH)×\(p.kernelW)",
        expected: "a positive output size")
}

/// Max pooling. Saved for the backward: the index of each window's maximum.
public func maxPool2d(_ x: Tensor, _ p: Pool2dParameters) -> Tensor {
    checkPool(x, p, "maxPool2d")
    let (y, indices) = Backends.current.maxPool2d(x, p)
    let shape = x.shape
    return Tensor.record("maxPool2d", y, inputs: [x]) { g in
        [Backends.current.maxPool2dBackward(g, indices: indices, inputShape: shape)]
    }
}

/// Average pooling (PyTorch's divisor rules for padding and ceil mode).
public func avgPool2d(_ x: Tensor, _ p: Pool2dParameters) -> Tensor {
    checkPool(x, p, "avgPool2d")
    let y = Backends.current.avgPool2d(x, p)
    let shape = x.shape
    return Tensor.record("avgPool2d", y, inputs: [x]) { g in
        [Backends.current.avgPool2dBackward(g, inputShape: shape, p)]
    }
}

/// Adaptive average pooling to `outputSize`; (1, 1) is global average pooling.
public func adaptiveAvgPool2d(_ x: Tensor, outputSize: (Int, Int)) -> Tensor {
    shapeCheck(
        x.rank == 4 && outputSize.0 > 0 && outputSize.1 > 0, "adaptiveAvgPool2d",
        got: "input \(x.shape), output size \(outputSize)", expected: "[N, C, H, W] and a positive output size")
    let y = Backends.current.adaptiveAvgPool2d(x, outputSize: outputSize)
    let shape = x.shape
    return Tensor.record("adaptiveAvgPool2d", y, inputs: [x]) { g in
        [Backends.current.adaptiveAvgPool2dBackward(g, inputShape: shape)]
    }
}
