// 2-D convolution (cross-correlation, as PyTorch), NCHW.
// Saved for the backward: the input (for ∂W; a recipe instead when it has one, see
// Rematerialization) and the weight (for ∂x).

/// Convolves `x` [N, C, H, W] with `weight` [K, C/groups, kh, kw], adding `bias` [K] if given.
///
/// Supports stride, asymmetric padding, dilation and groups (depthwise when groups = C).
public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, _ p: Conv2dParameters = .init()) -> Tensor {
    shapeCheck(
        x.rank == 4 && weight.rank == 4, "conv2d", got: "input \(x.shape), weight \(weight.shape)",
        expected: "input [N, C, H, W] and weight [K, C/groups, kh, kw]")
    shapeCheck(
        p.groups > 0 && x.shape[1] % p.groups == 0 && weight.shape[0] % p.groups == 0
            && weight.shape[1] * p.groups == x.shape[1],
        "conv2d", got: "input \(x.shape), weight \(weight.shape), groups \(p.groups)",
        expected: "input channels = weight.shape[1] × groups, both divisible by groups")
    shapeCheck(
        p.strideH > 0 && p.strideW > 0 && p.dilationH > 0 && p.dilationW > 0
            && min(p.padTop, p.padBottom, p.padLeft, p.padRight) >= 0,
        "conv2d", got: p.description, expected: "positive stride and dilation, non-negative padding")
    let (oh, ow) = p.outputSize(h: x.shape[2], w: x.shape[3], kh: weight.shape[2], kw: weight.shape[3])
    shapeCheck(
        oh > 0 && ow > 0, "conv2d", got: "input \(x.shape), kernel \(weight.shape[2])×\(weight.shape[3]), \(p)",
        expected: "a positive output size")
    if let bias {
        shapeCheck(
            bias.shape == [weight.shape[0]], "conv2d", got: "bias \(bias.shape)", expected: "[\(weight.shape[0])]")
    }
    shapeCheck(
        x.dtype == weight.dtype, "conv2d", got: "\(x.dtype) input, \(weight.dtype) weight", expected: "one dtype")

    let y = Backends.current.conv2d(x, weight: weight, bias: bias, p)
    let inputs = [x, weight] + (bias.map { [$0] } ?? [])
    guard Tensor.needsGrad(x, weight) || bias.map({ Tensor.needsGrad($0) }) == true else { return y }
    // The input only for ∂W, and as a recipe where it has one (see Rematerialization).
    let savedInput = weight.requiresGrad ? SavedTensor(x) : nil
    let inputNeedsGrad = x.requiresGrad
    let inputShape = x.shape
    return Tensor.record("conv2d", y, inputs: inputs) { g in
        let backend = Backends.current
        var grads: [Tensor?] = [
            inputNeedsGrad ? backend.conv2dBackwardData(g, weight: weight, inputShape: inputShape, p) : nil,
            savedInput.map { backend.conv2dBackwardWeight(g, input: $0.tensor, weightShape: weight.shape, p) },
        ]
        if let bias { grads.append(bias.requiresGrad ? g.sum(axes: [0, 2, 3]) : nil) }
        return grads
    }
}
