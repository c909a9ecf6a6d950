/// Whether operations are recorded on the autograd tape.
///
/// Recording is on by default. Inside ``withNoGrad(_:)`` nothing is recorded, no
/// buffers are saved for a backward pass, and results never require gradients:
/// inference pays nothing for the tape.
public enum GradMode {
    @TaskLocal static var enabled: Bool = true

    /// True when ops record themselves for the backward pass.
    public static var isEnabled: Bool { enabled }
}

/// Runs `body` with gradient recording switched off.
public func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
    try GradMode.$enabled.withValue(false) { try body() }
}

/// Runs `body` with gradient recording switched on (inside a ``withNoGrad(_:)`` scope).
public func withGrad<R>(_ body: () throws -> R) rethrows -> R {
    try GradMode.$enabled.withValue(true) { try body() }
}
