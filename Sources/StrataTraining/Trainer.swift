import StrataData
import StrataNN
import StrataTensor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What one epoch produced.
public struct EpochReport: Sendable {
    public let epoch: Int
    /// Epochs of the run.
    public let epochs: Int
    /// Optimizer steps done at the end of the epoch.
    public let step: Int
    public let trainLoss: Double
    public let trainAccuracy: Double
    public let validation: EvaluationResult
    /// The rate of the epoch's last step.
    public let learningRate: Double
    public let imagesPerSecond: Double
    /// Training time of the epoch (without evaluation).
    public let seconds: Double
    /// Whether this epoch has the best validation top-1 so far (and was saved as `best`).
    public let isBest: Bool
    /// Share of the training time spent waiting for batches.
    public let dataWaitFraction: Double
}

/// Where training stands after one step (for progress bars).
public struct StepInfo: Sendable {
    public let epoch: Int
    public let epochs: Int
    /// 1-based batch within the epoch, and the epoch's batch count.
    public let batch: Int
    public let batches: Int
    /// Steps done, and the run's total.
    public let step: Int
    public let totalSteps: Int
    public let loss: Double
    /// Mean training loss of the epoch so far.
    public let epochLoss: Double
    public let learningRate: Double
    /// Throughput of this epoch so far.
    public let imagesPerSecond: Double
    /// Estimated seconds until the last step (training only).
    public let etaSeconds: Double
}

/// Data-parallel training across processes as the trainer sees it: implemented over a process
/// group by StrataParallel's `DataParallel` (StrataTraining knows no transport). With
/// ``Trainer/synchronizer`` nil the trainer runs alone, exactly as without this protocol.
///
/// Each process computes the gradient of its part of every global batch; the trainer calls these
/// methods at fixed points, on every process in the same order, so that the gradients it steps
/// with (and every figure it reports) are those of the global batch. With gradient accumulation
/// (``TrainingConfiguration/accumulateSteps``) ``sum(_:)`` runs once per micro-batch, while the
/// backward hooks run once per optimizer step, around the backward of its last micro-batch (the
/// gradients then hold the sum over the step's micro-batches, as under DDP's `no_sync`).
public protocol TrainingSynchronizer: AnyObject {
    /// This process's index and the number of processes.
    var rank: Int { get }
    var size: Int { get }
    /// Before the first step: checks that every process trains the same thing (`fingerprint`: named
    /// settings; an error names what differs), then gives every process rank 0's model state.
    func start(model: Module, optimizer: any Optimizer, fingerprint: [(name: String, value: String)]) throws
    /// Each value summed over the processes.
    func sum(_ values: [Double]) throws -> [Double]
    /// Before a backward pass over `parameters`' gradients.
    func beginBackward(parameters: [Tensor])
    /// During the backward: `parameter`'s gradient is complete (averaging may start).
    func gradientReady(_ parameter: Tensor)
    /// After the backward: returns when every parameter's gradient is the mean over the processes.
    func finishBackward() throws
    /// The evaluation of the whole `dataset`, each process running `evaluate` on its part of it.
    func evaluate(_ dataset: any Dataset, model: Module, _ evaluate: (any Dataset) -> EvaluationResult) throws
        -> EvaluationResult

    // Model parallelism (StrataParallel's `ModelParallel`): the processes hold parts of one model.
    /// Whether each process takes its own part of every global batch (data parallelism; the default).
    /// False: every process reads the whole batch (model parallelism), and ``sum(_:)`` returns the
    /// values of that one batch.
    var splitsBatches: Bool { get }
    /// Called on every process before a checkpoint is written: the whole model's state dict and
    /// optimizer state on the process that writes (the parts gathered from every process), or nil to
    /// save this process's own model and optimizer (the default).
    func checkpointState(model: Module, optimizer: any Optimizer) throws -> (
        model: [(key: String, tensor: Tensor)], optimizer: [String: Tensor]
    )?
    /// This process's part of a checkpoint's model and optimizer state, for ``Trainer/restore(from:)``
    /// (the default: all of it).
    func localState(model: [String: Tensor], optimizer: [String: Tensor]) throws -> (
        model: [String: Tensor], optimizer: [String: Tensor]
    )
}

extension TrainingSynchronizer {
    public var splitsBatches: Bool { true }
    public func checkpointState(model: Module, optimizer: any Optimizer) throws -> (
        model: [(key: String, tensor: Tensor)], optimizer: [String: Tensor]
    )? { nil }
    public func localState(model: [String: Tensor], optimizer: [String: Tensor]) throws -> (
        model: [String: Tensor], optimizer: [String: Tensor]
    ) {
        (model, optimizer)
    }
}

/// How ``Trainer/fit(train:validation:report:)`` ended.
public enum FitOutcome: Sendable, Equatable {
    /// Every epoch (or step, with `maxSteps`) ran.
    case completed
    /// Stopped on request (Ctrl-C or ``Trainer/requestStop()``) after `step`; a resumable
    /// checkpoint was saved when the trainer has a run directory.
    case interrupted(step: Int)
}

/// Where a non-finite loss or gradient was found.
public struct NonFiniteReport: Sendable, CustomStringConvertible {
    public let epoch: Int
    /// 1-based batch in the epoch and the 1-based optimizer step that failed (not taken).
    public let batch: Int
    public let step: Int
    public let loss: Double
    /// What was non-finite first ("gradient of features.0.weight (layer features.0, Conv2d)"), if found.
    public let culprit: String?
    /// The last checkpoint written, which is intact.
    public let lastCheckpoint: String?

