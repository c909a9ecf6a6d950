#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Ctrl-C (SIGINT) and SIGTERM as a flag a training loop polls: the first signal sets the flag,
/// the trainer finishes its current step, saves a resumable checkpoint and returns. The handler
/// resets itself on delivery (`SA_RESETHAND`), so a second Ctrl-C terminates at once (the
/// checkpoint being written then is abandoned; the previous one is intact).
public enum InterruptSignal {
    /// Written by the signal handler; a lock-free word, so reading and writing it is signal-safe.
    nonisolated(unsafe) static let flag: UnsafeMutablePointer<sig_atomic_t> = {
        let p = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: 1)
        p.initialize(to: 0)
        return p
    }()
    nonisolated(unsafe) static var previous: [Int32: sigaction] = [:]

    /// The signal that set the flag (SIGINT or SIGTERM), or 0.
    public static var received: Int32 { flag.pointee }

    /// Installs the handler for SIGINT and SIGTERM (keeping the previous actions for ``uninstall()``).
    public static func install() {
        _ = flag
        for sig in [SIGINT, SIGTERM] {
            var action = sigaction()
            #if canImport(Glibc)
                action.__sigaction_handler.sa_handler = { s in InterruptSignal.flag.pointee = sig_atomic_t(s) }
                action.sa_flags = Int32(truncatingIfNeeded: SA_RESETHAND)
            #else
                action.__sigaction_u.__sa_handler = { s in InterruptSignal.flag.pointee = sig_atomic_t(s) }
                action.sa_flags = SA_RESETHAND
            #endif
            sigemptyset(&action.sa_mask)
            var old = sigaction()
            if sigaction(sig, &action, &old) == 0, previous[sig] == nil { previous[sig] = old }
        }
    }

    /// Restores the actions in place before ``install()``.
    public static func uninstall() {
        for (sig, old) in previous {
            var o = old
            sigaction(sig, &o, nil)
        }
        previous = [:]
    }

    /// Clears the flag.
    public static func reset() { flag.pointee = 0 }
}
