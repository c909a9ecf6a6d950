import ArgumentParser
import Foundation
import Strata

/// `strata bench`: throughput of whole networks, inference and training steps.
///
/// Each case runs in its own child process (the same executable with one case selected), so
/// that peak RSS is that case's and no case inherits another's caches or heap.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure images/s, ms per batch, GFLOP/s and peak memory of zoo models (inference and training steps).",
        discussion: """
        Default cases: inference at 224×224, batch 1 and 32 (resnet18, resnet50, densenet121, googlenet, vgg16);
        training steps (forward + backward + SGD with momentum) of CIFAR resnet20 and resnet56 at batch 128,
        densenet_bc_100 at batch 64 and resnet50 at batch 32. Filters select cases; a --model/--mode/--batch
        combination outside the defaults runs as given. GFLOP/s counts 2 × MACs per image for inference and
        3 × that (forward + backward) for a training step. Times are medians after one warm-up iteration.
        Backend and threads: --backend/--threads, else STRATA_BACKEND / STRATA_NUM_THREADS. Each case runs in a
        child process of its own (peak RSS is that case's).
        """)

    @Option(name: .customLong("model"), help: "Only these models (repeatable or comma-separated).") var models: [String] = []
    @Option(help: "Only this mode: inference or training.") var mode: String?
    @Option(help: "Only this batch size.") var batch: Int?
    @Option(help: "Timed iterations per case (default: at least 3 and about 5 s).") var iterations: Int?
    @Option(help: "Threads for the backend (default: all cores, or STRATA_NUM_THREADS).") var threads: Int?
    @Option(help: "Backend: dnnl or reference (default: STRATA_BACKEND, else dnnl).") var backend: String?
    @Option(help: "Convolution algorithm for dnnl: auto (the default: Winograd where faster, by oneDNN's choice in inference and for 3×3 layers with ≥ 32 channels in training), direct, or winograd (wherever oneDNN has a Winograd kernel) (else STRATA_CONV_ALGORITHM).") var convAlgorithm: String?
    @Flag(help: "Print one JSON object per case instead of a table.") var json = false
    @Flag(help: "Run the cases in this process (no child processes; OMP_WAIT_POLICY as inherited).") var inProcess = false
    @Option(help: "OpenMP wait policy for the cases: passive or active (default: OMP_WAIT_POLICY, which strata sets to passive when unset). Passive (sleep between parallel regions) is robust when other processes share the cores; active (spin) can be faster on an idle machine.")
    var ompWaitPolicy: String?
    @Flag(help: "Print where the time goes: wall time per backend kernel, and outside the backend (one case).") var profile = false
    @Flag(help: "Instead of timing: how far Winograd (--conv-algorithm auto) logits are from direct convolution's, per selected model (eval mode, --batch or 32).")
    var winogradError = false
    @Option(help: ArgumentHelp("Instead of the models: time single 3×3 stride-1 inference convolutions N×C×K×H×W (comma-separated), direct against --conv-algorithm (default auto), interleaved.", valueName: "N×C×K×H×W,..."))
    var convLayers: String?

    struct Case: Equatable {
        let model: String, mode: String, batch: Int
    }

    static let defaultCases: [Case] =
        ["resnet18", "resnet50", "densenet121", "googlenet", "vgg16"].flatMap { m in [1, 32].map { Case(model: m, mode: "inference", batch: $0) } }
        + [Case(model: "resnet20", mode: "training", batch: 128), Case(model: "resnet56", mode: "training", batch: 128),
           Case(model: "densenet_bc_100", mode: "training", batch: 64), Case(model: "resnet50", mode: "training", batch: 32)]

    func validate() throws {
        if let mode, !["inference", "training"].contains(mode) { throw ValidationError("--mode must be inference or training, got '\(mode)'") }
        if let batch, !(1...4096).contains(batch) { throw ValidationError("--batch must be from 1 to 4096, got \(batch)") }
        if let iterations, !(1...100_000).contains(iterations) { throw ValidationError("--iterations must be from 1 to 100,000, got \(iterations)") }
        if let threads, !(1...StrataConfiguration.maximumThreads).contains(threads) {
            throw ValidationError("--threads must be from 1 to \(StrataConfiguration.maximumThreads), got \(threads)")
        }
        if let backend, StrataConfiguration.BackendName(name: backend) == nil {
            throw ValidationError("--backend must be one of \(StrataBackends.names.joined(separator: ", ")), got '\(backend)'")
        }
        if let convAlgorithm, DNNLBackend.ConvolutionAlgorithm(name: convAlgorithm) == nil {
            throw ValidationError("--conv-algorithm: '\(convAlgorithm)' is not one of \(DNNLBackend.ConvolutionAlgorithm.names.joined(separator: ", "))")
        }
        if let ompWaitPolicy, !["passive", "active"].contains(ompWaitPolicy) { throw ValidationError("--omp-wait-policy must be passive or active") }
        if ompWaitPolicy != nil && inProcess { throw ValidationError("--omp-wait-policy needs child processes (drop --in-process)") }
        for m in selectedModels { _ = try Models.entry(m) }
    }

    var selectedModels: [String] { models.flatMap { $0.split(separator: ",").map(String.init) } }

    var cases: [Case] {
        let ms = selectedModels
        var selected = Self.defaultCases.filter { c in
            (ms.isEmpty || ms.contains(c.model)) && (mode == nil || c.mode == mode) && (batch == nil || c.batch == batch)
        }
        if selected.isEmpty && !ms.isEmpty {
            // Outside the default list: run what was asked for.
            for m in ms {
                for md in mode.map({ [$0] }) ?? ["inference", "training"] {
                    selected.append(Case(model: m, mode: md, batch: batch ?? (md == "inference" ? 1 : 32)))
                }
            }
        }
        return selected
    }

    func run() throws {
        let algorithm = convAlgorithm.flatMap(DNNLBackend.ConvolutionAlgorithm.init(name:))
        var configuration = StrataConfiguration.current   // the environment's, then these flags
        if let backend { configuration.backend = StrataConfiguration.BackendName(name: backend)! }
        if let threads { configuration.threads = threads }
        if let algorithm { configuration.convolutionAlgorithm = algorithm }
        let chosen = StrataBackends.configureDefault(configuration)
        let threadCount = chosen is DNNLBackend ? DNNLThreads.count : (threads ?? ProcessInfo.processInfo.activeProcessorCount)
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
            print("backend \(chosen.name), \(threadCount) threads\(convAlgorithm.map { ", conv \($0)" } ?? ""); \(DNNLCapabilities.summary)")
            print("Model".padded(toWidth: 17) + "Mode".padded(toWidth: 11) + "Batch".leftPadded(toWidth: 6) + "img/s".leftPadded(toWidth: 10) + "ms/batch".leftPadded(toWidth: 11)
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
                print(result.json)
            } else {
                print(c.model.padded(toWidth: 17) + c.mode.padded(toWidth: 11) + "\(c.batch)".leftPadded(toWidth: 6) + fixed(result.imagesPerSecond, 1).leftPadded(toWidth: 10)
                      + fixed(result.msPerBatch, 1).leftPadded(toWidth: 11) + fixed(result.gflops, 1).leftPadded(toWidth: 9) + fixed(result.peakRSSMiB, 0).leftPadded(toWidth: 14))
            }
            fflush(stdout)
        }
    }

    struct Result {
        var model: String, mode: String, batch: Int, threads: Int, backend: String
        var imagesPerSecond: Double, msPerBatch: Double, gflops: Double, peakRSSMiB: Double
        /// oneDNN's instruction set in the process that measured ("avx2", "avx512_core", ...).
        var isa = DNNLCapabilities.isa

        var json: String {
            #"{"model": "\#(model)", "mode": "\#(mode)", "batch": \#(batch), "threads": \#(threads), "backend": "\#(backend)", "isa": "\#(isa)", "channel_block": \#(DNNLCapabilities.channelBlock), "images_per_second": \#(fixed(imagesPerSecond, 2)), "ms_per_batch": \#(fixed(msPerBatch, 2)), "gflops": \#(fixed(gflops, 1)), "peak_rss_mib": \#(fixed(peakRSSMiB, 0))}"#
        }

        init(model: String, mode: String, batch: Int, threads: Int, backend: String, imagesPerSecond: Double, msPerBatch: Double,
             gflops: Double, peakRSSMiB: Double) {
            (self.model, self.mode, self.batch, self.threads, self.backend) = (model, mode, batch, threads, backend)
            (self.imagesPerSecond, self.msPerBatch, self.gflops, self.peakRSSMiB) = (imagesPerSecond, msPerBatch, gflops, peakRSSMiB)
        }

        /// Parses a child's JSON line (the format `json` writes).
        init?(jsonLine: String) {
            guard let data = jsonLine.data(using: .utf8), let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let model = o["model"] as? String, let mode = o["mode"] as? String, let batch = o["batch"] as? Int,
                  let threads = o["threads"] as? Int, let backend = o["backend"] as? String,
                  let ips = (o["images_per_second"] as? NSNumber)?.doubleValue, let ms = (o["ms_per_batch"] as? NSNumber)?.doubleValue,
                  let gf = (o["gflops"] as? NSNumber)?.doubleValue, let rss = (o["peak_rss_mib"] as? NSNumber)?.doubleValue
            else { return nil }
            self.init(model: model, mode: mode, batch: batch, threads: threads, backend: backend, imagesPerSecond: ips,
                      msPerBatch: ms, gflops: gf, peakRSSMiB: rss)
            if let isa = o["isa"] as? String { self.isa = isa }
        }
    }

    /// Runs one case in a child process of this executable and reads its JSON line.
    func runChild(_ c: Case) throws -> Result {
        var args = ["bench", "--model", c.model, "--mode", c.mode, "--batch", "\(c.batch)", "--json", "--in-process"]
        if let iterations { args += ["--iterations", "\(iterations)"] }
        if let threads { args += ["--threads", "\(threads)"] }
        if let backend { args += ["--backend", backend] }
        if let convAlgorithm { args += ["--conv-algorithm", convAlgorithm] }
        if profile { args.append("--profile") }
        let process = Process()
        // libgomp reads OMP_WAIT_POLICY once, when it loads: it can only be chosen for a new process.
        var environment = ProcessInfo.processInfo.environment
        if let ompWaitPolicy {
            environment["OMP_WAIT_POLICY"] = ompWaitPolicy
            // Strata's short spin before sleeping would cut an active wait short.
            if ompWaitPolicy.lowercased() == "active" { environment["GOMP_SPINCOUNT"] = nil }
        }
        process.environment = environment
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0].contains("/") ? CommandLine.arguments[0] : Platform.executablePath)
        process.arguments = args
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        for extra in lines.dropLast() { print(extra) }   // --profile tables
        guard process.terminationStatus == 0, let line = lines.last, let result = Result(jsonLine: String(line)) else {
            // The child printed its error on stderr already; this is no usage error.
            throw CommandFailure("benchmark case \(c.model) \(c.mode) batch \(c.batch) failed (exit \(process.terminationStatus))")
        }
        return result
    }

    /// Logits of `model` in eval mode with direct and with Winograd-enabled convolutions, and
    /// their scaled difference max|Δ| / max|direct|.
    func printWinogradError(_ name: String) throws {
        GlobalRandom.seed(0)
        let entry = try Models.entry(name)
        let model = try Models.make(name)
        model.eval()
        var rng = RandomGenerator(seed: 1)
        let x = Tensor.normal([batch ?? 32] + entry.input, generator: &rng)
        let direct = withNoGrad { Backends.with(DNNLBackend(convolutionAlgorithm: .direct)) { model(x) } }.floats
        let auto = withNoGrad { Backends.with(DNNLBackend(convolutionAlgorithm: .auto)) { model(x) } }.floats
        let scale = direct.map { abs($0) }.max() ?? 0
        let worst = zip(direct, auto).map { abs($0 - $1) }.max() ?? 0
        print("\(name.padded(toWidth: 17)) max |Δ| \(String(format: "%.3g", worst))  max |logit| \(String(format: "%.3g", scale))  scaled error \(String(format: "%.3g", worst / max(scale, 1e-30)))")
        fflush(stdout)
    }

    /// Times inference convolutions (conv → ReLU, deferred and fused as in a model) with direct
    /// convolution and with `algorithm`, alternating, and prints the medians and their ratio.
    func timeConvolutionLayers(_ specs: String, algorithm: DNNLBackend.ConvolutionAlgorithm) throws {
        print("layer (N×C×K×H×W, 3×3, pad 1)   direct ms   \(algorithm.rawValue) ms   speed-up   (\(DNNLCapabilities.summary))")
        for spec in specs.split(separator: ",") {
            let d: [Int]
            do {
                d = try ShapeText.parse(String(spec), rank: 5, option: "--conv-layers", layout: "N×C×K×H×W such as 32x64x64x56x56",
                                        maxElements: Int.max)
            } catch let e as ShapeText.ParseError { throw ValidationError(e.description) }
            func elements(_ dims: [Int]) -> Int { dims.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 } }
            guard elements([d[0], max(d[1], d[2]), d[3], d[4]]) <= 1 << 28 else {
                throw ValidationError("--conv-layers: '\(spec)' needs tensors of more than 2^28 elements")
            }
            var rng = RandomGenerator(seed: 1)
            let x = Tensor.normal([d[0], d[1], d[3], d[4]], generator: &rng)
            let w = Tensor.normal([d[2], d[1], 3, 3], generator: &rng) * 0.05
            let backends = [DNNLBackend(convolutionAlgorithm: .direct), DNNLBackend(convolutionAlgorithm: algorithm)]
            var times = [[Double]](repeating: [], count: 2)
            for round in 0..<(2 + (iterations ?? 5)) {
                for (i, b) in backends.enumerated() {
                    let t0 = MonotonicClock.now()
                    withNoGrad { Backends.with(b) { _ = conv2d(x, weight: w, .init(padding: 1)).relu().representation } }
                    if round >= 2 { times[i].append(MonotonicClock.now() - t0) }
                }
            }
            let medians = times.map { $0.sorted()[$0.count / 2] * 1000 }
            print("\(String(spec).padded(toWidth: 32))\(fixed(medians[0], 2).leftPadded(toWidth: 10))\(fixed(medians[1], 2).leftPadded(toWidth: 10))\(fixed(medians[0] / medians[1], 2).leftPadded(toWidth: 11))")
            fflush(stdout)
        }
    }

    /// Times one case in this process.
    func measure(_ c: Case, threads: Int, backendName: String) throws -> Result {
        GlobalRandom.seed(0)
        let entry = try Models.entry(c.model)
        let model = try Models.make(c.model)
        let summary = ModelSummary(model, input: entry.input)
        try summary.checkMemory(batch: c.batch, training: c.mode != "inference", what: "\(c.model) at --batch \(c.batch)")
        let macs = summary.macs
        var rng = RandomGenerator(seed: 1)
        let x = Tensor.normal([c.batch] + entry.input, generator: &rng)
        let labels = (0..<c.batch).map { $0 % entry.classes }

        let step: () -> Void
        if c.mode == "inference" {
            model.eval()
            step = { _ = withNoGrad { model(x) } }
        } else {
            model.train()
            let optimizer = SGD(model.parameters(), momentum: 0.9, weightDecay: 1e-4)
            step = {
                optimizer.zeroGrad()
                crossEntropy(model(x), labels: labels).backward()
                optimizer.step(lr: 0.01)
            }
        }
        step()   // warm-up: primitive creation, weight reorders, first-touch of buffers
        if profile {
            let profiler = ProfilingBackend(Backends.current)
            let n = iterations ?? 3
            let t0 = MonotonicClock.now()
            Backends.with(profiler) { for _ in 0..<n { step() } }
            print(profiler.report(total: MonotonicClock.now() - t0, iterations: n))
            let pool = BufferPool.statistics
            print("oneDNN buffers: peak in use \(pool.peakLive >> 20) MiB, idle in pool \(pool.idle >> 20) MiB; peak RSS \(Int(peakRSSMiB())) MiB")
        }
        var times: [Double] = []
        let start = MonotonicClock.now()
        while true {
            let t0 = MonotonicClock.now()
            step()
            times.append(MonotonicClock.now() - t0)
            if let iterations {
                if times.count >= iterations { break }
            } else if times.count >= 3 && MonotonicClock.now() - start >= 5 || times.count >= 200 {
                break
            }
        }
        times.sort()
        let median = times.count % 2 == 1 ? times[times.count / 2] : (times[times.count / 2 - 1] + times[times.count / 2]) / 2
        let ips = Double(c.batch) / median
        let flopsPerImage = Double(macs) * 2 * (c.mode == "training" ? 3 : 1)
        return Result(model: c.model, mode: c.mode, batch: c.batch, threads: threads, backend: backendName, imagesPerSecond: ips,
                      msPerBatch: median * 1000, gflops: flopsPerImage * ips / 1e9, peakRSSMiB: peakRSSMiB())
    }
}