    public var description: String {
        var s =
            "non-finite training at step \(step) (epoch \(epoch), batch \(batch)): loss \(loss.isNaN ? "nan" : "\(loss)")"
        s += culprit.map { "; first non-finite: \($0)" } ?? ""
        s += "; training stopped before the update"
        s += lastCheckpoint.map { "; the last good checkpoint \($0) is intact" } ?? ""
        return s + ". Try a lower --lr, gradient clipping (--clip-grad-norm) or a longer warmup."
    }
}

/// Training failures, each with a message that says what to do.
public enum TrainingError: Error, CustomStringConvertible, Sendable {
    case invalidConfiguration(String)
    case nonFinite(NonFiniteReport)
    /// A checkpoint or log file could not be written (full disk, permissions); `previous`
    /// describes the checkpoint that is still intact.
    case writeFailed(path: String, reason: String, previous: String?)
    case corruptCheckpoint(String)
    case resume(String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let s): return "invalid training settings: \(s)"
        case .nonFinite(let r): return r.description
        case .writeFailed(let path, let reason, let previous):
            let why = reason.hasPrefix(path + ": ") ? String(reason.dropFirst(path.count + 2)) : reason
            return "could not write \(path): \(why); training stopped. "
                + (previous.map { "The previous checkpoint is intact: \($0)." } ?? "No earlier checkpoint exists.")
                + " Free disk space (or fix the permissions) and resume with `strata train --resume`."
        case .corruptCheckpoint(let s): return "unreadable checkpoint: \(s)"
        case .resume(let s): return "cannot resume: \(s)"
        }
    }
}

/// Trains a classifier: SGD or AdamW, a per-step learning-rate schedule, label smoothing,
/// auxiliary-classifier losses, optional gradient clipping, gradient accumulation
/// (``TrainingConfiguration/accumulateSteps``); evaluates at the end of every epoch.
///
/// Each optimizer step runs as named stages: forward (loss and logits of each micro-batch),
/// backward (with the synchronizer's gradient-ready hook on the step's last micro-batch), the
/// reduction over processes, the non-finite checks, clipping and the optimizer step, then the
/// step's records; each epoch ends with evaluation, checkpoints, logs and its report.
///
/// With a ``runDirectory`` it also writes checkpoints (`last` every epoch, `best` when validation
/// top-1 improves), metrics, TensorBoard events and the HTML report, and can be resumed exactly
/// from `last` (``restore(from:)``): the same weights, bit for bit, as an uninterrupted run on the
/// same backend and thread count. Exactness relies on shuffling and augmentation being seeded
/// from (seed, epoch, example) and on `GlobalRandom` being saved; the trainer drops the
/// generator's cached normal at each epoch start, since that cannot be saved.
public final class Trainer {
    public let model: Module
    public let configuration: TrainingConfiguration
    public let optimizer: any Optimizer
    /// Where the run stands (restored by ``restore(from:)``).
    public private(set) var progress = TrainingProgress()
    /// When set, checkpoints, metrics, events and the report go here.
    public var runDirectory: RunDirectory?
    /// Per-example transform of training images (e.g. the CIFAR pad-crop-flip + normalization),
    /// seeded per example by the loader.
    public var trainTransform: ImageTransform?
    /// Per-example transform for evaluation (normalization, resize + center crop).
    public var evaluationTransform: ImageTransform?
    /// Per-example augmentation of training images (seeded per example by the loader).
    public var augment: (@Sendable (UnsafeMutableBufferPointer<Float>, inout RandomGenerator) -> Void)?
    /// Whether SIGINT/SIGTERM (see ``InterruptSignal``) stop training like ``requestStop()``.
    public var stopOnInterrupt = false
    /// Called after every optimizer step.
    public var onStep: ((StepInfo) -> Void)?
    /// Evaluation batch size.
    public var evaluationBatchSize = 256
    /// Class names, recorded in checkpoints (set from the training set by `fit`).
    public private(set) var classNames: [String] = []
    /// Data-parallel training: each process takes its part of every global batch of
    /// ``TrainingConfiguration/batchSize`` examples (which must divide evenly), gradients are averaged,
    /// losses and accuracies summed over the processes. Only the process with the
    /// ``runDirectory`` writes; give it to rank 0 only. Nil: one process.
    public var synchronizer: (any TrainingSynchronizer)?
    /// Records per-layer gradient norms (``GradientFlow``) at the first step and every this many
    /// steps after (0: never): a `"gradients"` record in metrics.jsonl, TensorBoard scalars
    /// `gradients/<layer>` and histograms `gradient_histograms/<layer>`, and ``onGradients``.
    /// The gradients are the raw ones of the step's (global) batch, before clipping.
    public var gradientLogInterval = 0
    /// Called with each gradient measurement ``gradientLogInterval`` asks for (its `step` is the
    /// optimizer step the gradients are for, 1-based).
    public var onGradients: ((GradientFlow) -> Void)?
    /// Pictures for the report's "Figures" (a caption and PNG bytes each), asked for each time
    /// report.html is rewritten; e.g. the CLI's gradient-norm chart under `--log-gradients`.
    public var reportFigures: (() -> [(title: String, pngBytes: [UInt8])])?
    private var gradientLayers: [(path: String, module: Module, weight: Tensor)]?
    /// Whether the processes agreed (in the last step's sums) that one of them was asked to stop.
    private var stopAgreed = false

