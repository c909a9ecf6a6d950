#if canImport(Glibc)
import Glibc
#endif

/// Learning rate as a function of the optimizer step (0-based).
public enum LearningRateSchedule: Sendable, Equatable {
    /// `base`, divided by 10 at each milestone step (He et al.: 32k and 48k).
    case multiStep(base: Double, milestones: [Int], gamma: Double = 0.1)
    /// Linear warmup from 0 over `warmup` steps, then cosine decay to 0 at `total`.
    case cosine(base: Double, warmup: Int, total: Int)
    /// A constant rate.
    case constant(Double)

    public func learningRate(at step: Int) -> Double {
        switch self {
        case let .multiStep(base, milestones, gamma):
            return base * pow(gamma, Double(milestones.filter { step >= $0 }.count))
        case let .cosine(base, warmup, total):
            if step < warmup { return base * Double(step + 1) / Double(warmup) }
            let t = Double(step - warmup) / Double(Swift.max(1, total - warmup))
            return base * 0.5 * (1 + cos(Double.pi * Swift.min(1, t)))
        case let .constant(v):
            return v
        }
    }
}
