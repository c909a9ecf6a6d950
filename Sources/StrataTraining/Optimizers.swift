import StrataTensor

/// Why an optimizer's saved state does not fit the optimizer.
public struct OptimizerStateError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// An optimizer over named parameters, with state that can be saved and restored exactly.
///
/// State tensors are keyed `"<parameter name>/<slot>"`, with PyTorch's slot names:
/// `fc.weight/momentum_buffer` (SGD), `fc.weight/exp_avg`, `fc.weight/exp_avg_sq`,
/// `fc.weight/step` (AdamW). Checkpoints store them next to the model's state dict.
public protocol Optimizer: AnyObject {
    /// "sgd" or "adamw".
    var kind: String { get }
    /// The parameters' names (state-dict keys), in ``parameters`` order.
    var names: [String] { get }
    /// The trained tensors.
    var parameters: [Tensor] { get }
    /// Applies one update with learning rate `lr` to every parameter that has a gradient.
    func step(lr: Double)
    /// Every state tensor by `"<parameter name>/<slot>"`.
    func stateDict() -> [String: Tensor]
    /// Restores state saved by ``stateDict()`` (replacing all current state).
    func loadStateDict(_ state: [String: Tensor]) throws
}

extension Optimizer {
    /// Clears every parameter's gradient.
    public func zeroGrad() { for p in parameters { p.grad = nil } }
}

/// Default parameter names for optimizers built from bare tensors: "0", "1", ….
func defaultNames(_ count: Int) -> [String] { (0..<count).map(String.init) }

/// Stochastic gradient descent with momentum, Nesterov momentum and weight decay,
/// with exactly PyTorch's update (`torch.optim.SGD`, dampening 0):
///   d = g + λ·p;  b = μ·b + d (b = d on the first step);  d = d + μ·b (Nesterov) or b;  p -= lr·d
public final class SGD: Optimizer {
    public let kind = "sgd"
    public let parameters: [Tensor]
    public let names: [String]
    public var momentum: Double
    public var nesterov: Bool
    public var weightDecay: Double
    /// Per-parameter: whether weight decay applies (e.g. off for BN and biases).
    public let decays: [Bool]
    /// Momentum buffers, created on a parameter's first step.
    public private(set) var velocity: [Tensor?]

    public init(
        _ parameters: [Tensor], names: [String]? = nil, momentum: Double = 0.9, nesterov: Bool = false,
        weightDecay: Double = 0, decays: [Bool]? = nil
    ) {
        precondition(names == nil || names!.count == parameters.count, "SGD: one name per parameter")
        precondition(decays == nil || decays!.count == parameters.count, "SGD: one decay flag per parameter")
        self.parameters = parameters
        self.names = names ?? defaultNames(parameters.count)
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        self.decays = decays ?? parameters.map { _ in true }
        velocity = parameters.map { _ in nil }
    }

    /// The update runs on the current backend (its `sgdUpdate`).
    public func step(lr: Double) {
        let backend = Backends.current
        for (i, p) in parameters.enumerated() {
            guard let g = p.grad else { continue }
            let wd = decays[i] ? weightDecay : 0
            let first = velocity[i] == nil
            if momentum != 0 && first { velocity[i] = backend.zeros(p.shape, dtype: p.dtype) }
            backend.sgdUpdate(
                p, gradient: g, momentumBuffer: velocity[i], firstStep: first, learningRate: lr,
                momentum: momentum, nesterov: nesterov, weightDecay: wd)
        }
    }

    public func stateDict() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (name, v) in zip(names, velocity) { if let v { out[name + "/momentum_buffer"] = v.copy() } }
        return out
    }

    public func loadStateDict(_ state: [String: Tensor]) throws {
        var fresh = [Tensor?](repeating: nil, count: parameters.count)
        var known = Set<String>()
        for (i, (name, p)) in zip(names, parameters).enumerated() {
            let key = name + "/momentum_buffer"
            known.insert(key)
            guard let t = state[key] else { continue }
            guard t.shape == p.shape else {
                throw OptimizerStateError("SGD state \(key) has shape \(t.shape); the parameter has \(p.shape)")
            }
            fresh[i] = t.dtype == p.dtype ? t.copy() : withNoGrad { t.to(p.dtype) }
        }
        if let extra = state.keys.sorted().first(where: { !known.contains($0) }) {
            throw OptimizerStateError(
                "SGD state has an entry for \(extra), which is not one of this optimizer's (momentum buffers of the model's parameters)"
            )
        }
        velocity = fresh
    }
}

/// Adam with decoupled weight decay, exactly PyTorch's `torch.optim.AdamW` (amsgrad off):
///   p ← p·(1 − lr·λ);  m ← lerp(m, g, 1 − β₁);  v ← β₂·v + (1 − β₂)·g²;
///   p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
/// where t counts the parameter's own steps.
public final class AdamW: Optimizer {
    public let kind = "adamw"
    public let parameters: [Tensor]
    public let names: [String]
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    public var weightDecay: Double
    public let decays: [Bool]
    /// First and second moments (created on a parameter's first step) and per-parameter step counts.
    public private(set) var expAvg: [Tensor?]
    public private(set) var expAvgSq: [Tensor?]
    public private(set) var steps: [Int]

