#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import StrataNN
import StrataTensor

/// One finished epoch, as the metrics file, the report and checkpoints record it.
public struct EpochSummary: Sendable, Equatable {
    public var epoch: Int
    /// Optimizer steps done when the epoch ended.
    public var step: Int
    public var trainLoss: Double
    public var trainAccuracy: Double
    public var validationLoss: Double
    public var validationTop1: Double
    public var validationTop5: Double
    /// The rate of the epoch's last step.
    public var learningRate: Double
    public var imagesPerSecond: Double
    /// Training time of the epoch (without evaluation).
    public var seconds: Double
    /// Share of the training time spent waiting for batches (loading, augmentation).
    public var dataWaitFraction = 0.0

    var json: JSON {
        .object([("epoch", .int(epoch)), ("step", .int(step)), ("train_loss", .number(trainLoss)),
                 ("train_accuracy", .number(trainAccuracy)), ("val_loss", .number(validationLoss)),
                 ("val_top1", .number(validationTop1)), ("val_top5", .number(validationTop5)),
                 ("learning_rate", .number(learningRate)), ("images_per_second", .number(imagesPerSecond)),
                 ("seconds", .number(seconds)), ("data_wait_fraction", .number(dataWaitFraction))])
    }

    init(epoch: Int, step: Int, trainLoss: Double, trainAccuracy: Double, validationLoss: Double, validationTop1: Double,
         validationTop5: Double, learningRate: Double, imagesPerSecond: Double, seconds: Double, dataWaitFraction: Double = 0) {
        self.dataWaitFraction = dataWaitFraction
        (self.epoch, self.step, self.trainLoss, self.trainAccuracy) = (epoch, step, trainLoss, trainAccuracy)
        (self.validationLoss, self.validationTop1, self.validationTop5) = (validationLoss, validationTop1, validationTop5)
        (self.learningRate, self.imagesPerSecond, self.seconds) = (learningRate, imagesPerSecond, seconds)
    }

    init(json: JSON) throws {
        func n(_ k: String) throws -> Double {
            guard let v = json[k]?.doubleValue else { throw TrainingError.corruptCheckpoint("epoch history entry lacks \(k)") }
            return v
        }
        guard let e = json["epoch"]?.intValue, let s = json["step"]?.intValue else {
            throw TrainingError.corruptCheckpoint("epoch history entry lacks epoch or step")
        }
        self.init(epoch: e, step: s, trainLoss: try n("train_loss"), trainAccuracy: try n("train_accuracy"),
                  validationLoss: try n("val_loss"), validationTop1: try n("val_top1"), validationTop5: try n("val_top5"),
                  learningRate: try n("learning_rate"), imagesPerSecond: try n("images_per_second"), seconds: try n("seconds"))
        dataWaitFraction = json["data_wait_fraction"]?.doubleValue ?? 0
    }
}

/// Where a run stands: everything, besides the weights and the optimizer's tensors, that an
/// exact resume needs.
public struct TrainingProgress: Sendable, Equatable {
    /// Epochs completed.
    public var epoch = 0
    /// Batches of the current (next) epoch already trained: nonzero only for a checkpoint
    /// taken mid-epoch (Ctrl-C).
    public var batchInEpoch = 0
    /// Optimizer steps done (= the schedule's position).
    public var step = 0
    /// Running sums of the current epoch (for its training loss and accuracy).
    public var lossSum = 0.0
    public var correct = 0
    public var seen = 0
    /// Training seconds spent in the current epoch so far.
    public var epochSeconds = 0.0
    /// Of which waiting for batches.
    public var epochDataSeconds = 0.0
    /// Every finished epoch.
    public var history: [EpochSummary] = []
    /// Best validation top-1 so far and its epoch.
    public var bestTop1: Double?
    public var bestEpoch: Int?
    /// ``GlobalRandom``'s state at the checkpoint (dropout masks come from it).
    public var globalRandom: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    public init() {}

