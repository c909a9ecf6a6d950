import ArgumentParser
import Foundation
import Strata

/// `strata bench`: throughput of whole networks, inference and training steps.
///
/// Each case runs in its own child process (the same executable with one case selected), so
/// that peak RSS is that case's and no case inherits another's caches or heap.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Measure images/s, ms per batch, GFLOP/s and peak memory of zoo models (inference and training steps).",
        discussion: """
            Default cases: inference at 224×224, batch 1 and 32 (resnet18, resnet50, densenet121, googlenet, vgg16);
            training steps (forward + backward + SGD with momentum) of CIFAR resnet20 and resnet56 at batch 128,
            densenet_bc_100 at batch 64 and resnet50 at batch 32. Filters select cases; a --model/--mode/--batch
            combination outside the defaults runs as given. GFLOP/s counts 2 × MACs per image for inference and
            3 × that (forward + backward) for a training step. Times are medians after one warm-up iteration.
            Backend and threads: --backend/--threads, else STRATA_BACKEND / STRATA_NUM_THREADS. Each case runs in a
            child process of its own (peak RSS is that case's).
            """)

    @Option(name: .customLong("model"), help: "Only these models (repeatable or comma-separated).") var models:
        [String] = []
    @Option(help: "Only this mode: inference or training.") var mode: Mode?
    @Option(help: "Only this batch size.") var batch: Int?
    @Option(help: "Timed iterations per case (default: at least 3 and about 5 s).") var iterations: Int?
    @Option(help: "Threads for the backend (default: all cores, or STRATA_NUM_THREADS).") var threads: Int?
    @Option(help: "Backend: dnnl or reference (default: STRATA_BACKEND, else dnnl).") var backend:
        StrataConfiguration.BackendName?
    @Option(
        help:
            "Convolution algorithm for dnnl: auto (the default: Winograd where faster, by oneDNN's choice in inference and for 3×3 layers with ≥ 32 channels in training), direct, or winograd (wherever oneDNN has a Winograd kernel) (else STRATA_CONV_ALGORITHM)."
    ) var convAlgorithm: StrataConfiguration.ConvolutionAlgorithm?
    @Flag(help: "Print one JSON object per case instead of a table.") var json = false
    @Flag(help: "Run the cases in this process (no child processes; OMP_WAIT_POLICY as inherited).") var inProcess =
        false
    @Option(
        help:
            "OpenMP wait policy for the cases: passive or active (default: OMP_WAIT_POLICY, which strata sets to passive when unset). Passive (sleep between parallel regions) is robust when other processes share the cores; active (spin) can be faster on an idle machine."
    )
    var ompWaitPolicy: String?
    @Flag(help: "Print where the time goes: wall time per backend kernel, and outside the backend (one case).")
    var profile = false
    @Flag(
        help:
            "Instead of timing: how far Winograd (--conv-algorithm auto) logits are from direct convolution's, per selected model (eval mode, --batch or 32)."
    )
    var winogradError = false
    @Option(
        help: ArgumentHelp(
            "Instead of the models: time single 3×3 stride-1 inference convolutions N×C×K×H×W (comma-separated), direct against --conv-algorithm (default auto), interleaved.",
            valueName: "N×C×K×H×W,..."))
    var convLayers: String?

    /// What a case times: a forward pass without gradients, or a training step (forward, backward, SGD update).
    enum Mode: String, CaseIterable, ExpressibleByArgument, Sendable {
        case inference, training
    }

    struct Case: Equatable {
        let model: String, mode: Mode, batch: Int
    }

    static let defaultCases: [Case] =
        ["resnet18", "resnet50", "densenet121", "googlenet", "vgg16"].flatMap { m in
            [1, 32].map { Case(model: m, mode: .inference, batch: $0) }
        }
        + [
            Case(model: "resnet20", mode: .training, batch: 128), Case(model: "resnet56", mode: .training, batch: 128),
            Case(model: "densenet_bc_100", mode: .training, batch: 64),
            Case(model: "resnet50", mode: .training, batch: 32),
        ]
    func validate() throws {
        if let batch, !(1...4096).contains(batch) {
            throw ValidationError("--batch must be from 1 to 4096, got \(batch)")
        }
        if let iterations, !(1...100_000).contains(iterations) {
            throw ValidationError("--iterations must be from 1 to 100,000, got \(iterations)")
        }
        if let threads, !(1...StrataConfiguration.maximumThreads).contains(threads) {
            throw ValidationError("--threads must be from 1 to \(StrataConfiguration.maximumThreads), got \(threads)")
        }
        if let ompWaitPolicy, !["passive", "active"].contains(ompWaitPolicy) {
            throw ValidationError("--omp-wait-policy must be passive or active")
        }
        if ompWaitPolicy != nil && inProcess {
            throw ValidationError("--omp-wait-policy needs child processes (drop --in-process)")
        }
        for m in selectedModels { _ = try Models.entry(m) }
    }

    var selectedModels: [String] { models.flatMap { $0.split(separator: ",").map(String.init) } }

    var cases: [Case] {
        let ms = selectedModels
        var selected = Self.defaultCases.filter { c in
            (ms.isEmpty || ms.contains(c.model)) && (mode == nil || c.mode == mode)
                && (batch == nil || c.batch == batch)
        }
        if selected.isEmpty && !ms.isEmpty {
            // Outside the default list: run what was asked for.
            for m in ms {
                for md in mode.map({ [$0] }) ?? Mode.allCases {
                    selected.append(Case(model: m, mode: md, batch: batch ?? (md == .inference ? 1 : 32)))
                }
            }
        }
        return selected
    }

    func run() throws {
        let algorithm = convAlgorithm
        var configuration = StrataConfiguration.current // the environment's, then these flags
        if let backend { configuration.backend = backend }
        if let threads { configuration.threads = threads }
        if let algorithm { configuration.convolutionAlgorithm = algorithm }
        let chosen = StrataBackends.configureDefault(configuration)
        let threadCount =
            chosen is DNNLBackend ? DNNLThreads.count : (threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let todo = cases
        if todo.isEmpty { throw ValidationError("no benchmark case matches the filters") }
        if let convLayers {
            try timeConvolutionLayers(convLayers, algorithm: algorithm ?? .auto)
            return
        }
        if winogradError {
            var seen = Set<String>()
            for c in todo where seen.insert(c.model).inserted { try printWinogradError(c.model) }
            return
        }
        if !json {
            print(
                "backend \(chosen.name), \(threadCount) threads\(convAlgorithm.map { ", conv \($0.rawValue)" } ?? ""); \(DNNLCapabilities.summary)"
            )
            print(
                "Model".padded(toWidth: 17) + "Mode".padded(toWidth: 11) + "Batch".leftPadded(toWidth: 6)
                    + "img/s".leftPadded(toWidth: 10) + "ms/batch".leftPadded(toWidth: 11)
                    + "GFLOP/s".leftPadded(toWidth: 9) + "peak RSS MiB".leftPadded(toWidth: 14))
        }
        for c in todo {
            let result: Result
            if inProcess {
                result = try measure(c, threads: threadCount, backendName: chosen.name)
            } else {
                result = try runChild(c)
            }
            if json {
                print(result.jsonLine)
            } else {
                print(
                    c.model.padded(toWidth: 17) + c.mode.rawValue.padded(toWidth: 11)
                        + "\(c.batch)".leftPadded(toWidth: 6) + fixed(result.imagesPerSecond, 1).leftPadded(toWidth: 10)
                        + fixed(result.msPerBatch, 1).leftPadded(toWidth: 11)
                        + fixed(result.gflops, 1).leftPadded(toWidth: 9)
                        + fixed(result.peakRSSMiB, 0).leftPadded(toWidth: 14))
            }
            fflush(stdout)
        }
    }
}

// Backend names and algorithms as typed options (any case; `onednn` and `ref` too).
extension StrataConfiguration.BackendName: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
}

extension StrataConfiguration.ConvolutionAlgorithm: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
}