    private var stopRequested = false
    private var events: TensorBoardWriter?
    private var lastSaved: String?
    private var latestEvaluation: EvaluationResult?
    private var scheduleSummary = ""

    public init(model: Module, configuration: TrainingConfiguration) {
        self.model = model
        self.configuration = configuration
        optimizer = configuration.makeOptimizer(for: model)
    }

    /// Asks the trainer to stop after the current step (saving a checkpoint when it has a run directory).
    public func requestStop() { stopRequested = true }

    private var shouldStop: Bool { stopRequested || (stopOnInterrupt && InterruptSignal.received != 0) }

    /// The shuffling/augmentation seed of `epoch` (1-based), from the run's seed.
    public func shuffleSeed(epoch: Int) -> UInt64 {
        var g = RandomGenerator(seed: configuration.seed ^ (UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15))
        return g.next()
    }

    /// Restores model, optimizer and progress from a checkpoint of this run.
    public func restore(from checkpoint: Checkpoint) throws {
        let s = checkpoint.state
        guard s.kind == "last" else {
            throw TrainingError.resume(
                "\(checkpoint.path) is a '\(s.kind)' checkpoint (model weights only); resume from last.safetensors")
        }
        guard s.configuration.optimizer == configuration.optimizer else {
            throw TrainingError.resume(
                "the checkpoint was trained with \(s.configuration.optimizer.rawValue), this trainer uses \(configuration.optimizer.rawValue)"
            )
        }
        let local =
            try synchronizer?.localState(model: checkpoint.model, optimizer: checkpoint.optimizer) ?? (
                model: checkpoint.model, optimizer: checkpoint.optimizer
            )
        do {
            try model.loadStateDict(local.model)
        } catch let e as StateDictError {
            throw TrainingError.resume("\(checkpoint.path) does not fit the model \(configuration.model): \(e)")
        }
        do {
            try optimizer.loadStateDict(local.optimizer)
        } catch let e as OptimizerStateError {
            throw TrainingError.resume("\(checkpoint.path): \(e)")
        }
        progress = s.progress
        classNames = s.classNames
        var g = RandomGenerator(seed: 0)
        g.state = s.progress.globalRandom
        GlobalRandom.state = g
        lastSaved = "\(checkpoint.path) (epoch \(s.progress.epoch), step \(s.progress.step))"
    }

    /// Convenience for callers that only want reports.
    @discardableResult
    public func fit(train: any Dataset, validation: any Dataset, report: (EpochReport) -> Void = { _ in }) throws
        -> FitOutcome
    {
        try run(train: train, validation: validation, report: report)
    }

    // MARK: The training loop

    /// What one `fit` call keeps across its epochs.
    private struct RunState {
        /// Examples in the training set.
        let trainCount: Int
        /// Optimizer steps and epochs of the whole run, and its learning-rate schedule.
        let totalSteps: Int
        let epochs: Int
        let schedule: LearningRateSchedule
        /// When this `fit` call started and the step it started at (for the ETA).
        let sessionStart: Double
        let sessionFirstStep: Int
        /// The current `--log-every` window: its start and the images trained in it.
        var logWindowStart: Double
        var logWindowImages = 0
    }

    /// What the epoch being trained keeps across its steps.
    private struct EpochState {
        /// 1-based.
        let epoch: Int
        let loader: BatchLoader
        let prefetch: PrefetchingLoader
        /// Start of the training time not yet added to `progress.epochSeconds`.
        var segmentStart: Double
        /// The rate of the epoch's latest step.
        var learningRate: Double
    }

    /// One micro-batch's forward: the figures of the global micro-batch (summed over the processes).
    private struct MicroBatchResult {
        /// Mean loss, summed loss, correct predictions and examples.
        let loss: Double
        let lossSum: Double
        let correct: Int
        let count: Int
    }

    /// The training loop, as named steps (each a method below):
    ///
    ///     prepareRun
    ///     per epoch:  beginEpoch, trainStep…, endEpoch (evaluate, checkpoint, logs, report)
    ///     trainStep:  per micro-batch: forward, checkNonFinite(loss:), backward (the step's last one
    ///                 with the synchronizer's gradient-ready hook, then the reduction);
    ///                 then logGradients, clipAndStep, recordStep
    ///
    /// Data parallelism lives in `forward` (the sums), `backward` and `reduceGradients`; gradient
    /// accumulation is the micro-batch loop of `trainStep`. A stop (Ctrl-C) is honoured between
    /// optimizer steps only, so every checkpoint lies on a step boundary.
    private func run(train: any Dataset, validation: any Dataset, report: (EpochReport) -> Void) throws -> FitOutcome {
        var run = try prepareRun(train: train, validation: validation)
        defer {
            events?.close()
            events = nil
        }
        while progress.epoch < run.epochs && progress.step < run.totalSteps {
            var epoch = try beginEpoch(train: train, run: run)
            defer { epoch.prefetch.cancel() }
            while progress.batchInEpoch < epoch.loader.batchCount && progress.step < run.totalSteps {
                if synchronizer == nil ? shouldStop : stopAgreed {
                    progress.epochSeconds += MonotonicClock.now() - epoch.segmentStart
                    try saveCheckpoints(
                        best: false, nextLearningRate: run.schedule.learningRate(at: progress.step),
                        totalSteps: run.totalSteps)
                    return .interrupted(step: progress.step)
                }
                guard try trainStep(&epoch, &run) else { break }
            }
            try endEpoch(epoch, run: run, validation: validation, report: report)
            if (synchronizer == nil ? shouldStop : stopAgreed) && progress.epoch < run.epochs
                && progress.step < run.totalSteps
            {
                return .interrupted(step: progress.step)
            }
        }
        return .completed
    }

