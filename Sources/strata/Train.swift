import ArgumentParser
import Foundation
import Strata
import StrataDistributed
import StrataParallel

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `strata train`: train a zoo model, writing a run directory (checkpoints, metrics.jsonl,
/// TensorBoard events, report.html). With no arguments: LeNet-5 on the built-in synthetic shapes.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model (default: LeNet-5 on the built-in synthetic shapes dataset, no files needed).",
        discussion: """
            Writes a run directory (--out, default runs/MODEL-DATASET-TIME): last.safetensors/last.json (resumable \
            checkpoint, every epoch), best.safetensors/best.json (best validation top-1; model weights only), \
            metrics.jsonl, TensorBoard event files (tensorboard --logdir RUN_DIR) and report.html.
            Ctrl-C finishes the current step, saves a checkpoint and exits; `strata train --resume RUN_DIR` continues \
            exactly where it stopped (same weights, bit for bit, as an uninterrupted run).
            Under `mpirun -np N` the N ranks train data-parallel: --batch-size stays the global batch (divisible by N), \
            each rank takes its part of every batch, gradients are averaged; rank 0 writes the run directory and prints.
            He et al.'s CIFAR recipe: --schedule multistep --lr 0.1 --max-steps 64000 --batch-size 128 --weight-decay 1e-4 \
            --decay-bn-and-bias --no-nesterov (milestones default to 50% and 75% of the steps: 32k and 48k).
            """)

    @Option(help: "Model name (see `strata models`). Default: lenet5.") var model: String?
    @Option(help: "Dataset: \(DatasetCatalog.all.map(\.name).joined(separator: ", ")). Default: synthetic.")
    var dataset: String?
    @Option(
        help:
            "Dataset folder (not needed for synthetic); stored absolute. With --resume: where the run's dataset is now, if it moved."
    ) var data: String?
    @Option(help: "Epochs. Default: 4.") var epochs: Int?
    @Option(help: "Stop after this many optimizer steps; the schedule spans them (He et al.: 64000).") var maxSteps:
        Int?
    @Option(help: "Mini-batch size. Default: 64.") var batchSize: Int?
    @Option(
        help: """
            Gradient accumulation: K micro-batches of --batch-size per optimizer step, equal to one step on a batch of \
            K × --batch-size (exactly so without batch norm, whose statistics stay per micro-batch). Steps (--max-steps, \
            the schedule) are optimizer steps. Default: 1.
            """)
    var accumulateSteps: Int?
    @Option(help: "Optimizer: sgd or adamw. Default: sgd.") var optimizer: OptimizerKind?
    @Option(help: "Peak learning rate. Default: 0.05 (sgd), 0.001 (adamw).") var lr: Double?
    @Option(help: "Schedule: cosine, multistep, onecycle or constant. Default: cosine.") var schedule: ScheduleKind?
    @Option(help: "Linear warmup in epochs (for onecycle: the rising part). Default: 0.5.") var warmupEpochs: Double?
    @Option(help: "Multi-step milestones in steps, comma-separated. Default: 50% and 75% of the run.") var milestones:
        String?
    @Option(help: "Weight decay. Default: 5e-4 (sgd), 0.05 (adamw).") var weightDecay: Double?
    @Flag(inversion: .prefixedNo, help: "Apply weight decay to batch-norm parameters and biases too. Default: no.")
    var decayBnAndBias: Bool?
    @Option(help: "SGD momentum. Default: 0.9.") var momentum: Double?
    @Flag(inversion: .prefixedNo, help: "Nesterov momentum (SGD). Default: on.") var nesterov: Bool?
    @Option(help: "Label smoothing. Default: 0.") var labelSmoothing: Double?
    @Option(help: "Clip the global gradient norm to this value.") var clipGradNorm: Double?
    @Option(help: "Data-loading threads (0: automatic).") var workers: Int?
    @Option(help: "Random seed (weights, shuffling, augmentation). Default: 0.") var seed: UInt64?
    @Option(help: "Also log loss and throughput every N steps (0: per epoch only). Default: 50.") var logEvery: Int?
    @Option(help: "Run directory. Default: runs/MODEL-DATASET-TIME.") var out: String?
    @Option(help: "Continue the run in this directory from its last checkpoint (settings come from the checkpoint).")
    var resume: String?
    @Flag(help: "No progress bar or per-epoch lines: print only the final result (for logs and CI).") var quiet = false
    @Flag(
        help:
            "ImageFolder: decode every image before training and stop on any that cannot be decoded (default: such images load as zeros and are listed in a warning after each epoch)."
    )
    var strictImages = false
    @Flag(
        help:
            "Under mpirun: batch-norm statistics over the global batch (all ranks), as PyTorch's SyncBatchNorm. Default: each rank's own."
    )
    var syncBn = false
    @Option(help: "Under mpirun: the largest gradient bucket averaged in one allreduce, in MiB. Default: 25.")
    var bucketMb: Double?
    @Flag(
        help:
            "Under mpirun: start the gradient allreduces after the backward instead of during it (same results; to measure what the overlap saves)."
    )
    var noOverlap = false
    @Flag(
        help:
            "Record per-layer gradient norms: \"gradients\" records in metrics.jsonl, TensorBoard scalars gradients/<layer> and histograms gradient_histograms/<layer>."
    )
    var logGradients = false
    @Option(help: "With --log-gradients: at the first step and every N steps after. Default: 100.")
    var logGradientsEvery: Int?
    @Option(
        help:
            "Under mpirun -np 2 with --model alexnet2012: model parallelism as in AlexNet (2012), one tower per rank, exchanging activations into conv3 and the fully connected layers; both ranks read every batch whole. Only 2."
    )
    var modelParallel: Int?

    func run() throws {
        // Under mpirun: data parallel over every rank; otherwise one process (no communication at all).
        let group = try ProcessGroups.current(backend: .automatic)
        guard group.size > 1 else { return try train(group: nil) }
        do {
            try train(group: group)
        } catch let e as ExitCode where e == ExitCode(130) { // interrupted: every rank agreed to stop
            try group.finalize()
            throw e
        } catch {
            DataParallel.fail(error, group: group)
        }
        try group.finalize()
    }

    func train(group: (any ProcessGroup)?) throws {
        let primary = (group?.rank ?? 0) == 0
        let ranks = group?.size ?? 1
        // One writer per run directory: a resume takes the lock before reading the checkpoint.
        let resumeLock = try primary ? resume.map { try RunLock(directory: $0) } : nil
        let (config, runPath, checkpoint) = try settings(primary: primary)
        if let modelParallel {
            guard modelParallel == 2 else {
                throw ValidationError(
                    "--model-parallel \(modelParallel): only 2 is supported (alexnet2012's two towers)")
            }
            guard config.model == "alexnet2012" else {
                throw ValidationError(
                    "--model-parallel 2 splits alexnet2012's two towers; the model is \(config.model) (use --model alexnet2012)"
                )
            }
            guard ranks == 2 else {
                throw ValidationError(
                    "--model-parallel 2 runs one tower per rank: start it with mpirun -np 2 (this job has \(ranks) rank\(ranks == 1 ? "" : "s"))"
                )
            }
            guard !syncBn && bucketMb == nil && !noOverlap else {
                throw ValidationError(
                    "--model-parallel 2 does not combine with data parallelism: drop --sync-bn, --bucket-mb and --no-overlap"
                )
            }
            guard config.clipGradNorm == nil else {
                throw ValidationError(
                    "--model-parallel 2 does not support --clip-grad-norm (each rank holds half of the gradients)")
            }
        }
        let entry = try Models.entry(config.model)
        let data = try loadDataset(
            config.dataset, data: config.dataPath.isEmpty ? nil : config.dataPath, inputSize: entry.input[1])
        guard entry.input[0] == data.train.imageShape[0] else {
            throw ValidationError(
                "\(config.model) takes \(entry.input[0])-channel input; the \(config.dataset) dataset is \(data.train.imageShape[0])-channel"
            )
        }
        // What reaches the model: the dataset's images after the training transform (MNIST is padded to 32×32).
        let modelInput = data.trainTransform?.outputShape(for: data.train.imageShape) ?? data.train.imageShape
        do { try entry.checkInput(modelInput) } catch {
            throw ValidationError(
                "the \(config.dataset) dataset's \(modelInput.map(String.init).joined(separator: "×")) images: \(error)"
            )
        }
        let folders = [data.train, data.validation].compactMap { $0 as? ImageFolder }
        if strictImages { try Self.decodeEveryImage(folders) }
        GlobalRandom.seed(config.seed)
        let net = try Models.make(config.model, classes: data.train.classNames.count)
        try ModelSummary(net, input: modelInput).checkMemory(
            batch: Swift.max(1, config.batchSize / (modelParallel == nil ? ranks : 1)), training: true,
            what: "\(config.model) at --batch-size \(config.batchSize)\(ranks > 1 ? " over \(ranks) ranks" : "")")
        // Model parallel: each rank keeps its tower's part of the one network both ranks initialized alike.
        let tower = try group.flatMap { group in
            try modelParallel.map { _ in
                try ModelParallelAlexNet(
                    group: group, configuration: .alexnet2012(classes: data.train.classNames.count),
                    fullStateDict: Dictionary(uniqueKeysWithValues: net.stateDict().map { ($0.key, $0.tensor) }))
            }
        }
        let trainer = Trainer(model: tower ?? net, configuration: config)
        if let n = logGradientsEvery, !(1...1_000_000_000).contains(n) {
            throw ValidationError("--log-gradients-every must be from 1 to 1000000000, got \(n)")
        }
        if logGradients || logGradientsEvery != nil {
            trainer.gradientLogInterval = logGradientsEvery ?? 100
            let recorded = RecordedGradients()
            trainer.onGradients = { recorded.record($0) }
            trainer.reportFigures = { recorded.figures(model: config.model) }
        }
        if let group, let tower {
            trainer.synchronizer = ModelParallel(group: group, partition: tower.configuration)
        } else if let group {
            if let bucketMb, !(bucketMb > 0 && bucketMb <= 1_000_000) {
                throw ValidationError("--bucket-mb must be from 0 to 1000000, got \(bucketMb)")
            }
            let parallel = DataParallel(group: group, bucketMegabytes: bucketMb ?? 25)
            parallel.overlapsCommunication = !noOverlap
            parallel.extraFingerprint = [("--sync-bn", "\(syncBn)")]
            if syncBn { DataParallel.synchronizeBatchNorm(in: net, group: group) }
            trainer.synchronizer = parallel
        } else if syncBn {
            FileHandleStderr.write(
                "note: --sync-bn has no effect in a single process (start with mpirun -np N for data-parallel training)\n"
            )
        }
        trainer.augment = data.augment
        trainer.trainTransform = data.trainTransform
        trainer.evaluationTransform = data.evaluationTransform
        // Only rank 0 writes the run directory (checkpoints, logs, report).
        let runDirectory = primary ? try RunDirectory(runPath) : nil
        let lock = primary ? try resumeLock ?? RunLock(directory: runPath) : nil
        defer { withExtendedLifetime(lock) {} }
        trainer.runDirectory = runDirectory
        if let checkpoint { try trainer.restore(from: checkpoint) }

        let quiet = self.quiet || !primary
        let bar = ProgressBar(enabled: quiet ? false : nil)
        if primary { trainer.onStep = { bar.update($0) } }
        trainer.stopOnInterrupt = true
        InterruptSignal.install()
        defer { InterruptSignal.uninstall() }
        // A write past a file-size limit fails with EFBIG (reported) instead of killing the process.
        signal(SIGXFSZ, SIG_IGN)

        func say(_ s: String) {
            if !quiet {
                bar.clear()
                print(s)
            }
        }
        if let checkpoint {
            say(
                "resuming \(runPath) at epoch \(checkpoint.state.progress.epoch + 1), step \(checkpoint.state.progress.step)"
            )
        } else {
            say("training \(config.model) (\(groupedThousands(net.parameterCount)) parameters) on \(data.description)")
        }
        if tower != nil {
            say(
                "model parallel: alexnet2012's two towers on 2 ranks (\(group?.backendName ?? "")), both reading every batch of \(config.batchSize)"
            )
        } else if let group {
            say(
                "data parallel over \(group.size) ranks (\(group.backendName)): \(config.batchSize / group.size) examples per rank of every batch of \(config.batchSize)\(syncBn ? ", synchronized batch norm" : "")"
            )
        }
        if config.accumulateSteps > 1 {
            let (k, batch) = (config.accumulateSteps, config.batchSize)
            say("gradient accumulation: \(k) batches of \(batch) per optimizer step (as one batch of \(k * batch))")
        }
        say("run directory: \(runPath)  (report.html, metrics.jsonl; tensorboard --logdir \(runPath))")
        let start = MonotonicClock.now()
        let outcome: FitOutcome
        do {
            var reported = 0
            outcome = try trainer.fit(train: data.train, validation: data.validation) { r in
                // Images whose header was fine but whose data is damaged load as zeros: say so, every epoch that finds new ones.
                let failures = folders.flatMap(\.decodeFailures)
                if failures.count > reported && primary {
                    bar.clear()
                    let names = failures.prefix(5).map { "\($0.path) (\($0.error.detail))" }.joined(separator: "; ")
                    FileHandle.standardError.write(
                        Data(
                            ("warning: \(failures.count) image(s) could not be decoded and were used as zeros: \(names)"
                                + (failures.count > 5 ? " and \(failures.count - 5) more" : "")
                                + " (--strict-images stops instead)\n").utf8))
                    reported = failures.count
                }
                say(
                    "epoch \(r.epoch)/\(r.epochs)  loss \(fmt(r.trainLoss))  train acc \(pct(r.trainAccuracy))  val loss \(fmt(r.validation.loss))  val top-1 \(pct(r.validation.top1))  top-5 \(pct(r.validation.top5))  lr \(fmt(r.learningRate, 5))  \(Int(r.imagesPerSecond)) img/s  data wait \(pct(r.dataWaitFraction))\(r.isBest ? "  *best" : "")"
                )
            }
        } catch {
            bar.clear() // the error (non-finite loss, failed write…) prints on a clean line, without the usage text
            throw error
        }
        bar.clear()
        guard primary else {
            if case .interrupted = outcome { throw ExitCode(130) }
            return
        }
        switch outcome {
        case .interrupted(let step):
            print("interrupted after step \(step); checkpoint saved to \(runDirectory?.lastCheckpointPath ?? runPath)")
            print("continue with: strata train --resume \(runPath)")
            throw ExitCode(130)
        case .completed:
            let p = trainer.progress
            if let h = p.history.last {
                print(
                    "validation top-1 \(pct(h.validationTop1)), top-5 \(pct(h.validationTop5)) after \(p.epoch) epochs (\(p.step) steps) in \(fmt(MonotonicClock.now() - start, 1)) s; best \(pct(p.bestTop1 ?? 0)) at epoch \(p.bestEpoch ?? 0); run directory \(runPath)"
                )
            }
            if let parallel = trainer.synchronizer as? DataParallel, parallel.communicationWait.steps > 0 {
                let w = parallel.communicationWait
                print(
                    "allreduce wait on rank 0: \(fmt(1000 * w.seconds / Double(w.steps), 1)) ms per step over \(w.steps) steps (\(parallel.overlapsCommunication ? "overlapped with the backward" : "after the backward, --no-overlap"))"
                )
            }
        }
    }

    /// The run's settings: from the options (new run) or from the checkpoint (--resume).
    func settings(primary: Bool = true) throws -> (TrainingConfiguration, String, Checkpoint?) {
        if let resume {
            var given: [String] = []
            if model != nil { given.append("--model") }
            if dataset != nil { given.append("--dataset") }
            if maxSteps != nil { given.append("--max-steps") }
            if batchSize != nil { given.append("--batch-size") }
            if optimizer != nil { given.append("--optimizer") }
            if accumulateSteps != nil { given.append("--accumulate-steps") }
            if lr != nil { given.append("--lr") }
            if schedule != nil { given.append("--schedule") }
            if warmupEpochs != nil { given.append("--warmup-epochs") }
            if milestones != nil { given.append("--milestones") }
            if weightDecay != nil { given.append("--weight-decay") }
            if decayBnAndBias != nil { given.append("--[no-]decay-bn-and-bias") }
            if momentum != nil { given.append("--momentum") }
            if nesterov != nil { given.append("--[no-]nesterov") }
            if labelSmoothing != nil { given.append("--label-smoothing") }
            if clipGradNorm != nil { given.append("--clip-grad-norm") }
            if seed != nil { given.append("--seed") }
            if let out, out != resume { given.append("--out") }
            guard given.isEmpty else {
                throw ValidationError(
                    "--resume continues with the checkpoint's own settings; drop \(given.joined(separator: ", ")) (only --data, --epochs, --workers, --log-every and --quiet may be given)"
                )
            }
            let checkpoint = try Checkpoint.load(resume)
            var config = checkpoint.state.configuration
            if let epochs {
                guard epochs >= checkpoint.state.progress.epoch else {
                    throw ValidationError(
                        "--epochs \(epochs) is below the \(checkpoint.state.progress.epoch) epochs already trained")
                }
                if epochs != config.epochs && config.maxSteps == nil && primary {
                    FileHandleStderr.write(
                        "note: --epochs \(epochs) changes the run's length from \(config.epochs) epochs; the schedule is stretched, so the result differs from a run started with \(epochs)\n"
                    )
                }
                config.epochs = epochs
            }
            if let workers { config.workers = workers }
            if let logEvery { config.logEverySteps = logEvery }
            // The dataset moved (or the run is resumed on another machine): --data points at it.
            if let data { config.dataPath = Self.absolute(data) }
            return (config, resume, checkpoint)
        }

        var c = TrainingConfiguration()
        c.model = model ?? "lenet5"
        c.dataset = dataset ?? "synthetic"
        // Stored absolute, so that `--resume` works from any working directory.
        c.dataPath = data.map(Self.absolute) ?? ""
        c.epochs = epochs ?? 4
        c.maxSteps = maxSteps
        c.batchSize = batchSize ?? 64
        c.accumulateSteps = accumulateSteps ?? 1
        if let optimizer { c.optimizer = optimizer }
        c.learningRate = lr ?? (c.optimizer == .adamw ? 1e-3 : 0.05)
        if let schedule { c.schedule = schedule }
        c.warmupEpochs = warmupEpochs ?? 0.5
        if let milestones {
            let parts = milestones.split(separator: ",").map { Int($0.trimmingCharacters(in: " ")) }
            guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else {
                throw ValidationError("--milestones must be comma-separated step numbers, got '\(milestones)'")
            }
            c.milestones = parts.map { $0! }
        }
        c.weightDecay = weightDecay ?? (c.optimizer == .adamw ? 0.05 : 5e-4)
        c.decayNormAndBias = decayBnAndBias ?? false
        c.momentum = momentum ?? 0.9
        c.nesterov = nesterov ?? (c.optimizer == .sgd && c.momentum > 0)
        c.labelSmoothing = labelSmoothing ?? 0
        c.clipGradNorm = clipGradNorm
        c.workers = workers ?? 0
        c.seed = seed ?? 0
        c.logEverySteps = logEvery ?? 50
        do { try c.validate() } catch let e as TrainingError { throw ValidationError(e.description) }
        let path = out ?? "runs/\(c.model)-\(c.dataset)-\(compactTimestamp())"
        if primary && RunDirectoryProbe.hasCheckpoint(path) {
            throw ValidationError(
                "\(path) already holds a run; continue it with --resume \(path), or choose another --out")
        }
        return (c, path, nil)
    }

    func fmt(_ v: Double, _ digits: Int = 3) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        return String((v * scale).rounded() / scale)
    }
    func pct(_ v: Double) -> String { String((v * 1000).rounded() / 10) + "%" }
}