    public init(
        _ parameters: [Tensor], names: [String]? = nil, beta1: Double = 0.9, beta2: Double = 0.999,
        epsilon: Double = 1e-8, weightDecay: Double = 0.01, decays: [Bool]? = nil
    ) {
        precondition(names == nil || names!.count == parameters.count, "AdamW: one name per parameter")
        precondition(decays == nil || decays!.count == parameters.count, "AdamW: one decay flag per parameter")
        self.parameters = parameters
        self.names = names ?? defaultNames(parameters.count)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.decays = decays ?? parameters.map { _ in true }
        expAvg = parameters.map { _ in nil }
        expAvgSq = parameters.map { _ in nil }
        steps = parameters.map { _ in 0 }
    }

    /// The update runs on the current backend (its `adamWUpdate`).
    public func step(lr: Double) {
        let backend = Backends.current
        for (i, p) in parameters.enumerated() {
            guard let g = p.grad else { continue }
            if expAvg[i] == nil {
                expAvg[i] = backend.zeros(p.shape, dtype: p.dtype)
                expAvgSq[i] = backend.zeros(p.shape, dtype: p.dtype)
            }
            steps[i] += 1
            let wd = decays[i] ? weightDecay : 0
            backend.adamWUpdate(
                p, gradient: g, expAvg: expAvg[i]!, expAvgSq: expAvgSq[i]!, step: steps[i],
                learningRate: lr, beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: wd)
        }
    }

    public func stateDict() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (i, name) in names.enumerated() {
            guard let m = expAvg[i], let v = expAvgSq[i] else { continue }
            out[name + "/exp_avg"] = m.copy()
            out[name + "/exp_avg_sq"] = v.copy()
            out[name + "/step"] = Tensor([Double(steps[i])], shape: [])
        }
        return out
    }

    public func loadStateDict(_ state: [String: Tensor]) throws {
        var m = [Tensor?](repeating: nil, count: parameters.count)
        var v = m
        var s = [Int](repeating: 0, count: parameters.count)
        var known = Set<String>()
        for (i, (name, p)) in zip(names, parameters).enumerated() {
            let keys = [name + "/exp_avg", name + "/exp_avg_sq", name + "/step"]
            known.formUnion(keys)
            let present = keys.map { state[$0] != nil }
            if !present.contains(true) { continue }
            guard !present.contains(false) else {
                throw OptimizerStateError(
                    "AdamW state for \(name) is incomplete: it needs exp_avg, exp_avg_sq and step")
            }
            for key in keys.prefix(2) where state[key]!.shape != p.shape {
                throw OptimizerStateError(
                    "AdamW state \(key) has shape \(state[key]!.shape); the parameter has \(p.shape)")
            }
            let step = state[keys[2]]!
            guard step.count == 1, step.item() >= 1, step.item() == step.item().rounded() else {
                throw OptimizerStateError("AdamW state \(keys[2]) must be one positive whole number")
            }
            m[i] = withNoGrad { state[keys[0]]!.to(p.dtype) }.copy()
            v[i] = withNoGrad { state[keys[1]]!.to(p.dtype) }.copy()
            s[i] = Int(step.item())
        }
        if let extra = state.keys.sorted().first(where: { !known.contains($0) }) {
            throw OptimizerStateError("AdamW state has an entry for \(extra), which is not one of this optimizer's")
        }
        (expAvg, expAvgSq, steps) = (m, v, s)
    }
}

/// The global L2 norm of the parameters' gradients (accumulated in Double); non-finite if any gradient is.
public func gradientNorm(_ parameters: [Tensor]) -> Double {
    var sum = 0.0
    for p in parameters {
        guard let g = p.grad else { continue }
        switch g.dtype {
        case .float32:
            g.withHostBuffer(as: Float.self) { b in
                for x in b {
                    let d = Double(x)
                    sum += d * d
                }
            }
        case .float64: g.withHostBuffer(as: Double.self) { b in for x in b { sum += x * x } }
        default: for x in g.doubles { sum += x * x }
        }
    }
    return sum.squareRoot()
}

/// Scales all gradients so that their global L2 norm is at most `maxNorm`, as
/// `torch.nn.utils.clip_grad_norm_` (coefficient maxNorm / (norm + 1e-6), applied when below 1).
/// Returns the norm before clipping.
@discardableResult
public func clipGradientNorm(_ parameters: [Tensor], maxNorm: Double) -> Double {
    let norm = gradientNorm(parameters)
    let coefficient = maxNorm / (norm + 1e-6)
    guard norm.isFinite, coefficient < 1 else { return norm }
    for p in parameters {
        // A fresh tensor, not in place: backward may hand two leaves the same gradient tensor.
        guard let g = p.grad?.copy() else { continue }
        switch g.dtype {
        case .float32:
            let c = Float(coefficient)
            g.withMutableHostBuffer(as: Float.self) { b in for j in b.indices { b[j] *= c } }
        case .float64: g.withMutableHostBuffer(as: Double.self) { b in for j in b.indices { b[j] *= coefficient } }
        default: g.assign(withNoGrad { g * coefficient })
        }
        p.grad = g
    }
    return norm
}
