import StrataTensor

/// 2-D convolution, as `torch.nn.Conv2d`: weight [out, in/groups, kh, kw], optional bias [out].
public final class Conv2d: Module {
    public let weight: Tensor
    public let bias: Tensor?
    public let settings: Conv2dParameters

    public init(
        _ inChannels: Int, _ outChannels: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1),
        padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1), groups: Int = 1, bias: Bool = true
    ) {
        precondition(
            inChannels % groups == 0 && outChannels % groups == 0,
            "Conv2d: channels \(inChannels)→\(outChannels) not divisible by groups \(groups)")
        let shape = [outChannels, inChannels / groups, kernel.0, kernel.1]
        weight = parameter(Init.defaultWeight(shape))
        self.bias = bias ? parameter(Init.defaultBias(count: outChannels, weightShape: shape)) : nil
        settings = Conv2dParameters(
            stride: stride, padding: (padding.0, padding.0, padding.1, padding.1),
            dilation: dilation, groups: groups)
    }

    public convenience init(
        _ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
        dilation: Int = 1, groups: Int = 1, bias: Bool = true
    ) {
        self.init(
            inChannels, outChannels, kernel: (kernel, kernel), stride: (stride, stride), padding: (padding, padding),
            dilation: (dilation, dilation), groups: groups, bias: bias)
    }

    public override func forward(_ x: Tensor) -> Tensor { conv2d(x, weight: weight, bias: bias, settings) }

    public override func macs(input: [Int], output: [Int]) -> Int {
        output.reduce(1, *) * weight.shape[1] * weight.shape[2] * weight.shape[3]
    }

    public override var summaryDescription: String {
        let s = settings
        var parts = ["\(weight.shape[1] * s.groups)→\(weight.shape[0])", "\(weight.shape[2])×\(weight.shape[3])"]
        if s.strideH != 1 || s.strideW != 1 {
            parts.append("stride \(s.strideH == s.strideW ? "\(s.strideH)" : "\(s.strideH)×\(s.strideW)")")
        }
        if s.groups != 1 { parts.append("groups \(s.groups)") }
        if bias == nil { parts.append("no bias") }
        return "Conv2d(" + parts.joined(separator: ", ") + ")"
    }
}

/// Fully connected layer, as `torch.nn.Linear`: y = x·Wᵀ + b with weight [out, in].
public final class Linear: Module {
    public let weight: Tensor
    public let bias: Tensor?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true) {
        let shape = [outFeatures, inFeatures]
        weight = parameter(Init.defaultWeight(shape))
        self.bias = bias ? parameter(Init.defaultBias(count: outFeatures, weightShape: shape)) : nil
    }

    public override func forward(_ x: Tensor) -> Tensor { linear(x, weight: weight, bias: bias) }

    public override func macs(input: [Int], output: [Int]) -> Int { output.reduce(1, *) * weight.shape[1] }

    public override var summaryDescription: String { "Linear(\(weight.shape[1])→\(weight.shape[0]))" }
}
