import StrataNN
import StrataTensor

/// The JSON stored with every checkpoint: in the safetensors metadata under
/// ``Checkpoint/stateKey`` (authoritative: it is renamed into place together with the tensors)
/// and as a readable copy next to it (`last.json`, `best.json`).
public struct CheckpointState: Sendable {
    /// "last" (full training state) or "best" (model weights only).
    public var kind: String
    public var configuration: TrainingConfiguration
    public var progress: TrainingProgress
    public var classNames: [String]
    /// The seed of the current epoch's shuffling and augmentation (derived from the run's seed and the epoch).
    public var shuffleSeed: UInt64
    /// The schedule in words, and the rate of the next step.
    public var schedule: String
    public var nextLearningRate: Double
    public var totalSteps: Int
    public var wallTime: Double

    static let format = "strata.training-checkpoint"
    static let version = 1

    var json: JSON {
        let p = progress
        let rng = [p.globalRandom.0, p.globalRandom.1, p.globalRandom.2, p.globalRandom.3].map { JSON.string(hex($0)) }
        return .object([
            ("format", .string(Self.format)), ("version", .int(Self.version)), ("kind", .string(kind)),
            ("model", .string(configuration.model)), ("dataset", .string(configuration.dataset)),
            ("epoch", .int(p.epoch)), ("batch_in_epoch", .int(p.batchInEpoch)), ("step", .int(p.step)),
            ("total_steps", .int(totalSteps)), ("schedule", .string(schedule)),
            ("next_learning_rate", .number(nextLearningRate)),
            ("best_val_top1", p.bestTop1.map { .number($0) } ?? .null),
            ("best_epoch", p.bestEpoch.map { .int($0) } ?? .null),
            (
                "rng",
                .object([
                    ("global_random", .array(rng)),
                    ("seed", .string(String(configuration.seed))),
                    ("shuffle_seed", .string(String(shuffleSeed))),
                ])
            ),
            (
                "epoch_sums",
                .object([
                    ("loss_sum", .number(p.lossSum)), ("correct", .int(p.correct)), ("seen", .int(p.seen)),
                    ("seconds", .number(p.epochSeconds)), ("data_seconds", .number(p.epochDataSeconds)),
                ])
            ),
            ("class_names", JSON(classNames)),
            ("config", configuration.json),
            ("history", .array(p.history.map(\.json))),
            ("wall_time", .number(wallTime)),
        ])
    }

    init(
        kind: String, configuration: TrainingConfiguration, progress: TrainingProgress, classNames: [String],
        shuffleSeed: UInt64, schedule: String, nextLearningRate: Double, totalSteps: Int, wallTime: Double
    ) {
        (self.kind, self.configuration, self.progress, self.classNames) = (kind, configuration, progress, classNames)
        (self.shuffleSeed, self.schedule, self.nextLearningRate, self.totalSteps, self.wallTime) =
            (shuffleSeed, schedule, nextLearningRate, totalSteps, wallTime)
    }

    package init(json: JSON) throws {
        func bad(_ s: String) -> TrainingError { .corruptCheckpoint(s) }
        guard json["format"]?.stringValue == Self.format else {
            throw bad("not a Strata training checkpoint (format is not \(Self.format))")
        }
        guard let v = json["version"]?.intValue, v <= Self.version else {
            throw bad(
                "checkpoint version \(json["version"].map { "\($0)" } ?? "missing") is newer than this Strata reads (\(Self.version))"
            )
        }
        guard let kind = json["kind"]?.stringValue, let config = json["config"],
            let epoch = json["epoch"]?.intValue, let batch = json["batch_in_epoch"]?.intValue,
            let step = json["step"]?.intValue,
            let rng = json["rng"], let sums = json["epoch_sums"]
        else { throw bad("a required field is missing") }
        // Values an edit (or another program) could have put there: each must be possible for a real run.
        guard (0...1_000_000).contains(epoch) else { throw bad("epoch \(epoch) is not from 0 to 1,000,000") }
        guard (0...1_000_000_000).contains(step) else { throw bad("step \(step) is not from 0 to 1,000,000,000") }
        guard (0...1_000_000_000).contains(batch) else {
            throw bad("batch_in_epoch \(batch) is negative or impossibly large")
        }
        var p = TrainingProgress()
        (p.epoch, p.batchInEpoch, p.step) = (epoch, batch, step)
        guard
            let words = rng["global_random"]?.arrayValue?.compactMap({
                $0.stringValue.flatMap { UInt64($0, radix: 16) }
            }),
            words.count == 4
        else { throw bad("rng.global_random must be four 64-bit hex strings") }
        p.globalRandom = (words[0], words[1], words[2], words[3])
        guard let lossSum = sums["loss_sum"]?.doubleValue, let correct = sums["correct"]?.intValue,
            let seen = sums["seen"]?.intValue, let seconds = sums["seconds"]?.doubleValue
        else { throw bad("epoch_sums is incomplete") }
        guard lossSum.isFinite, correct >= 0, seen >= correct, seconds >= 0, seconds.isFinite else {
            throw bad(
                "epoch_sums are impossible (loss_sum \(lossSum), correct \(correct) of seen \(seen), seconds \(seconds))"
            )
        }
        (p.lossSum, p.correct, p.seen, p.epochSeconds) = (lossSum, correct, seen, seconds)
        p.epochDataSeconds = sums["data_seconds"]?.doubleValue ?? 0
        p.history = try (json["history"]?.arrayValue ?? []).map(EpochSummary.init(json:))
        if let b = json["best_val_top1"], b != .null { p.bestTop1 = b.doubleValue }
        if let b = json["best_epoch"], b != .null { p.bestEpoch = b.intValue }
        self.kind = kind
        configuration = try TrainingConfiguration(json: config)
        do { try configuration.validate() } catch { throw bad("its configuration is invalid: \(error)") }
        progress = p
        classNames = (json["class_names"]?.arrayValue ?? []).compactMap(\.stringValue)
        shuffleSeed = rng["shuffle_seed"]?.stringValue.flatMap { UInt64($0) } ?? 0
        schedule = json["schedule"]?.stringValue ?? ""
        nextLearningRate = json["next_learning_rate"]?.doubleValue ?? .nan
        totalSteps = json["total_steps"]?.intValue ?? 0
        wallTime = json["wall_time"]?.doubleValue ?? 0
    }
}

func hex(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}
