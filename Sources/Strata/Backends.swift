import Foundation
import StrataDNNL
import StrataTensor

/// Builds the backends `StrataConfiguration` names and installs the process-wide default, once,
/// at program start. The one place that knows every backend (a new one, CUDA or bf16, is added here).
///
/// ```swift
/// StrataBackends.configureDefault()   // from StrataConfiguration.current: the environment, then the CLI's flags
/// ```
public enum StrataBackends {
    /// The backend names the configuration accepts.
    public static let names = StrataConfiguration.BackendName.allCases.map(\.rawValue)

    /// A new backend by name (`dnnl`, `reference`, any case); nil for an unknown name.
    public static func make(
        _ name: String, convolutionAlgorithm: StrataConfiguration.ConvolutionAlgorithm = .auto,
        fusion: Bool = true
    ) -> (any Backend)? {
        StrataConfiguration.BackendName(name: name).map {
            make($0, convolutionAlgorithm: convolutionAlgorithm, fusion: fusion)
        }
    }

    static func make(
        _ name: StrataConfiguration.BackendName, convolutionAlgorithm: StrataConfiguration.ConvolutionAlgorithm,
        fusion: Bool
    ) -> any Backend {
        switch name {
        case .dnnl: return DNNLBackend(convolutionAlgorithm: convolutionAlgorithm, fusion: fusion)
        case .reference: return ReferenceBackend()
        }
    }

    /// Sets `Backends`' default to the backend `configuration` (default: the one in effect) names, with
    /// its convolution algorithm and fusion, and returns it; `configuration` becomes the one in effect.
    @discardableResult
    public static func configureDefault(_ configuration: StrataConfiguration = .current) -> any Backend {
        StrataConfiguration.set(configuration)
        let backend = make(
            configuration.backend, convolutionAlgorithm: configuration.convolutionAlgorithm,
            fusion: configuration.fusion)
        Backends.setDefault(backend)
        return backend
    }

    /// What is wrong with the `STRATA_*` variables in `environment`: one message per variable naming it,
    /// the value found and what is accepted; empty when all are valid or unset. The CLI refuses to
    /// start on any; the library itself keeps the defaults.
    public static func environmentProblems(_ environment: [String: String] = ProcessInfo.processInfo.environment)
        -> [String]
    {
        StrataConfiguration.parse(environment: environment).problems
    }

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