    /// Checks the settings against the dataset and the processes, starts the synchronizer (every
    /// process then holds rank 0's model), and opens the run directory's event file.
    private func prepareRun(train: any Dataset, validation: any Dataset) throws -> RunState {
        let c = configuration
        try c.validate()
        guard train.count > 0 else { throw TrainingError.invalidConfiguration("the training set is empty") }
        if progress.step > 0 || progress.epoch > 0 {
            guard classNames == train.classNames else {
                throw TrainingError.resume(
                    "the checkpoint's classes (\(classNames.prefix(5).joined(separator: ", "))…) differ from the dataset's (\(train.classNames.prefix(5).joined(separator: ", "))…)"
                )
            }
        }
        classNames = train.classNames
        if let sync = synchronizer, sync.splitsBatches {
            let n = sync.size
            guard c.batchSize % n == 0 else {
                throw TrainingError.invalidConfiguration(
                    "the batch size \(c.batchSize) is the global batch of all \(n) processes and must be divisible by \(n) (each takes batch/\(n) examples)"
                )
            }
            let last = train.count % c.batchSize
            guard last == 0 || last >= n else {
                throw TrainingError.invalidConfiguration(
                    "the last batch of an epoch would hold \(last) example(s) of \(train.count), fewer than the \(n) processes; choose a batch size for which \(train.count) mod batch size is 0 or at least \(n)"
                )
            }
        }
        if let sync = synchronizer {
            var fingerprint: [(name: String, value: String)] = []
            if case .object(let items) = c.json {
                for (k, v) in items where !["data", "workers", "log_every_steps"].contains(k) {
                    fingerprint.append((k, v.serialized()))
                }
            }
            fingerprint += [
                ("dataset size", "\(train.count)"), ("validation size", "\(validation.count)"),
                ("classes", train.classNames.joined(separator: ",")), ("parameters", "\(model.parameterCount)"),
                ("parameter tensors", "\(optimizer.parameters.count)"), ("epoch", "\(progress.epoch)"),
                ("step", "\(progress.step)"),
            ]
            try sync.start(model: model, optimizer: optimizer, fingerprint: fingerprint)
        }
        stopAgreed = false
        let schedule = c.makeSchedule(examples: train.count)
        scheduleSummary = schedule.summary

        if let run = runDirectory {
            let resuming = progress.step > 0
            if resuming {
                try guardWrite(run.metricsPath) { try run.truncateMetrics(step: progress.step, epoch: progress.epoch) }
            }
            do {
                events = try TensorBoardWriter(directory: run.path, resumingAt: resuming ? progress.step + 1 : nil)
            } catch {
                throw TrainingError.writeFailed(
                    path: run.path + "/events.out.tfevents.*", reason: "\(error)", previous: lastSaved)
            }
        }
        let now = MonotonicClock.now()
        return RunState(
            trainCount: train.count, totalSteps: c.totalSteps(examples: train.count),
            epochs: c.epochCount(examples: train.count), schedule: schedule,
            sessionStart: now, sessionFirstStep: progress.step, logWindowStart: now)
    }

    /// Starts the next epoch, or re-enters it after a mid-epoch checkpoint: resets the epoch's sums
    /// at its start and opens its loader at the first batch not yet trained.
    private func beginEpoch(train: any Dataset, run: RunState) throws -> EpochState {
        let c = configuration
        let epoch = progress.epoch + 1
        if progress.batchInEpoch == 0 {
            resetEpochSums()
            // The cached second normal of Box–Muller cannot be checkpointed: start each epoch without one.
            var g = RandomGenerator(seed: 0)
            g.state = GlobalRandom.state.state
            GlobalRandom.state = g
        }
        model.train()
        let loader = BatchLoader(
            train, batchSize: c.batchSize, shuffleSeed: shuffleSeed(epoch: epoch),
            transform: trainTransform, augment: augment,
            shard: synchronizer.flatMap { $0.splitsBatches ? ($0.rank, $0.size) : nil } ?? (0, 1))
        // Batches are assembled on background threads while the model computes; each is a pure
        // function of (seed, position), so a resumed epoch continues with the very same batches.
        guard progress.batchInEpoch <= loader.batchCount else { // an edited or foreign checkpoint
            throw TrainingError.corruptCheckpoint(
                "batch_in_epoch \(progress.batchInEpoch) is past the "
                    + "\(loader.batchCount) batches of an epoch of this dataset")
        }
        // Checkpoints are taken after optimizer steps only, each of accumulate_steps batches.
        guard progress.batchInEpoch % c.accumulateSteps == 0 || progress.batchInEpoch == loader.batchCount else {
            throw TrainingError.corruptCheckpoint(
                "batch_in_epoch \(progress.batchInEpoch) is not the end of an "
                    + "optimizer step of \(c.accumulateSteps) batches")
        }
        let prefetch = loader.prefetching(workers: Swift.max(1, c.workers), depth: 3, startingAt: progress.batchInEpoch)
        return EpochState(
            epoch: epoch, loader: loader, prefetch: prefetch, segmentStart: MonotonicClock.now(),
            learningRate: run.schedule.learningRate(at: Swift.max(0, progress.step - 1)))
    }

