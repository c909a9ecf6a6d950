import Foundation
import StrataTensor

/// Chooses the process-wide default backend from the environment, once, at program start.
///
/// | variable | values | default |
/// |---|---|---|
/// | `STRATA_BACKEND` | `dnnl`, `reference` | `dnnl` |
/// | `STRATA_NUM_THREADS` | threads for oneDNN (OpenMP) and the reference kernels, 1…1024 | all cores |
/// | `STRATA_CONV_ALGORITHM` | `auto` (Winograd for 3×3 convolutions where it is faster, see ``DNNLBackend/ConvolutionAlgorithm``), `direct`, `winograd` | `auto` |
/// | `STRATA_DNNL_FUSION` | `1`, `0`: fuse inference batch norm, residual add and ReLU into convolutions | `1` |
/// | `STRATA_DNNL_POOL_MIB` | idle memory (MiB) the oneDNN backend keeps for reuse | no limit |
///
/// ```swift
/// StrataBackends.configureDefault()   // the CLI does this first thing
/// ```
public enum StrataBackends {
    /// The backend names `STRATA_BACKEND` accepts.
    public static let names = ["dnnl", "reference"]

    /// A new backend by name (`dnnl`, `reference`); nil for an unknown name.
    public static func make(_ name: String, convolutionAlgorithm: DNNLBackend.ConvolutionAlgorithm = .auto,
                            fusion: Bool = true) -> (any Backend)? {
        switch canonicalName(name) {
        case "dnnl": return DNNLBackend(convolutionAlgorithm: convolutionAlgorithm, fusion: fusion)
        case "reference": return ReferenceBackend()
        default: return nil
        }
    }

    /// `dnnl` or `reference` for a name `STRATA_BACKEND` accepts (any case; `onednn`, `ref` too), else nil.
    static func canonicalName(_ name: String) -> String? {
        switch name.lowercased() {
        case "dnnl", "onednn": return "dnnl"
        case "reference", "ref": return "reference"
        default: return nil
        }
    }

    /// Sets ``Backends`` default from `STRATA_BACKEND` (or `name` when given), the oneDNN
    /// thread count from `STRATA_NUM_THREADS` (or `threads`), and returns the backend chosen.
    /// An unknown backend or convolution algorithm name is reported on standard error and the
    /// default is used.
    @discardableResult
    public static func configureDefault(backend name: String? = nil, threads: Int? = nil,
                                        convolutionAlgorithm: DNNLBackend.ConvolutionAlgorithm? = nil) -> any Backend {
        let env = ProcessInfo.processInfo.environment
        if let threads, threads > 0 { DNNLThreads.count = threads }
        let algorithm = convolutionAlgorithm ?? environmentConvolutionAlgorithm
        let requested = name ?? env["STRATA_BACKEND"] ?? "dnnl"
        let fusion = env["STRATA_DNNL_FUSION"] != "0"
        let backend: any Backend
        if let b = make(requested, convolutionAlgorithm: algorithm, fusion: fusion) {
            backend = b
        } else {
            FileHandle.standardError.write(Data("strata: unknown backend '\(requested)' (STRATA_BACKEND: \(names.joined(separator: ", "))); using dnnl\n".utf8))
            backend = DNNLBackend(convolutionAlgorithm: algorithm, fusion: fusion)
        }
        Backends.setDefault(backend)
        return backend
    }

    /// Most threads `STRATA_NUM_THREADS` may ask for (libgomp fails creating ~100,000).
    public static let maximumThreads = maximumThreadCount

    /// What is wrong with the `STRATA_*` variables in `environment`, one message per variable naming it,
    /// the value found and what is accepted; empty when all are valid or unset. The CLI refuses to
    /// start on any; the library itself falls back to the defaults.
    public static func environmentProblems(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        var problems: [String] = []
        func check(_ name: String, _ accepted: String, _ valid: (String) -> Bool) {
            if let value = environment[name], !valid(value) { problems.append("\(name)='\(value)': expected \(accepted)") }
        }
        check("STRATA_BACKEND", names.joined(separator: " or ")) { canonicalName($0) != nil }
        check("STRATA_NUM_THREADS", "a whole number of threads from 1 to \(maximumThreads)") {
            Int($0).map { (1...maximumThreads).contains($0) } ?? false
        }
        check("STRATA_CONV_ALGORITHM", DNNLBackend.ConvolutionAlgorithm.names.joined(separator: ", ")) {
            DNNLBackend.ConvolutionAlgorithm(name: $0) != nil
        }
        check("STRATA_DNNL_FUSION", "0 or 1") { $0 == "0" || $0 == "1" }
        check("STRATA_REMATERIALIZE", "0 or 1") { $0 == "0" || $0 == "1" }
        check("STRATA_DNNL_POOL_MIB", "a whole number of MiB from 0 to 1048576") { Int($0).map { (0...1 << 20).contains($0) } ?? false }
        return problems
    }

    /// `STRATA_CONV_ALGORITHM`, read once (an unknown value is reported once, and `auto` used).
    static let environmentConvolutionAlgorithm: DNNLBackend.ConvolutionAlgorithm = {
        guard let s = ProcessInfo.processInfo.environment["STRATA_CONV_ALGORITHM"] else { return .auto }
        if let chosen = DNNLBackend.ConvolutionAlgorithm(name: s) { return chosen }
        let names = DNNLBackend.ConvolutionAlgorithm.names.joined(separator: ", ")
        FileHandle.standardError.write(Data("strata: unknown convolution algorithm '\(s)' (STRATA_CONV_ALGORITHM: \(names)); using auto\n".utf8))
        return .auto
    }()

    /// Makes sure OpenMP threads sleep rather than spin between oneDNN's parallel regions, by
    /// re-executing the current program with `OMP_WAIT_POLICY=PASSIVE` when the variable is unset
    /// (libgomp reads it once, as it loads, before any Swift code runs). Returns only when no
    /// re-execution was needed (or it failed). For command-line tools, first thing in `main`.
    ///
    /// Why: with the default policy, idle OpenMP threads spin for a while after every primitive
    /// and take the cores from the Swift kernels and data loading that run between primitives,
    /// and from other processes. Measured on 2 cores: `strata train --epochs 1` (LeNet-5)
    /// 29.8 s with the default policy, 4.3 s passive; oneDNN kernels up to 10× slower when another
    /// process used a core.
    ///
    /// A short spin before sleeping (`GOMP_SPINCOUNT`=``spinCount`` unless set) catches the next
    /// primitive when it follows within microseconds, without the futex wake-up a pure passive wait
    /// costs: DenseNet-121 inference at batch 1 ran 14.0 img/s passive, 21.1 with the short spin (and
    /// as fast as spinning without limit); ResNet-20 training 690 → 721 img/s; LeNet-5's first epoch
    /// 3.9 → 3.5 s.
    public static func reexecWithPassiveOpenMPIfNeeded() {
        guard getenv("OMP_WAIT_POLICY") == nil else { return }
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1)
        if getenv("GOMP_SPINCOUNT") == nil { setenv("GOMP_SPINCOUNT", "\(spinCount)", 1) }
        execv(Platform.executablePath, CommandLine.unsafeArgv)
    }

    /// Spins (libgomp's busy-wait iterations, tens of microseconds) before an idle OpenMP thread sleeps.
    public static let spinCount = 10_000
}
