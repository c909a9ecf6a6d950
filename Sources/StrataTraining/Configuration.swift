import StrataNN
import StrataTensor

/// The optimizer of a run.
public enum OptimizerKind: String, Sendable, CaseIterable {
    /// ``SGD``: momentum, Nesterov, weight decay added to the gradient.
    case sgd
    /// ``AdamW``: Adam with decoupled weight decay.
    case adamw
}

/// The learning-rate schedule of a run (see ``LearningRateSchedule`` for the formulas).
public enum ScheduleKind: String, Sendable, CaseIterable {
    /// Linear warmup, then cosine decay to 0 at the last step.
    case cosine
    /// The rate times `gamma` at each milestone (He et al.: ÷10 at 50% and 75% of the steps, i.e. 32k and 48k of 64k).
    case multistep
    /// PyTorch's `OneCycleLR` (cosine, 30% rising; `warmupEpochs` sets the rising part when given).
    case onecycle
    /// A constant rate (after the optional warmup).
    case constant
}

/// Settings of a training run. Everything here is recorded in checkpoints, so a resumed run
/// continues with exactly the same settings.
public struct TrainingConfiguration: Sendable, Equatable {
    /// Model name in the zoo (recorded; the caller builds the model).
    public var model = ""
    /// Dataset name and location (recorded; the caller builds the datasets).
    public var dataset = ""
    public var dataPath = ""
    public var epochs = 3
    /// When set, training stops after this many optimizer steps, and the schedule spans them
    /// (He et al.'s CIFAR recipe: 64k); the epoch count is then ⌈maxSteps / steps per epoch⌉.
    public var maxSteps: Int?
    public var batchSize = 64
    /// Gradient accumulation: the micro-batches of ``batchSize`` examples whose gradients make one
    /// optimizer step, each weighted by its share of the step's examples, so that a step equals one
    /// on a batch of `accumulateSteps × batchSize` (the last step of an epoch may hold fewer).
    /// Batch norm's statistics stay per micro-batch (as in PyTorch): the equality is exact only for
    /// models without batch norm, or with it in eval mode. A step (``maxSteps``, the schedule,
    /// checkpoints, resume) is an optimizer step; an epoch has ⌈batches / accumulateSteps⌉ of them.
    public var accumulateSteps = 1
    public var optimizer = OptimizerKind.sgd
    /// Peak (or base) learning rate.
    public var learningRate = 0.05
    /// SGD momentum (the one-cycle schedule cycles it instead).
    public var momentum = 0.9
    public var nesterov = true
    /// L2 weight decay (SGD) or decoupled decay (AdamW).
    public var weightDecay = 5e-4
    /// Whether weight decay also applies to 1-D parameters (batch-norm weights and biases, all biases).
    public var decayNormAndBias = false
    public var adamBeta1 = 0.9
    public var adamBeta2 = 0.999
    public var adamEpsilon = 1e-8
    public var schedule = ScheduleKind.cosine
    /// Linear warmup, in epochs (may be fractional).
    public var warmupEpochs = 0.0
    /// Multi-step milestones in optimizer steps; empty means 50% and 75% of the run.
    public var milestones: [Int] = []
    /// Multi-step factor.
    public var gamma = 0.1
    public var labelSmoothing = 0.0
    /// Weight of each auxiliary classifier's loss (GoogLeNet, Inception-v3).
    public var auxiliaryLossWeight = 0.3
    /// Clip the global gradient norm to this value when set.
    public var clipGradNorm: Double?
    /// Seed of weight initialization (the caller seeds `GlobalRandom`), shuffling and augmentation.
    public var seed: UInt64 = 0
    /// Data-loading threads (0: automatic). Recorded for the data pipeline.
    public var workers = 0
    /// Also log loss, learning rate and throughput every this many steps (0: per epoch only).
    public var logEverySteps = 0

    public init() {}

    /// Optimizer steps in one epoch of `examples` examples: ⌈batches / ``accumulateSteps``⌉.
    public func stepsPerEpoch(examples: Int) -> Int {
        let batches = (examples + batchSize - 1) / batchSize
        return Swift.max(1, (batches + accumulateSteps - 1) / accumulateSteps)
    }

    /// Total optimizer steps of the run.
    public func totalSteps(examples: Int) -> Int { maxSteps ?? epochs * stepsPerEpoch(examples: examples) }

    /// Epochs of the run (the last may be partial when ``maxSteps`` is set).
    public func epochCount(examples: Int) -> Int {
        guard let maxSteps else { return epochs }
        let spe = stepsPerEpoch(examples: examples)
        return (maxSteps + spe - 1) / spe
    }

