import StrataTensor

/// Weight initializations used by the reference implementations (torchvision's choices),
/// drawing from `GlobalRandom`.
public enum Init {
    public enum FanMode { case fanIn, fanOut }

    @TaskLocal static var skipping = false

    /// Builds modules inside `body` without filling their weights (values are left
    /// uninitialized, like PyTorch's meta device): for counting parameters and tracing
    /// shapes of large models quickly. Never train or evaluate such a model before
    /// loading weights into it.
    public static func withoutInitialization<R>(_ body: () throws -> R) rethrows -> R {
        try $skipping.withValue(true) { try body() }
    }

    /// Whether initializers are skipped here (see ``withoutInitialization(_:)``).
    public static var isSkipping: Bool { skipping }

    /// (fan_in, fan_out) of a weight [out, in, kh, kw] or [out, in], as PyTorch computes them.
    public static func fans(_ shape: [Int]) -> (fanIn: Int, fanOut: Int) {
        let receptive = shape.dropFirst(2).reduce(1, *)
        return ((shape.count > 1 ? shape[1] : 1) * receptive, shape[0] * receptive)
    }

    /// PyTorch's default for Conv2d and Linear weights: kaiming_uniform(a = √5),
    /// i.e. U(−1/√fan_in, 1/√fan_in).
    public static func defaultWeight(_ shape: [Int]) -> Tensor {
        let bound = 1 / Double(max(fans(shape).fanIn, 1)).squareRoot()
        return uniform(shape, bound: bound)
    }

    /// PyTorch's default bias for Conv2d and Linear: U(−1/√fan_in, 1/√fan_in) of the weight.
    public static func defaultBias(count: Int, weightShape: [Int]) -> Tensor {
        let bound = 1 / Double(max(fans(weightShape).fanIn, 1)).squareRoot()
        return uniform([count], bound: bound)
    }

    public static func uniform(_ shape: [Int], bound: Double) -> Tensor {
        if skipping { return .uninitialized(shape) }
        return GlobalRandom.use { Tensor.uniform(shape, low: -bound, high: bound, generator: &$0) }
    }

    /// He et al. 2015: N(0, 2/fan) for ReLU networks.
    public static func kaimingNormal(_ shape: [Int], mode: FanMode = .fanIn) -> Tensor {
        let f = fans(shape)
        let std = (2 / Double(max(mode == .fanIn ? f.fanIn : f.fanOut, 1))).squareRoot()
        if skipping { return .uninitialized(shape) }
        return GlobalRandom.use { Tensor.normal(shape, std: std, generator: &$0) }
    }

    /// N(0, std²).
    public static func normal(_ shape: [Int], std: Double) -> Tensor {
        if skipping { return .uninitialized(shape) }
        return GlobalRandom.use { Tensor.normal(shape, std: std, generator: &$0) }
    }

    /// N(0, std²) truncated to [a, b] (redrawn outside), as `nn.init.trunc_normal_`.
    public static func truncatedNormal(_ shape: [Int], std: Double, a: Double = -2, b: Double = 2) -> Tensor {
        if skipping { return .uninitialized(shape) }
        return GlobalRandom.use { g in
            Tensor.fromFunction(shape) { _ in
                while true {
                    let v = g.nextNormal() * std
                    if v >= a && v <= b { return v }
                }
            }
        }
    }

    /// Overwrites `tensor` in place with `values`.
    public static func set(_ tensor: Tensor, _ values: Tensor) {
        if skipping { return }
        withNoGrad { tensor.assign(values) }
    }
}
