// Dropout, and the parameter-free "option A" shortcut of He et al. 2015 (CIFAR ResNets).

/// Inverted dropout: in training, zeroes each element with probability `p` and scales
/// the rest by 1/(1 − p); identity in eval. The mask is drawn from `generator` in
/// row-major order. Saved for the backward: the scaled mask.
public func dropout(_ x: Tensor, p: Double, training: Bool, generator: inout RandomGenerator) -> Tensor {
    shapeCheck(p >= 0 && p < 1, "dropout", got: "p = \(p)", expected: "0 <= p < 1")
    if !training || p == 0 { return x }
    let keep = 1 - p
    var maskValues = [Double](repeating: 0, count: x.count)
    for i in 0..<x.count { maskValues[i] = generator.nextDouble() < keep ? 1 / keep : 0 }
    let mask = Tensor(maskValues, shape: x.shape).to(x.dtype)
    let y = withNoGrad { x * mask }
    return Tensor.record("dropout", y, inputs: [x]) { g in [g * mask] }
}

/// ResNet option-A shortcut: keeps every `stride`-th pixel (x[:, :, ::s, ::s]) and zero-pads
/// the channels up to `outChannels`, half before and half after, so it has no parameters.
public func optionAShortcut(_ x: Tensor, outChannels: Int, stride: Int) -> Tensor {
    shapeCheck(
        x.rank == 4 && outChannels >= x.shape[1] && stride >= 1, "optionAShortcut",
        got: "input \(x.shape), outChannels \(outChannels), stride \(stride)",
        expected: "[N, C, H, W] with C <= outChannels")
    var y = x
    if stride > 1 { y = y.slice(axis: 2, start: 0, step: stride).slice(axis: 3, start: 0, step: stride) }
    let extra = outChannels - x.shape[1]
    if extra > 0 { y = y.padded([(extra / 2, extra - extra / 2), (0, 0), (0, 0)]) }
    return y
}