    /// The schedule for a training set of `examples` examples.
    public func makeSchedule(examples: Int) -> LearningRateSchedule {
        let total = totalSteps(examples: examples)
        let warmup = Int((warmupEpochs * Double(stepsPerEpoch(examples: examples))).rounded())
        switch schedule {
        case .cosine:
            return .cosine(base: learningRate, warmup: warmup, total: total)
        case .multistep:
            let m = milestones.isEmpty ? [total / 2, total * 3 / 4] : milestones
            let s = LearningRateSchedule.multiStep(base: learningRate, milestones: m, gamma: gamma)
            return warmup > 0 ? .linearWarmup(steps: warmup, then: s) : s
        case .onecycle:
            var c = OneCycle(maxLR: learningRate, total: total)
            if warmup > 0 { c.pctStart = Swift.min(0.99, Double(warmup) / Double(total)) }
            return .oneCycle(c)
        case .constant:
            return warmup > 0 ? .linearWarmup(steps: warmup, then: .constant(learningRate)) : .constant(learningRate)
        }
    }

    /// The optimizer over `model`'s named parameters.
    public func makeOptimizer(for model: Module) -> any Optimizer {
        let named = model.namedParameters()
        let decays = named.map { decayNormAndBias || $0.1.rank > 1 }
        switch optimizer {
        case .sgd:
            return SGD(
                named.map(\.1), names: named.map(\.0), momentum: momentum, nesterov: nesterov,
                weightDecay: weightDecay, decays: decays)
        case .adamw:
            return AdamW(
                named.map(\.1), names: named.map(\.0), beta1: adamBeta1, beta2: adamBeta2,
                epsilon: adamEpsilon, weightDecay: weightDecay, decays: decays)
        }
    }

    /// Checks values that would make training meaningless; the message names the setting.
    public func validate() throws {
        func fail(_ s: String) -> TrainingError { .invalidConfiguration(s) }
        // Upper bounds keep every derived count (steps, warmup steps, buffers) far from overflow.
        guard (1...1_000_000).contains(epochs) else { throw fail("epochs must be from 1 to 1,000,000, got \(epochs)") }
        if let maxSteps, !(1...1_000_000_000).contains(maxSteps) {
            throw fail("max steps must be from 1 to 1,000,000,000, got \(maxSteps)")
        }
        guard (1...65_536).contains(batchSize) else {
            throw fail("batch size must be from 1 to 65,536, got \(batchSize)")
        }
        guard (1...65_536).contains(accumulateSteps) else {
            throw fail(
                "--accumulate-steps must be from 1 to 65,536 micro-batches per optimizer step, got \(accumulateSteps)")
        }
        guard learningRate > 0, learningRate.isFinite else {
            throw fail("learning rate must be positive, got \(learningRate)")
        }
        guard momentum >= 0, momentum < 1 else { throw fail("momentum must be in [0, 1), got \(momentum)") }
        guard !(nesterov && momentum == 0 && optimizer == .sgd) else {
            throw fail("Nesterov momentum needs a momentum above 0")
        }
        guard weightDecay >= 0, weightDecay.isFinite else {
            throw fail("weight decay must be ≥ 0 and finite, got \(weightDecay)")
        }
        guard warmupEpochs >= 0, warmupEpochs <= 1_000_000 else {
            throw fail("warmup epochs must be from 0 to 1,000,000, got \(warmupEpochs)")
        }
        guard labelSmoothing >= 0, labelSmoothing < 1 else {
            throw fail("label smoothing must be in [0, 1), got \(labelSmoothing)")
        }
        guard gamma > 0 else { throw fail("gamma must be positive, got \(gamma)") }
        guard milestones.allSatisfy({ (1...1_000_000_000).contains($0) }), milestones == milestones.sorted() else {
            throw fail("milestones must be positive and increasing, got \(milestones)")
        }
        if let clipGradNorm, !(clipGradNorm > 0 && clipGradNorm.isFinite) {
            throw fail("gradient clipping norm must be positive and finite, got \(clipGradNorm)")
        }
        guard adamBeta1 >= 0, adamBeta1 < 1, adamBeta2 >= 0, adamBeta2 < 1 else {
            throw fail("Adam betas must be in [0, 1)")
        }
        guard (0...256).contains(workers) else {
            throw fail("workers must be from 0 (automatic) to 256, got \(workers)")
        }
        guard (0...1_000_000_000).contains(logEverySteps) else {
            throw fail("log interval must be from 0 to 1,000,000,000, got \(logEverySteps)")
        }
    }

    // MARK: JSON

