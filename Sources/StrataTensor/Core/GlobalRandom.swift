import Dispatch

/// The process-wide generator used where no generator is passed (layer initialization,
/// dropout in modules), like `torch.manual_seed`. Access is serialized.
public enum GlobalRandom {
    nonisolated(unsafe) private static var generator = RandomGenerator(seed: 0)
    private static let lock = DispatchQueue(label: "strata.global-random")

    /// Reseeds the global generator.
    public static func seed(_ seed: UInt64) { lock.sync { generator = RandomGenerator(seed: seed) } }

    /// The generator's current state (for checkpoints).
    public static var state: RandomGenerator {
        get { lock.sync { generator } }
        set { lock.sync { generator = newValue } }
    }

    /// Runs `body` with exclusive access to the global generator.
    public static func use<R>(_ body: (inout RandomGenerator) throws -> R) rethrows -> R {
        try lock.sync { try body(&generator) }
    }
}