    /// One optimizer step over the next ``TrainingConfiguration/accumulateSteps`` micro-batches (fewer
    /// at the end of an epoch): each is forwarded and backpropagated with its loss weighted by its
    /// share of the step's examples, so the summed gradient is that of the mean loss over all of
    /// them, as one batch of all of them gives. Then the update and its records. Returns false when
    /// the loader ran dry (the epoch ends).
    private func trainStep(_ epoch: inout EpochState, _ run: inout RunState) throws -> Bool {
        let c = configuration
        let first = progress.batchInEpoch
        let microBatches = Swift.min(c.accumulateSteps, epoch.loader.batchCount - first)
        let stepExamples = examples(inBatches: first..<(first + microBatches), of: run.trainCount)
        let lr = run.schedule.learningRate(at: progress.step)
        var results: [MicroBatchResult] = []
        var lastBatch: Batch?
        for m in 0..<microBatches {
            let fetchStart = MonotonicClock.now()
            guard let batch = epoch.prefetch.next() else { return false }
            progress.epochDataSeconds += MonotonicClock.now() - fetchStart
            if m == 0 {
                if let momentum = run.schedule.momentum(at: progress.step) {
                    (optimizer as? SGD)?.momentum = momentum
                    (optimizer as? AdamW)?.beta1 = momentum
                }
                optimizer.zeroGrad()
            }
            let (loss, logits, result) = try forward(batch)
            try checkNonFinite(loss: result.loss, epoch: epoch.epoch, batchIndex: first + m) {
                diagnoseNonFinite(images: batch.images, logits: logits, loss: loss)
            }
            // This process's share of the step's examples (data parallel: times the processes, whose
            // gradients are averaged); 1 without accumulation when the processes' parts are equal.
            let processes = synchronizer.map { $0.splitsBatches ? $0.size : 1 } ?? 1
            let weight = Double(batch.labels.count * processes) / Double(stepExamples)
            try backward(loss, weight: weight, isLastOfStep: m == microBatches - 1, accumulating: m > 0)
            results.append(result)
            lastBatch = batch
        }
        guard let lastBatch else { return false }
        // The step's mean loss over all its examples (without accumulation: the batch's own).
        let loss =
            results.count == 1
            ? results[0].loss
            : results.reduce(0) { $0 + $1.lossSum } / Double(results.reduce(0) { $0 + $1.count })
        if gradientLogInterval > 0 && progress.step % gradientLogInterval == 0 {
            let inputShape = Array(lastBatch.images.shape.dropFirst())
            try logGradients(epoch: epoch.epoch, inputShape: inputShape, learningRate: lr, loss: loss)
        }
        try clipAndStep(
            learningRate: lr, epoch: epoch.epoch, batchIndex: first + microBatches - 1,
            images: lastBatch.images, loss: loss)
        epoch.learningRate = lr
        try recordStep(results, loss: loss, &epoch, &run)
        return true
    }

    /// Examples in an epoch's (global) batches `batches` of a training set of `count`: every batch
    /// holds ``TrainingConfiguration/batchSize`` but the epoch's last.
    private func examples(inBatches batches: Range<Int>, of count: Int) -> Int {
        Swift.min(count, batches.upperBound * configuration.batchSize) - batches.lowerBound * configuration.batchSize
    }

    /// The training loss and logits of `batch`, and its figures over all processes (a collective,
    /// which also shares whether a process was asked to stop).
    private func forward(_ batch: Batch) throws -> (loss: Tensor, logits: Tensor, result: MicroBatchResult) {
        let (loss, logits) = trainingLoss(images: batch.images, labels: batch.labels)
        let lossValue = loss.item()
        let correct = correctCount(logits.detached(), labels: batch.labels)
        guard let sync = synchronizer else {
            let count = batch.labels.count
            let result = MicroBatchResult(
                loss: lossValue, lossSum: lossValue * Double(count), correct: correct,
                count: count)
            return (loss, logits, result)
        }
        // Data parallel: the global batch's loss, correct predictions and size (the sums over the processes).
        let local = Double(batch.labels.count)
        let t = try sync.sum([lossValue * local, Double(correct), local, shouldStop ? 1 : 0])
        stopAgreed = t[3] > 0
        return (loss, logits, MicroBatchResult(loss: t[0] / t[2], lossSum: t[0], correct: Int(t[1]), count: Int(t[2])))
    }

    /// Stops training, before any update, when a micro-batch's loss is not finite (on every process
    /// alike: the loss is the global one), naming the first culprit `diagnose` finds.
    private func checkNonFinite(loss: Double, epoch: Int, batchIndex: Int, diagnose: () -> String?) throws {
        guard !loss.isFinite else { return }
        throw TrainingError.nonFinite(
            NonFiniteReport(
                epoch: epoch, batch: batchIndex + 1, step: progress.step + 1,
                loss: loss, culprit: diagnose(), lastCheckpoint: lastSaved))
    }