/// The process's peak resident set size so far, in MiB.
func peakRSSMiB() -> Double { Double(Platform.peakResidentBytes) / 1_048_576 }

/// `v` with `digits` decimals.
func fixed(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }

/// Wraps a backend and accumulates wall time per kernel (`strata bench --profile`); the time
/// outside every kernel is elementwise ops, autograd bookkeeping and the optimizer.
final class ProfilingBackend: Backend, @unchecked Sendable {
    let base: any Backend
    var name: String { base.name + "+profile" }
    private(set) var totals: [String: (calls: Int, seconds: Double)] = [:]
    init(_ base: any Backend) { self.base = base }

    func reset() { totals = [:] }

    @inline(__always)
    private func time<R>(_ op: String, _ body: () -> R) -> R {
        let t0 = MonotonicClock.now()
        let r = body()
        let dt = MonotonicClock.now() - t0
        let old = totals[op] ?? (0, 0)
        totals[op] = (old.calls + 1, old.seconds + dt)
        return r
    }

    func matmul(_ a: Tensor, _ b: Tensor, transA: Bool, transB: Bool) -> Tensor {
        time("matmul") { base.matmul(a, b, transA: transA, transB: transB) }
    }
    func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, _ p: Conv2dParameters) -> Tensor {
        time("conv2d") { base.conv2d(x, weight: weight, bias: bias, p) }
    }
    func conv2dBackwardData(_ g: Tensor, weight: Tensor, inputShape: [Int], _ p: Conv2dParameters) -> Tensor {
        time("conv2dBackwardData") { base.conv2dBackwardData(g, weight: weight, inputShape: inputShape, p) }
    }
    func conv2dBackwardWeight(_ g: Tensor, input: Tensor, weightShape: [Int], _ p: Conv2dParameters) -> Tensor {
        time("conv2dBackwardWeight") { base.conv2dBackwardWeight(g, input: input, weightShape: weightShape, p) }
    }
    func maxPool2d(_ x: Tensor, _ p: Pool2dParameters) -> (output: Tensor, indices: [Int32]) { time("maxPool2d") { base.maxPool2d(x, p) } }
    func maxPool2dBackward(_ g: Tensor, indices: [Int32], inputShape: [Int]) -> Tensor {
        time("maxPool2dBackward") { base.maxPool2dBackward(g, indices: indices, inputShape: inputShape) }
    }
    func avgPool2d(_ x: Tensor, _ p: Pool2dParameters) -> Tensor { time("avgPool2d") { base.avgPool2d(x, p) } }
    func avgPool2dBackward(_ g: Tensor, inputShape: [Int], _ p: Pool2dParameters) -> Tensor {
        time("avgPool2dBackward") { base.avgPool2dBackward(g, inputShape: inputShape, p) }
    }
    func adaptiveAvgPool2d(_ x: Tensor, outputSize: (Int, Int)) -> Tensor {
        time("adaptiveAvgPool2d") { base.adaptiveAvgPool2d(x, outputSize: outputSize) }
    }
    func adaptiveAvgPool2dBackward(_ g: Tensor, inputShape: [Int]) -> Tensor {
        time("adaptiveAvgPool2dBackward") { base.adaptiveAvgPool2dBackward(g, inputShape: inputShape) }
    }
    func batchNormStatistics(_ x: Tensor, eps: Double) -> BatchNormSaved { time("batchNormStatistics") { base.batchNormStatistics(x, eps: eps) } }
    func batchNormTraining(_ x: Tensor, eps: Double, weight: Tensor?, bias: Tensor?) -> (output: Tensor, saved: BatchNormSaved) {
        time("batchNormTraining") { base.batchNormTraining(x, eps: eps, weight: weight, bias: bias) }
    }
    func batchNormApply(_ x: Tensor, saved: BatchNormSaved, weight: Tensor?, bias: Tensor?) -> Tensor {
        time("batchNormApply") { base.batchNormApply(x, saved: saved, weight: weight, bias: bias) }
    }
    func batchNormBackward(_ g: Tensor, input: Tensor, saved: BatchNormSaved, weight: Tensor?,
                           trainingStatistics: Bool) -> (input: Tensor, weight: Tensor, bias: Tensor) {
        time("batchNormBackward") { base.batchNormBackward(g, input: input, saved: saved, weight: weight, trainingStatistics: trainingStatistics) }
    }
    func relu(_ x: Tensor) -> Tensor { time("relu") { base.relu(x) } }
    func reluBackward(_ g: Tensor, output: Tensor) -> Tensor { time("reluBackward") { base.reluBackward(g, output: output) } }
    func add(_ a: Tensor, _ b: Tensor) -> Tensor { time("add") { base.add(a, b) } }
    func concatenate(_ tensors: [Tensor], axis: Int) -> Tensor { time("concatenate") { base.concatenate(tensors, axis: axis) } }
    func split(_ x: Tensor, axis: Int, sizes: [Int]) -> [Tensor] { time("split") { base.split(x, axis: axis, sizes: sizes) } }
    func localResponseNorm(_ x: Tensor, size: Int, alpha: Double, beta: Double, k: Double) -> Tensor {
        time("localResponseNorm") { base.localResponseNorm(x, size: size, alpha: alpha, beta: beta, k: k) }
    }
    func localResponseNormBackward(_ g: Tensor, input: Tensor, size: Int, alpha: Double, beta: Double, k: Double) -> Tensor {
        time("localResponseNormBackward") { base.localResponseNormBackward(g, input: input, size: size, alpha: alpha, beta: beta, k: k) }
    }

    /// The totals as a table, largest first, with the time outside the backend.
    func report(total: Double, iterations: Int) -> String {
        var lines = ["kernel".padded(toWidth: 28) + "calls/it".leftPadded(toWidth: 9) + "ms/it".leftPadded(toWidth: 10) + "share".leftPadded(toWidth: 8)]
        var inside = 0.0
        for (op, t) in totals.sorted(by: { $0.value.seconds > $1.value.seconds }) {
            inside += t.seconds
            lines.append(op.padded(toWidth: 28) + "\(t.calls / max(iterations, 1))".leftPadded(toWidth: 9) + fixed(t.seconds * 1000 / Double(iterations), 1).leftPadded(toWidth: 10)
                         + (fixed(100 * t.seconds / total, 1) + "%").leftPadded(toWidth: 8))
        }
        let outside = total - inside
        lines.append("(outside the backend)".padded(toWidth: 28) + "".leftPadded(toWidth: 9) + fixed(outside * 1000 / Double(iterations), 1).leftPadded(toWidth: 10)
                     + (fixed(100 * outside / total, 1) + "%").leftPadded(toWidth: 8))
        return lines.joined(separator: "\n")
    }
}
