#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Every setting Strata takes from outside its API, in one place.
///
/// Read from the environment once, at first use (``current``); a program may then replace it
/// (the CLI applies its flags over the environment) before it starts work. Thread-safe to read.
///
/// | variable | values | default | what it sets |
/// |---|---|---|---|
/// | `STRATA_BACKEND` | `dnnl`, `reference` | `dnnl` | the default backend (``backend``) |
/// | `STRATA_NUM_THREADS` | 1…1024 | all cores | threads of oneDNN (OpenMP) and of the reference kernels (``threads``) |
/// | `STRATA_CONV_ALGORITHM` | `auto`, `direct`, `winograd` | `auto` | oneDNN's convolution algorithm (``convolutionAlgorithm``) |
/// | `STRATA_DNNL_FUSION` | `1`, `0` | `1` | fuse inference batch norm, residual add and ReLU into convolutions (``fusion``) |
/// | `STRATA_REMATERIALIZE` | `1`, `0` | `1` | rebuild cheap saved tensors in the backward instead of keeping them (``rematerialize``) |
/// | `STRATA_DNNL_POOL_MIB` | 0…1048576 | no limit | idle memory (MiB) the oneDNN backend keeps for reuse (``bufferPoolMiB``) |
///
/// The README's table is this one (``variables`` is the source of both the validation and the docs).
public struct StrataConfiguration: Sendable, Equatable {
    /// Backends a configuration can name (the umbrella module builds them).
    public enum BackendName: String, CaseIterable, Sendable {
        case dnnl, reference

        /// `dnnl`, `reference` in any case, and the aliases `onednn`, `ref`; nil for anything else.
        public init?(name: String) {
            switch name.lowercased() {
            case "dnnl", "onednn": self = .dnnl
            case "reference", "ref": self = .reference
            default: return nil
            }
        }
    }

    /// How a backend computes 3×3 convolutions (see `DNNLBackend`, which documents each).
    public enum ConvolutionAlgorithm: String, CaseIterable, Sendable {
        /// Direct convolution: the same arithmetic as the definition.
        case direct
        /// Winograd F(4×4, 3×3) where it is faster, direct elsewhere.
        case auto
        /// Winograd wherever there is a kernel for the shape, in training too.
        case winograd

        /// The names `STRATA_CONV_ALGORITHM` and `--conv-algorithm` take.
        public static var names: [String] { allCases.map(\.rawValue) }

        /// `direct`, `auto` or `winograd` (any case); nil for anything else.
        public init?(name: String) { self.init(rawValue: name.lowercased()) }
    }

    public var backend = BackendName.dnnl
    /// Threads for parallel kernels; nil: all cores.
    public var threads: Int?
    public var convolutionAlgorithm = ConvolutionAlgorithm.auto
    public var fusion = true
    public var rematerialize = true
    /// Idle memory the oneDNN buffer pool keeps; nil: no limit.
    public var bufferPoolMiB: Int?

    /// Most threads a configuration may ask for (libgomp fails creating ~100,000).
    public static let maximumThreads = 1024

    public init() {}

    /// One environment variable: its name, what it accepts, and how it sets a configuration.
    public struct Variable: Sendable {
        public let name: String
        public let accepted: String
        public let defaultValue: String
        public let meaning: String
        /// Sets the field from the text; false when the text is not accepted.
        let apply: @Sendable (inout StrataConfiguration, String) -> Bool
    }

    /// The variables, in the order of the table above.
    public static let variables: [Variable] = [
        Variable(
            name: "STRATA_BACKEND", accepted: BackendName.allCases.map(\.rawValue).joined(separator: " or "),
            defaultValue: "dnnl",
            meaning: "the default backend"
        ) { c, s in
            guard let b = BackendName(name: s) else { return false }
            c.backend = b
            return true
        },
        Variable(
            name: "STRATA_NUM_THREADS", accepted: "a whole number of threads from 1 to \(maximumThreads)",
            defaultValue: "all cores",
            meaning: "threads of oneDNN (OpenMP) and of the reference kernels"
        ) { c, s in
            guard let n = Int(s), (1...maximumThreads).contains(n) else { return false }
            c.threads = n
            return true
        },
        Variable(
            name: "STRATA_CONV_ALGORITHM", accepted: ConvolutionAlgorithm.names.joined(separator: ", "),
            defaultValue: "auto",
            meaning: "oneDNN's convolution algorithm"
        ) { c, s in
            guard let a = ConvolutionAlgorithm(name: s) else { return false }
            c.convolutionAlgorithm = a
            return true
        },
        Variable(
            name: "STRATA_DNNL_FUSION", accepted: "0 or 1", defaultValue: "1",
            meaning: "fuse inference batch norm, residual add and ReLU into convolutions"
        ) { c, s in
            guard s == "0" || s == "1" else { return false }
            c.fusion = s == "1"
            return true
        },
        Variable(
            name: "STRATA_REMATERIALIZE", accepted: "0 or 1", defaultValue: "1",
            meaning: "rebuild cheap saved tensors in the backward instead of keeping them"
        ) { c, s in
            guard s == "0" || s == "1" else { return false }
            c.rematerialize = s == "1"
            return true
        },
        Variable(
            name: "STRATA_DNNL_POOL_MIB", accepted: "a whole number of MiB from 0 to 1048576", defaultValue: "no limit",
            meaning: "idle memory the oneDNN backend keeps for reuse"
        ) { c, s in
            guard let n = Int(s), (0...1 << 20).contains(n) else { return false }
            c.bufferPoolMiB = n
            return true
        },
    ]

    /// The process environment's values of ``variables`` (only those that are set).
    public static var environment: [String: String] {
        var found: [String: String] = [:]
        for v in variables { if let s = getenv(v.name) { found[v.name] = String(cString: s) } }
        return found
    }

    /// The configuration `environment` describes, and one message per variable that is set to a value
    /// it does not accept (naming it, the value and what is accepted); such a variable keeps its default.
    public static func parse(environment: [String: String]) -> (configuration: StrataConfiguration, problems: [String])
    {
        var c = StrataConfiguration()
        var problems: [String] = []
        for v in variables {
            guard let text = environment[v.name] else { continue }
            if !v.apply(&c, text) { problems.append("\(v.name)='\(text)': expected \(v.accepted)") }
        }
        return (c, problems)
    }

    private static let lock = PlatformLock()
    nonisolated(unsafe) private static var stored: StrataConfiguration?

    /// The configuration in effect: the environment's (read once; unaccepted values keep their
    /// defaults) unless ``set(_:)`` replaced it.
    public static var current: StrataConfiguration {
        lock.lock()
        defer { lock.unlock() }
        if let stored { return stored }
        let c = parse(environment: environment).configuration
        stored = c
        return c
    }

    /// Changes the configuration in effect in place (atomically).
    public static func update(_ body: (inout StrataConfiguration) -> Void) {
        lock.lock()
        defer { lock.unlock() }
        var c = stored ?? parse(environment: environment).configuration
        body(&c)
        stored = c
    }

    /// Replaces the configuration in effect. Settings read once by a backend (its thread count,
    /// the buffer pool's limit) take effect if set before that backend's first use: at start-up.
    public static func set(_ configuration: StrataConfiguration) {
        lock.lock()
        defer { lock.unlock() }
        stored = configuration
    }
}