    public static func == (a: Self, b: Self) -> Bool {
        a.epoch == b.epoch && a.batchInEpoch == b.batchInEpoch && a.step == b.step && a.lossSum == b.lossSum
            && a.correct == b.correct && a.seen == b.seen && a.epochSeconds == b.epochSeconds && a.epochDataSeconds == b.epochDataSeconds && a.history == b.history
            && a.bestTop1 == b.bestTop1 && a.bestEpoch == b.bestEpoch && a.globalRandom == b.globalRandom
    }
}

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
            ("total_steps", .int(totalSteps)), ("schedule", .string(schedule)), ("next_learning_rate", .number(nextLearningRate)),
            ("best_val_top1", p.bestTop1.map { .number($0) } ?? .null), ("best_epoch", p.bestEpoch.map { .int($0) } ?? .null),
            ("rng", .object([
                ("global_random", .array(rng)),
                ("seed", .string(String(configuration.seed))),
                ("shuffle_seed", .string(String(shuffleSeed))),
            ])),
            ("epoch_sums", .object([("loss_sum", .number(p.lossSum)), ("correct", .int(p.correct)), ("seen", .int(p.seen)),
                                    ("seconds", .number(p.epochSeconds)), ("data_seconds", .number(p.epochDataSeconds))])),
            ("class_names", JSON(classNames)),
            ("config", configuration.json),
            ("history", .array(p.history.map(\.json))),
            ("wall_time", .number(wallTime)),
        ])
    }

    init(kind: String, configuration: TrainingConfiguration, progress: TrainingProgress, classNames: [String],
         shuffleSeed: UInt64, schedule: String, nextLearningRate: Double, totalSteps: Int, wallTime: Double) {
        (self.kind, self.configuration, self.progress, self.classNames) = (kind, configuration, progress, classNames)
        (self.shuffleSeed, self.schedule, self.nextLearningRate, self.totalSteps, self.wallTime) =
            (shuffleSeed, schedule, nextLearningRate, totalSteps, wallTime)
    }

    package init(json: JSON) throws {
        func bad(_ s: String) -> TrainingError { .corruptCheckpoint(s) }
        guard json["format"]?.stringValue == Self.format else { throw bad("not a Strata training checkpoint (format is not \(Self.format))") }
        guard let v = json["version"]?.intValue, v <= Self.version else {
            throw bad("checkpoint version \(json["version"].map { "\($0)" } ?? "missing") is newer than this Strata reads (\(Self.version))")
        }
        guard let kind = json["kind"]?.stringValue, let config = json["config"],
              let epoch = json["epoch"]?.intValue, let batch = json["batch_in_epoch"]?.intValue, let step = json["step"]?.intValue,
              let rng = json["rng"], let sums = json["epoch_sums"] else { throw bad("a required field is missing") }
        // Values an edit (or another program) could have put there: each must be possible for a real run.
        guard (0...1_000_000).contains(epoch) else { throw bad("epoch \(epoch) is not from 0 to 1,000,000") }
        guard (0...1_000_000_000).contains(step) else { throw bad("step \(step) is not from 0 to 1,000,000,000") }
        guard (0...1_000_000_000).contains(batch) else { throw bad("batch_in_epoch \(batch) is negative or impossibly large") }
        var p = TrainingProgress()
        (p.epoch, p.batchInEpoch, p.step) = (epoch, batch, step)
        guard let words = rng["global_random"]?.arrayValue?.compactMap({ $0.stringValue.flatMap { UInt64($0, radix: 16) } }),
              words.count == 4 else { throw bad("rng.global_random must be four 64-bit hex strings") }
        p.globalRandom = (words[0], words[1], words[2], words[3])
        guard let lossSum = sums["loss_sum"]?.doubleValue, let correct = sums["correct"]?.intValue,
              let seen = sums["seen"]?.intValue, let seconds = sums["seconds"]?.doubleValue else { throw bad("epoch_sums is incomplete") }
        guard lossSum.isFinite, correct >= 0, seen >= correct, seconds >= 0, seconds.isFinite else {
            throw bad("epoch_sums are impossible (loss_sum \(lossSum), correct \(correct) of seen \(seen), seconds \(seconds))")
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

/// A checkpoint read back: the model's state dict, the optimizer's state and the training state.
///
/// Files of a run directory:
/// - `last.safetensors`: the model's state dict under its own keys (torchvision's), the optimizer's
///   state under `optimizer/<parameter>/<slot>`, and metadata: ``stateKey`` (the JSON state),
///   `class_names` (a JSON array), `model`, `kind`. `last.json` is a readable copy of the state.
/// - `best.safetensors`: the model only (load it with `strata evaluate`, `infer`, `classify`), same metadata.
public struct Checkpoint: Sendable {
    /// Metadata key of the JSON training state.
    public static let stateKey = "strata_training_state"
    /// Prefix of optimizer-state tensor names.
    public static let optimizerPrefix = "optimizer/"
    public static let lastName = "last.safetensors"
    public static let bestName = "best.safetensors"

    public let path: String
    public let state: CheckpointState
    /// Parameters and buffers of the model.
    public let model: [String: Tensor]
    /// Optimizer state, keyed `<parameter>/<slot>` (prefix removed).
    public let optimizer: [String: Tensor]

    /// Metadata key of the per-tensor checksums: a JSON object, tensor name → CRC-32C of its stored
    /// bytes (8 hex digits). Written with every checkpoint, checked on every load that finds it, so a
    /// flipped bit (an exponent turning a weight into 1e38) is an error, not a silent resume.
    public static let checksumKey = "strata_crc32c"

    /// The checksums metadata for tensors about to be written as F32/F64 (their row-major bytes).
    static func checksums(_ tensors: [String: Tensor]) -> String {
        var out: [(String, JSON)] = []
        for (name, t) in tensors.sorted(by: { $0.key < $1.key }) {
            let storage = t.storage
            let bytes = UnsafeRawBufferPointer(start: storage.pointer, count: t.count * t.dtype.byteCount)
            out.append((name, .string(hex32(CRC32C.checksum(bytes)))))
            withExtendedLifetime(storage) {}
        }
        return JSON.object(out).serialized()
    }

    /// Checks every tensor of `file` against its stored checksum, when the file has them.
    public static func verifyChecksums(_ st: SafeTensorsFile, file: String) throws {
        guard let text = st.metadata[checksumKey] else { return }   // older Strata checkpoints, PyTorch files
        guard case let .object(items)? = try? JSON.parse(text) else {
            throw TrainingError.corruptCheckpoint("\(file): the \(checksumKey) metadata is not a JSON object")
        }
        let stored = Dictionary(items.compactMap { k, v in v.stringValue.map { (k, $0) } }, uniquingKeysWith: { a, _ in a })
        for name in st.names {
            guard let expected = stored[name] else {
                throw TrainingError.corruptCheckpoint("\(file): tensor \(name) has no checksum in \(checksumKey) (the file was altered)")
            }
            let found = hex32(CRC32C.checksum(st.storedBytes(name)!))
            guard found == expected else {
                throw TrainingError.corruptCheckpoint("\(file): tensor \(name) fails its CRC-32C check (stored \(expected), computed \(found)): the file is damaged")
            }
        }
    }

    static func hex32(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 8 - s.count) + s
    }

    /// Reads a checkpoint: a `.safetensors` file, or a run directory (its `last.safetensors`).
    public static func load(_ path: String) throws -> Checkpoint {
        let file = isDirectory(path) ? path + "/" + lastName : path
        guard access(file, F_OK) == 0 else {
            if isDirectory(path) {
                throw TrainingError.resume("\(path) holds no checkpoint (\(lastName) is missing); is it a run directory written by `strata train`?")
            }
            throw FileSystemError(path: file, operation: "open", code: ENOENT)
        }
        let st = try SafeTensorsFile(path: file)
        try verifyChecksums(st, file: file)
        guard let text = st.metadata[stateKey] else {
            throw TrainingError.corruptCheckpoint("\(file) has no \(stateKey) metadata: it holds weights but no training state")
        }
        let state: CheckpointState
        do { state = try CheckpointState(json: try JSON.parse(text)) } catch let e as JSON.SyntaxError {
            throw TrainingError.corruptCheckpoint("\(file): the \(stateKey) metadata is not valid JSON (\(e))")
        }
        var model: [String: Tensor] = [:], optimizer: [String: Tensor] = [:]
        for name in st.names {
            // Keep the stored precision (F64 step counts, F32 weights).
            let dtype: DType = st.info(name)?.dtype == "F64" ? .float64 : .float32
            let t = try st.tensor(name, as: dtype)
            guard allFinite(t) else {
                throw TrainingError.corruptCheckpoint("\(file): tensor \(name) holds NaN or infinity; resume from an earlier run directory or start anew")
            }
            if name.hasPrefix(optimizerPrefix) { optimizer[String(name.dropFirst(optimizerPrefix.count))] = t } else { model[name] = t }
        }
        return Checkpoint(path: file, state: state, model: model, optimizer: optimizer)
    }

    /// Model weights for evaluation or inference from a run directory (its `best.safetensors`,
    /// else `last.safetensors`) or any safetensors file: optimizer tensors are dropped; the class
    /// names, model and dataset come from the metadata when present (Strata checkpoints).
    public static func modelWeights(_ path: String) throws -> ModelWeights {
        var file = path
        if isDirectory(path) {
            file = [bestName, lastName].map { path + "/" + $0 }.first { access($0, F_OK) == 0 } ?? ""
            guard !file.isEmpty else {
                throw TrainingError.resume("\(path) holds no checkpoint (neither \(bestName) nor \(lastName))")
            }
        }
        let st = try SafeTensorsFile(path: file)
        try verifyChecksums(st, file: file)
        var tensors: [String: Tensor] = [:]
        for name in st.names where !name.hasPrefix(optimizerPrefix) { tensors[name] = try st.tensor(name) }
        var names: [String]?
        if let text = st.metadata["class_names"], case let .array(items)? = try? JSON.parse(text) {
            names = items.compactMap(\.stringValue)
        }
        let state = st.metadata[stateKey].flatMap { try? CheckpointState(json: try JSON.parse($0)) }
        return ModelWeights(file: file, tensors: tensors, classNames: names, model: st.metadata["model"] ?? state?.configuration.model,
                            state: state)
    }
}

/// Weights read by ``Checkpoint/modelWeights(_:)``.
public struct ModelWeights: Sendable {
    /// The safetensors file read.
    public let file: String
    /// The model's state dict.
    public let tensors: [String: Tensor]
    /// From the `class_names` metadata (a JSON array), when present.
    public let classNames: [String]?
    /// From the `model` metadata, when present.
    public let model: String?
    /// The training state, for Strata checkpoints.
    public let state: CheckpointState?
}

func isDirectory(_ path: String) -> Bool {
    var s = stat()
    return stat(path, &s) == 0 && (s.st_mode & S_IFMT) == S_IFDIR
}
