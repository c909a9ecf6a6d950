#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One-cycle policy settings, PyTorch's `OneCycleLR` defaults (cosine annealing, two phases,
/// momentum cycled inversely between `maxMomentum` and `baseMomentum`).
public struct OneCycle: Sendable, Equatable {
    public var maxLR: Double
    /// Total optimizer steps of the run.
    public var total: Int
    /// Fraction of the steps spent increasing the rate.
    public var pctStart = 0.3
    /// Initial rate = maxLR / divFactor.
    public var divFactor = 25.0
    /// Final rate = initial rate / finalDivFactor.
    public var finalDivFactor = 1e4
    /// Whether momentum (SGD) or β₁ (AdamW) is cycled from maxMomentum down to baseMomentum and back.
    public var cycleMomentum = true
    public var baseMomentum = 0.85
    public var maxMomentum = 0.95

    public init(
        maxLR: Double, total: Int, pctStart: Double = 0.3, divFactor: Double = 25, finalDivFactor: Double = 1e4,
        cycleMomentum: Bool = true, baseMomentum: Double = 0.85, maxMomentum: Double = 0.95
    ) {
        (self.maxLR, self.total, self.pctStart, self.divFactor, self.finalDivFactor) = (
            maxLR, total, pctStart, divFactor, finalDivFactor
        )
        (self.cycleMomentum, self.baseMomentum, self.maxMomentum) = (cycleMomentum, baseMomentum, maxMomentum)
    }

    /// PyTorch's `_annealing_cos`: from `start` at pct 0 to `end` at pct 1.
    static func anneal(_ start: Double, _ end: Double, _ pct: Double) -> Double {
        end + (start - end) / 2 * (cos(Double.pi * pct) + 1)
    }

    /// (start step, end step, phase fraction) as `OneCycleLR.get_lr` computes it.
    func phase(at step: Int) -> (first: Bool, pct: Double) {
        let s = Double(Swift.min(Swift.max(step, 0), total - 1))
        let end1 = pctStart * Double(total) - 1
        let end2 = Double(total) - 1
        if s <= end1 { return (true, s / end1) }
        return (false, (s - end1) / (end2 - end1))
    }

    public func learningRate(at step: Int) -> Double {
        let initial = maxLR / divFactor
        let minimum = initial / finalDivFactor
        let (first, pct) = phase(at: step)
        return first ? Self.anneal(initial, maxLR, pct) : Self.anneal(maxLR, minimum, pct)
    }

    public func momentum(at step: Int) -> Double {
        let (first, pct) = phase(at: step)
        return first ? Self.anneal(maxMomentum, baseMomentum, pct) : Self.anneal(baseMomentum, maxMomentum, pct)
    }
}

/// Learning rate as a function of the optimizer step (0-based: the rate used by the step
/// that makes the `step`-th update), matching PyTorch's schedulers stepped once per iteration.
public indirect enum LearningRateSchedule: Sendable, Equatable {
    /// `base`, multiplied by `gamma` at each milestone step (`MultiStepLR`; He et al.: 0.1, ÷10 at 32k and 48k).
    case multiStep(base: Double, milestones: [Int], gamma: Double = 0.1)
    /// Linear warmup over `warmup` steps to `base` (`LinearLR(1/warmup)`: base·(s+1)/warmup), then cosine decay
    /// to 0 at `total` (`CosineAnnealingLR(T_max: total − warmup)`), as `SequentialLR` chains them.
    case cosine(base: Double, warmup: Int, total: Int)
    /// A constant rate.
    case constant(Double)
    /// The one-cycle policy (`OneCycleLR`, cosine annealing).
    case oneCycle(OneCycle)
    /// Linear warmup in front of any schedule: for s < steps the rate is `then`'s rate at s times (s+1)/steps
    /// (`LinearLR(1/steps)` multiplied into the inner schedule, as PyTorch's `ChainedScheduler` does); after, `then`'s.
    case linearWarmup(steps: Int, then: LearningRateSchedule)

    public func learningRate(at step: Int) -> Double {
        switch self {
        case .multiStep(let base, let milestones, let gamma):
            return base * pow(gamma, Double(milestones.filter { step >= $0 }.count))
        case .cosine(let base, let warmup, let total):
            if step < warmup { return base * Double(step + 1) / Double(warmup) }
            let t = Double(step - warmup) / Double(Swift.max(1, total - warmup))
            return base * 0.5 * (1 + cos(Double.pi * Swift.min(1, t)))
        case .constant(let v):
            return v
        case .oneCycle(let c):
            return c.learningRate(at: step)
        case .linearWarmup(let steps, let then):
            let inner = then.learningRate(at: step)
            return step < steps ? inner * Double(step + 1) / Double(steps) : inner
        }
    }

    /// The momentum (SGD) or β₁ (AdamW) the schedule sets at `step`, for schedules that cycle it (one-cycle); nil otherwise.
    public func momentum(at step: Int) -> Double? {
        switch self {
        case .oneCycle(let c): return c.cycleMomentum ? c.momentum(at: step) : nil
        case .linearWarmup(_, let then): return then.momentum(at: step)
        default: return nil
        }
    }

    /// A short description for logs and reports.
    public var summary: String {
        switch self {
        case .multiStep(let base, let milestones, let gamma):
            return "multi-step: \(base), ×\(gamma) at steps \(milestones.map(String.init).joined(separator: ", "))"
        case .cosine(let base, let warmup, let total):
            return "cosine: peak \(base), \(warmup) warmup steps, \(total) steps"
        case .constant(let v):
            return "constant \(v)"
        case .oneCycle(let c):
            return
                "one-cycle: max \(c.maxLR), \(c.total) steps, \(c.pctStart) rising, div \(c.divFactor), final div \(c.finalDivFactor)"
                + (c.cycleMomentum ? ", momentum \(c.maxMomentum)→\(c.baseMomentum)→\(c.maxMomentum)" : "")
        case .linearWarmup(let steps, let then):
            return "\(steps) linear warmup steps, then " + then.summary
        }
    }
}
