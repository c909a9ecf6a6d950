import Foundation
import StrataTensor

/// Chooses the process-wide default backend from the environment, once, at program start.
///
/// | variable | values | default |
/// |---|---|---|
/// | `STRATA_BACKEND` | `dnnl`, `reference` | `dnnl` |
/// | `STRATA_NUM_THREADS` | threads for oneDNN (OpenMP) and the reference kernels | all cores |
/// | `STRATA_CONV_ALGORITHM` | `auto` (Winograd for 3×3 convolutions where oneDNN finds it faster), `direct` | `auto` |
/// | `STRATA_DNNL_FUSION` | `1`, `0`: fuse inference batch norm, residual add and ReLU into convolutions | `1` |
/// | `STRATA_DNNL_POOL_MIB` | idle memory (MiB) the oneDNN backend keeps for reuse | `256` |
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
        switch name.lowercased() {
        case "dnnl", "onednn": return DNNLBackend(convolutionAlgorithm: convolutionAlgorithm, fusion: fusion)
        case "reference", "ref": return ReferenceBackend()
        default: return nil
        }
    }

    /// Sets ``Backends`` default from `STRATA_BACKEND` (or `name` when given), the oneDNN
    /// thread count from `STRATA_NUM_THREADS` (or `threads`), and returns the backend chosen.
    /// An unknown backend name is reported on standard error and the default (oneDNN) is used.
    @discardableResult
    public static func configureDefault(backend name: String? = nil, threads: Int? = nil,
                                        convolutionAlgorithm: DNNLBackend.ConvolutionAlgorithm? = nil) -> any Backend {
        let env = ProcessInfo.processInfo.environment
        if let threads, threads > 0 { DNNLThreads.count = threads }
        let algorithm = convolutionAlgorithm ?? (env["STRATA_CONV_ALGORITHM"]?.lowercased() == "direct" ? .direct : .auto)
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
}
