import ArgumentParser
import Foundation
import Strata

// How `strata bench` measures: each case in a child process (runChild) that times it in-process
// (measure); the Winograd error check and the single-layer timings.
extension Bench {
    /// Runs one case in a child process of this executable and reads its JSON line.
    func runChild(_ c: Case) throws -> Result {
        var args = [
            "bench", "--model", c.model, "--mode", c.mode.rawValue, "--batch", "\(c.batch)", "--json", "--in-process",
        ]
        if let iterations { args += ["--iterations", "\(iterations)"] }
        if let threads { args += ["--threads", "\(threads)"] }
        if let backend { args += ["--backend", backend.rawValue] }
        if let convAlgorithm { args += ["--conv-algorithm", convAlgorithm.rawValue] }
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
        process.executableURL = URL(
            fileURLWithPath: CommandLine.arguments[0].contains("/") ? CommandLine.arguments[0] : Platform.executablePath
        )
        process.arguments = args
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        for extra in lines.dropLast() { print(extra) } // --profile tables
        guard process.terminationStatus == 0, let line = lines.last, let result = Result(jsonLine: String(line)) else {
            // The child printed its error on stderr already; this is no usage error.
            throw CommandFailure(
                "benchmark case \(c.model) \(c.mode) batch \(c.batch) failed (exit \(process.terminationStatus))")
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
        print(
            "\(name.padded(toWidth: 17)) max |Δ| \(String(format: "%.3g", worst))  max |logit| \(String(format: "%.3g", scale))  scaled error \(String(format: "%.3g", worst / max(scale, 1e-30)))"
        )
        fflush(stdout)
    }

    /// Times inference convolutions (conv → ReLU, deferred and fused as in a model) with direct
    /// convolution and with `algorithm`, alternating, and prints the medians and their ratio.
    func timeConvolutionLayers(_ specs: String, algorithm: DNNLBackend.ConvolutionAlgorithm) throws {
        print(
            "layer (N×C×K×H×W, 3×3, pad 1)   direct ms   \(algorithm.rawValue) ms   speed-up   (\(DNNLCapabilities.summary))"
        )
        for spec in specs.split(separator: ",") {
            let d: [Int]
            do {
                d = try ShapeText.parse(
                    String(spec), rank: 5, option: "--conv-layers", layout: "N×C×K×H×W such as 32x64x64x56x56",
                    maxElements: Int.max)
            } catch let e as ShapeText.ParseError { throw ValidationError(e.description) }
            func elements(_ dims: [Int]) -> Int {
                dims.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }
            }
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
                    withNoGrad {
                        Backends.with(b) { _ = conv2d(x, weight: w, .init(padding: 1)).relu().representation }
                    }
                    if round >= 2 { times[i].append(MonotonicClock.now() - t0) }
                }
            }
            let medians = times.map { $0.sorted()[$0.count / 2] * 1000 }
            print(
                "\(String(spec).padded(toWidth: 32))\(fixed(medians[0], 2).leftPadded(toWidth: 10))\(fixed(medians[1], 2).leftPadded(toWidth: 10))\(fixed(medians[0] / medians[1], 2).leftPadded(toWidth: 11))"
            )
            fflush(stdout)
        }
    }

    /// Times one case in this process.
    func measure(_ c: Case, threads: Int, backendName: String) throws -> Result {
        GlobalRandom.seed(0)
        let entry = try Models.entry(c.model)
        let model = try Models.make(c.model)
        let summary = ModelSummary(model, input: entry.input)
        try summary.checkMemory(batch: c.batch, training: c.mode == .training, what: "\(c.model) at --batch \(c.batch)")
        let macs = summary.macs
        var rng = RandomGenerator(seed: 1)
        let x = Tensor.normal([c.batch] + entry.input, generator: &rng)
        let labels = (0..<c.batch).map { $0 % entry.classes }

        let step: () -> Void
        if c.mode == .inference {
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
        step() // warm-up: primitive creation, weight reorders, first-touch of buffers
        if profile {
            let profiler = ProfilingBackend(Backends.current)
            let n = iterations ?? 3
            let t0 = MonotonicClock.now()
            Backends.with(profiler) { for _ in 0..<n { step() } }
            print(profiler.report(total: MonotonicClock.now() - t0, iterations: n))
            let pool = BufferPool.statistics
            print(
                "oneDNN buffers: peak in use \(pool.peakLive >> 20) MiB, idle in pool \(pool.idle >> 20) MiB; peak RSS \(Int(peakRSSMiB())) MiB"
            )
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
        let median =
            times.count % 2 == 1 ? times[times.count / 2] : (times[times.count / 2 - 1] + times[times.count / 2]) / 2
        let ips = Double(c.batch) / median
        let flopsPerImage = Double(macs) * 2 * (c.mode == .training ? 3 : 1)
        return Result(
            model: c.model, mode: c.mode.rawValue, batch: c.batch, threads: threads, backend: backendName,
            imagesPerSecond: ips,
            msPerBatch: median * 1000, gflops: flopsPerImage * ips / 1e9, peakRSSMiB: peakRSSMiB())
    }
}

/// The process's peak resident set size so far, in MiB.
func peakRSSMiB() -> Double { Double(Platform.peakResidentBytes) / 1_048_576 }

/// `v` with `digits` decimals.
func fixed(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }
