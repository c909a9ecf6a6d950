import StrataTensor

/// Stochastic gradient descent with momentum, Nesterov momentum and weight decay,
/// with exactly PyTorch's update (`torch.optim.SGD`):
///   d = g + λ·p;  b = μ·b + d (b = d on the first step);  d = d + μ·b (Nesterov) or b;  p -= lr·d
public final class SGD {
    public let parameters: [Tensor]
    public var momentum: Double
    public var nesterov: Bool
    public var weightDecay: Double
    /// Per-parameter: whether weight decay applies (e.g. off for BN and biases).
    public let decays: [Bool]
    /// Momentum buffers, created on the first step.
    public private(set) var velocity: [Tensor?]

    public init(_ parameters: [Tensor], momentum: Double = 0.9, nesterov: Bool = false, weightDecay: Double = 0,
                decays: [Bool]? = nil) {
        self.parameters = parameters
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        self.decays = decays ?? parameters.map { _ in true }
        velocity = parameters.map { _ in nil }
    }

    /// Applies one update with learning rate `lr` to every parameter that has a gradient.
    public func step(lr: Double) {
        withNoGrad {
            for (i, p) in parameters.enumerated() {
                guard let g = p.grad else { continue }
                var d = g
                if weightDecay != 0 && decays[i] { d = d + p * weightDecay }
                if momentum != 0 {
                    let b = velocity[i].map { $0 * momentum + d } ?? d.copy()
                    velocity[i] = b
                    d = nesterov ? d + b * momentum : b
                }
                p.assign(p - d * lr)
            }
        }
    }

    /// Clears every parameter's gradient.
    public func zeroGrad() { for p in parameters { p.grad = nil } }
}