    /// Backpropagates one micro-batch's mean loss scaled by `weight`, adding to the gradients of the
    /// step's earlier micro-batches.
    ///
    /// With a synchronizer only the step's last micro-batch runs under its hooks: each parameter's
    /// gradient, then the sum over the step's micro-batches, is handed to ``TrainingSynchronizer/gradientReady(_:)``
    /// as soon as the backward completes it, and ``reduceGradients()`` waits for the mean over the
    /// processes. Earlier micro-batches accumulate locally without communication (DDP's `no_sync`).
    private func backward(_ loss: Tensor, weight: Double, isLastOfStep: Bool, accumulating: Bool) throws {
        let seed = weight == 1 ? nil : Tensor.full(loss.shape, weight, dtype: loss.dtype)
        guard let sync = synchronizer, isLastOfStep else {
            loss.backward(seed)
            return
        }
        sync.beginBackward(parameters: optimizer.parameters)
        if accumulating {
            var handed = Set<ObjectIdentifier>()
            loss.backward(seed) { parameter in
                handed.insert(ObjectIdentifier(parameter))
                sync.gradientReady(parameter)
            }
            // A parameter this micro-batch left without a gradient still holds the earlier ones' sum
            // (which the synchronizer would otherwise take as zero).
            for p in optimizer.parameters where p.grad != nil && !handed.contains(ObjectIdentifier(p)) {
                sync.gradientReady(p)
            }
        } else {
            loss.backward(seed, onGradientReady: sync.gradientReady)
        }
        try reduceGradients()
    }

    /// Data parallel: returns when every parameter's gradient is the mean over the processes.
    private func reduceGradients() throws {
        try synchronizer?.finishBackward()
    }

    /// Clips the gradients to `--clip-grad-norm` when set, stops training when their norm is not
    /// finite, and takes the optimizer step.
    private func clipAndStep(learningRate: Double, epoch: Int, batchIndex: Int, images: Tensor, loss: Double) throws {
        let norm: Double
        if let maxNorm = configuration.clipGradNorm {
            norm = clipGradientNorm(optimizer.parameters, maxNorm: maxNorm)
        } else {
            norm = gradientNorm(optimizer.parameters)
        }
        if !norm.isFinite {
            let culprit = [allFinite(images) ? nil : Self.badInput, firstNonFiniteGradient()].compactMap { $0 }
            throw TrainingError.nonFinite(
                NonFiniteReport(
                    epoch: epoch, batch: batchIndex + 1, step: progress.step + 1, loss: loss,
                    culprit: culprit.isEmpty ? nil : culprit.joined(separator: "; then "), lastCheckpoint: lastSaved))
        }
        optimizer.step(lr: learningRate)
    }

    /// Counts the step taken over `microBatches` (progress and the epoch's sums), then reports it:
    /// ``onStep``, and every `--log-every` steps a metrics.jsonl record and TensorBoard scalars.
    private func recordStep(
        _ microBatches: [MicroBatchResult], loss: Double, _ epoch: inout EpochState,
        _ run: inout RunState
    ) throws {
        let lr = epoch.learningRate
        progress.step += 1
        progress.batchInEpoch += microBatches.count
        for m in microBatches {
            progress.lossSum += m.lossSum
            progress.correct += m.correct
            progress.seen += m.count
            run.logWindowImages += m.count
        }

        let now = MonotonicClock.now()
        let epochSeconds = progress.epochSeconds + (now - epoch.segmentStart)
        if let onStep {
            let perStep = (now - run.sessionStart) / Double(Swift.max(1, progress.step - run.sessionFirstStep))
            onStep(
                StepInfo(
                    epoch: epoch.epoch, epochs: run.epochs, batch: progress.batchInEpoch,
                    batches: epoch.loader.batchCount, step: progress.step, totalSteps: run.totalSteps,
                    loss: loss, epochLoss: progress.lossSum / Double(progress.seen), learningRate: lr,
                    imagesPerSecond: Double(progress.seen) / Swift.max(epochSeconds, 1e-9),
                    etaSeconds: perStep * Double(run.totalSteps - progress.step)))
        }
        let c = configuration
        if c.logEverySteps > 0 && progress.step % c.logEverySteps == 0, let directory = runDirectory {
            let ips = Double(run.logWindowImages) / Swift.max(now - run.logWindowStart, 1e-9)
            (run.logWindowStart, run.logWindowImages) = (now, 0)
            try guardWrite(directory.metricsPath) {
                try directory.appendMetrics(
                    .object([
                        ("type", .string("step")), ("epoch", .int(epoch.epoch)), ("step", .int(progress.step)),
                        ("loss", .number(loss)), ("learning_rate", .number(lr)),
                        ("images_per_second", .number(ips)), ("wall_time", .number(wallClock())),
                    ]))
            }
            try guardWrite(events?.path ?? directory.path) {
                try events?.add(
                    [("step/loss", loss), ("step/learning_rate", lr), ("step/images_per_second", ips)],
                    step: progress.step)
            }
        }
    }