extension Train {
    /// `path` made absolute against the current directory (no symlinks resolved).
    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        let cwd = FileManager.default.currentDirectoryPath
        return URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: cwd, isDirectory: true)).standardizedFileURL
            .path
    }

    /// Decodes every image of the folders (in parallel) and throws, naming them, if any fails.
    static func decodeEveryImage(_ folders: [ImageFolder]) throws {
        for folder in folders {
            let failed = Locked<[String]>([])
            DispatchQueue.concurrentPerform(iterations: folder.count) { i in
                do { _ = try folder.image(i) } catch { failed.mutate { $0.append("\(error)") } }
            }
            let bad = failed.value.sorted()
            if !bad.isEmpty {
                throw ValidationError(
                    "--strict-images: \(bad.count) of \(folder.count) images in \(folder.root) cannot be decoded: "
                        + bad.prefix(10).joined(separator: "; ") + (bad.count > 10 ? " and \(bad.count - 10) more" : "")
                )
            }
        }
    }
}

/// A value behind a lock.
final class Locked<T>: @unchecked Sendable {
    private var stored: T
    private let lock = NSLock()
    init(_ value: T) { stored = value }
    var value: T {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }
    func mutate(_ body: (inout T) -> Void) {
        lock.lock()
        defer { lock.unlock() }
        body(&stored)
    }
}

private enum RunDirectoryProbe {
    static func hasCheckpoint(_ path: String) -> Bool { access(path + "/" + Checkpoint.lastName, F_OK) == 0 }
}

private enum FileHandleStderr {
    static func write(_ s: String) {
        var bytes = Array(s.utf8)
        _ = bytes.withUnsafeMutableBytes { Platform.write(2, $0.baseAddress, $0.count) }
    }
}

/// "20250131-123456" (UTC).
private func compactTimestamp() -> String {
    var t = time(nil)
    var tmv = tm()
    gmtime_r(&t, &tmv)
    func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
    return
        "\(tmv.tm_year + 1900)\(two(tmv.tm_mon + 1))\(two(tmv.tm_mday))-\(two(tmv.tm_hour))\(two(tmv.tm_min))\(two(tmv.tm_sec))"
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        var s = self[...]
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return String(s)
    }
}

// The training configuration's kinds as typed options: ArgumentParser lists their values in help and errors.
extension OptimizerKind: ExpressibleByArgument {}
extension ScheduleKind: ExpressibleByArgument {}