    /// The settings as (name, value) pairs, in a readable order (for reports and checkpoints).
    var json: JSON {
        var items: [(String, JSON)] = [
            ("model", .string(model)), ("dataset", .string(dataset)), ("data", .string(dataPath)),
            ("epochs", .int(epochs)), ("max_steps", maxSteps.map { .int($0) } ?? .null),
            ("batch_size", .int(batchSize)), ("accumulate_steps", .int(accumulateSteps)),
            ("optimizer", .string(optimizer.rawValue)),
            ("learning_rate", .number(learningRate)), ("schedule", .string(schedule.rawValue)),
            ("warmup_epochs", .number(warmupEpochs)),
        ]
        items += [("milestones", JSON(milestones)), ("gamma", .number(gamma))]
        items += [("momentum", .number(momentum)), ("nesterov", .bool(nesterov))]
        items += [
            ("adam_beta1", .number(adamBeta1)), ("adam_beta2", .number(adamBeta2)),
            ("adam_epsilon", .number(adamEpsilon)),
        ]
        items += [
            ("weight_decay", .number(weightDecay)), ("decay_norm_and_bias", .bool(decayNormAndBias)),
            ("label_smoothing", .number(labelSmoothing)), ("auxiliary_loss_weight", .number(auxiliaryLossWeight)),
            ("clip_grad_norm", clipGradNorm.map { .number($0) } ?? .null),
            ("seed", .string(String(seed))), ("workers", .int(workers)), ("log_every_steps", .int(logEverySteps)),
        ]
        return .object(items)
    }

    init(json: JSON) throws {
        guard case .object = json else {
            throw TrainingError.corruptCheckpoint("the configuration is not a JSON object")
        }
        // A missing key keeps the default; a present one of the wrong type is corruption.
        func read<T>(_ k: String, _ v: inout T, _ kind: String, _ value: (JSON) -> T?) throws {
            guard let j = json[k] else { return }
            guard let x = value(j) else { throw TrainingError.corruptCheckpoint("configuration \(k) is not \(kind)") }
            v = x
        }
        func d(_ k: String, _ v: inout Double) throws { try read(k, &v, "a number") { $0.doubleValue } }
        func i(_ k: String, _ v: inout Int) throws { try read(k, &v, "an integer") { $0.intValue } }
        func b(_ k: String, _ v: inout Bool) throws { try read(k, &v, "a boolean") { $0.boolValue } }
        func s(_ k: String, _ v: inout String) throws { try read(k, &v, "a string") { $0.stringValue } }
        self.init()
        try s("model", &model)
        try s("dataset", &dataset)
        try s("data", &dataPath)
        try i("epochs", &epochs)
        try i("batch_size", &batchSize)
        try i("accumulate_steps", &accumulateSteps) // absent in checkpoints from before it existed: 1
        if let m = json["max_steps"], m != .null {
            guard let x = m.intValue else {
                throw TrainingError.corruptCheckpoint("configuration max_steps is not an integer")
            }
            maxSteps = x
        }
        var name = optimizer.rawValue
        try s("optimizer", &name)
        guard let o = OptimizerKind(rawValue: name) else {
            throw TrainingError.corruptCheckpoint("unknown optimizer \(name)")
        }
        optimizer = o
        name = schedule.rawValue
        try s("schedule", &name)
        guard let sk = ScheduleKind(rawValue: name) else {
            throw TrainingError.corruptCheckpoint("unknown schedule \(name)")
        }
        schedule = sk
        try d("learning_rate", &learningRate)
        try d("warmup_epochs", &warmupEpochs)
        if let m = json["milestones"] {
            guard let a = m.arrayValue?.compactMap(\.intValue) else {
                throw TrainingError.corruptCheckpoint("configuration milestones is not a list of integers")
            }
            milestones = a
        }
        try d("gamma", &gamma)
        try d("momentum", &momentum)
        try b("nesterov", &nesterov)
        try d("adam_beta1", &adamBeta1)
        try d("adam_beta2", &adamBeta2)
        try d("adam_epsilon", &adamEpsilon)
        try d("weight_decay", &weightDecay)
        try b("decay_norm_and_bias", &decayNormAndBias)
        try d("label_smoothing", &labelSmoothing)
        try d("auxiliary_loss_weight", &auxiliaryLossWeight)
        if let c = json["clip_grad_norm"], c != .null {
            guard let x = c.doubleValue else {
                throw TrainingError.corruptCheckpoint("configuration clip_grad_norm is not a number")
            }
            clipGradNorm = x
        }
        var seedText = String(seed)
        try s("seed", &seedText)
        guard let sd = UInt64(seedText) else {
            throw TrainingError.corruptCheckpoint("configuration seed is not a 64-bit unsigned integer")
        }
        seed = sd
        try i("workers", &workers)
        try i("log_every_steps", &logEverySteps)
    }
}