    /// The end of an epoch: evaluate, then checkpoint, then logs, then ``EpochReport`` to `report`.
    private func endEpoch(
        _ epoch: EpochState, run: RunState, validation: any Dataset,
        report: (EpochReport) -> Void
    ) throws {
        progress.epochSeconds += MonotonicClock.now() - epoch.segmentStart
        let lr = epoch.learningRate
        let val =
            try synchronizer.map { sync in
                try sync.evaluate(validation, model: model) { part in
                    evaluate(model, on: part, batchSize: evaluationBatchSize, transform: evaluationTransform)
                }
            } ?? evaluate(model, on: validation, batchSize: evaluationBatchSize, transform: evaluationTransform)
        latestEvaluation = val
        let seen = Double(Swift.max(1, progress.seen))
        let seconds = Swift.max(progress.epochSeconds, 1e-9)
        let summary = EpochSummary(
            epoch: epoch.epoch, step: progress.step, trainLoss: progress.lossSum / seen,
            trainAccuracy: Double(progress.correct) / seen,
            validationLoss: val.loss, validationTop1: val.top1, validationTop5: val.top5,
            learningRate: lr, imagesPerSecond: Double(progress.seen) / seconds,
            seconds: progress.epochSeconds,
            dataWaitFraction: progress.epochDataSeconds / seconds)
        let isBest = progress.bestTop1.map { val.top1 > $0 } ?? true
        progress.history.append(summary)
        if isBest { (progress.bestTop1, progress.bestEpoch) = (val.top1, epoch.epoch) }
        progress.epoch = epoch.epoch
        progress.batchInEpoch = 0
        resetEpochSums()
        try saveCheckpoints(
            best: isBest, nextLearningRate: run.schedule.learningRate(at: progress.step),
            totalSteps: run.totalSteps)
        try writeLogs(
            summary, evaluation: val, isBest: isBest, schedule: run.schedule, totalSteps: run.totalSteps,
            epochs: run.epochs)
        report(
            EpochReport(
                epoch: epoch.epoch, epochs: run.epochs, step: progress.step, trainLoss: summary.trainLoss,
                trainAccuracy: summary.trainAccuracy, validation: val, learningRate: lr,
                imagesPerSecond: summary.imagesPerSecond, seconds: summary.seconds, isBest: isBest,
                dataWaitFraction: summary.dataWaitFraction))
    }

    /// The training loss of a batch and the main logits: cross-entropy (with label smoothing)
    /// plus, for models with auxiliary classifiers (GoogLeNet, Inception-v3) in training mode,
    /// ``TrainingConfiguration/auxiliaryLossWeight`` (0.3) times each auxiliary head's loss.
    public func trainingLoss(images: Tensor, labels: [Int]) -> (loss: Tensor, logits: Tensor) {
        let c = configuration
        guard let auxiliary = model as? AuxiliaryClassifying else {
            let logits = model(images)
            return (crossEntropy(logits, labels: labels, labelSmoothing: c.labelSmoothing), logits)
        }
        let out = auxiliary.forwardWithAuxiliary(images)
        var loss = crossEntropy(out.logits, labels: labels, labelSmoothing: c.labelSmoothing)
        for a in out.auxiliary {
            loss = loss + crossEntropy(a, labels: labels, labelSmoothing: c.labelSmoothing) * c.auxiliaryLossWeight
        }
        return (loss, out.logits)
    }

    /// Clears the running sums of the epoch (its training loss, accuracy and time).
    private func resetEpochSums() {
        (progress.lossSum, progress.correct, progress.seen) = (0, 0, 0)
        (progress.epochSeconds, progress.epochDataSeconds) = (0, 0)
    }

    // MARK: Checkpoints and logs

    private func state(kind: String, nextLearningRate: Double, totalSteps: Int) -> CheckpointState {
        var p = progress
        p.globalRandom = GlobalRandom.state.state
        return CheckpointState(
            kind: kind, configuration: configuration, progress: p, classNames: classNames,
            shuffleSeed: shuffleSeed(epoch: p.epoch + 1), schedule: scheduleSummary,
            nextLearningRate: nextLearningRate, totalSteps: totalSteps, wallTime: wallClock())
    }

    private func saveCheckpoints(best: Bool, nextLearningRate: Double, totalSteps: Int) throws {
        // Model parallelism: every process's part gathered to the writer (a collective: all take part).
        let gathered = try synchronizer?.checkpointState(model: model, optimizer: optimizer)
        guard let run = runDirectory else { return }
        let last = state(kind: "last", nextLearningRate: nextLearningRate, totalSteps: totalSteps)
        let modelState = gathered?.model ?? model.stateDict()
        var tensors: [String: Tensor] = [:]
        for (key, t) in modelState { tensors[key] = t }
        for (key, t) in gathered?.optimizer ?? optimizer.stateDict() { tensors[Checkpoint.optimizerPrefix + key] = t }
        // Losses and gradients are checked every step, but a buffer (a running variance that
        // overflowed) is not: a checkpoint holding NaN is never written, so the last one stays the good one.
        if let bad = tensors.keys.sorted().first(where: { !allFinite(tensors[$0]!) }) {
            throw TrainingError.nonFinite(
                NonFiniteReport(
                    epoch: progress.epoch, batch: progress.batchInEpoch, step: progress.step,
                    loss: progress.lossSum / Double(Swift.max(progress.seen, 1)),
                    culprit: "\(bad) in the checkpoint to be saved (not written)",
                    lastCheckpoint: lastSaved))
        }
        try write(state: last, tensors: tensors, to: run.lastCheckpointPath, json: run.lastStatePath, run: run)
        lastSaved = "\(run.lastCheckpointPath) (epoch \(last.progress.epoch), step \(last.progress.step))"
        if best {
            var b = last
            b.kind = "best"
            var weights: [String: Tensor] = [:]
            for (key, t) in modelState { weights[key] = t }
            try write(state: b, tensors: weights, to: run.bestCheckpointPath, json: run.bestStatePath, run: run)
        }
    }

    private func write(
        state: CheckpointState, tensors: [String: Tensor], to path: String, json: String, run: RunDirectory
    ) throws {
        let text = state.json.serialized()
        var metadata = [
            Checkpoint.stateKey: text, "class_names": JSON(classNames).serialized(),
            "model": configuration.model, "kind": state.kind, Checkpoint.checksumKey: Checkpoint.checksums(tensors),
        ]
        if let n = evaluationTransform?.normalization { // read by ImageClassifier (`strata classify`)
            metadata["mean"] = JSON(n.mean.map(shortestDouble)).serialized()
            metadata["std"] = JSON(n.std.map(shortestDouble)).serialized()
        }
        try guardWrite(path) { try run.writeSafeTensors(tensors, metadata, path) }
        try guardWrite(json) { try run.writeFile(Array((state.json.serialized(pretty: true) + "\n").utf8), json) }
    }

    /// Runs a write, turning its failure into ``TrainingError/writeFailed(path:reason:previous:)``.
    private func guardWrite(_ path: String, _ body: () throws -> Void) throws {
        do { try body() } catch let e as TrainingError { throw e } catch {
            throw TrainingError.writeFailed(path: path, reason: "\(error)", previous: lastSaved)
        }
    }

    private func writeLogs(
        _ s: EpochSummary, evaluation: EvaluationResult, isBest: Bool, schedule: LearningRateSchedule,
        totalSteps: Int, epochs: Int
    ) throws {
        guard let run = runDirectory else { return }
        var record: [(String, JSON)] = [("type", .string("epoch"))]
        if case .object(let items) = s.json { record += items }
        record += [
            ("val_per_class_accuracy", JSON(evaluation.perClassAccuracy)), ("best", .bool(isBest)),
            ("wall_time", .number(wallClock())),
        ]
        try guardWrite(run.metricsPath) { try run.appendMetrics(.object(record)) }
        try guardWrite(events?.path ?? run.path) {
            try events?.add(
                [
                    ("loss/train", s.trainLoss), ("loss/validation", s.validationLoss),
                    ("accuracy/train", s.trainAccuracy), ("accuracy/validation_top1", s.validationTop1),
                    ("accuracy/validation_top5", s.validationTop5), ("learning_rate", s.learningRate),
                    ("images_per_second", s.imagesPerSecond), ("data_wait_fraction", s.dataWaitFraction),
                ], step: s.step)
        }
        let html = HTMLReport(
            configuration: configuration, schedule: schedule.summary, history: progress.history,
            evaluation: evaluation, classNames: classNames, epochs: epochs, totalSteps: totalSteps,
            bestEpoch: progress.bestEpoch, figures: reportFigures?() ?? []
        ).render()
        try guardWrite(run.reportPath) { try run.writeFile(Array(html.utf8), run.reportPath) }
    }

    /// The gradient record of the step about to be taken (``gradientLogInterval``).
    private func logGradients(epoch: Int, inputShape: [Int], learningRate lr: Double, loss: Double) throws {
        // Forward order from a one-image trace; with processes, declaration order (a trace would run collectives on one process only).
        let layers =
            gradientLayers ?? GradientFlow.weightLayers(of: model, input: synchronizer == nil ? [1] + inputShape : nil)
        gradientLayers = layers
        let flow = GradientFlow.read(layers, learningRate: lr, step: progress.step + 1, loss: loss)
        onGradients?(flow)
        guard let run = runDirectory else { return }
        var record: [(String, JSON)] = [("type", .string("gradients")), ("epoch", .int(epoch))]
        if case .object(let items) = flow.json { record += items }
        record.append(("wall_time", .number(wallClock())))
        try guardWrite(run.metricsPath) { try run.appendMetrics(.object(record)) }
        try guardWrite(events?.path ?? run.path) {
            try events?.add(flow.layers.map { ("gradients/\($0.layer)", $0.gradientNorm) }, step: flow.step)
            try events?.addHistograms(
                layers.compactMap { l in
                    l.weight.grad.map { ("gradient_histograms/\(l.path)", TensorBoardHistogram($0)) }
                },
                step: flow.step)
        }
    }

    // MARK: Non-finite diagnosis

    private func diagnoseNonFinite(images: Tensor, logits: Tensor, loss: Tensor) -> String? {
        // The input first: a NaN pixel also reaches BN's running statistics during the forward.
        if !allFinite(images) { return Self.badInput }
        for (name, t) in model.stateDict() where !allFinite(t) { return "values of \(describe(name))" }
        loss.backward()
        if let g = firstNonFiniteGradient() { return g }
        if !allFinite(logits) { return "the model's output (logits overflowed; every parameter is finite)" }
        return nil
    }

    static let badInput = "the input batch (non-finite pixels: check the dataset)"

    private func firstNonFiniteGradient() -> String? {
        for (name, p) in model.namedParameters() {
            if let g = p.grad, !allFinite(g) { return "gradient of \(describe(name))" }
        }
        return nil
    }

    /// "features.0.weight (layer features.0, Conv2d)".
    private func describe(_ key: String) -> String {
        guard let dot = key.lastIndex(of: ".") else { return key }
        let path = String(key[..<dot])
        guard let module = model.namedModules().first(where: { $0.0 == path })?.1 else { return key }
        return "\(key) (layer \(path), \(type(of: module)))"
    }
}

/// The Double that prints as `v` does (0.4914, not 0.49140000343322754).
private func shortestDouble(_ v: Float) -> Double { Double("\(v)") ?? Double(v) }

/// Whether every element of `t` is finite.
public func allFinite(_ t: Tensor) -> Bool {
    switch t.dtype {
    case .float32: return t.withHostBuffer(as: Float.self) { b in b.allSatisfy(\.isFinite) }
    case .float64: return t.withHostBuffer(as: Double.self) { b in b.allSatisfy(\.isFinite) }
    default: return t.doubles.allSatisfy(\.isFinite)
    }
}
