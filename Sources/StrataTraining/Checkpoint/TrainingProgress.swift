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
        .object([
            ("epoch", .int(epoch)), ("step", .int(step)), ("train_loss", .number(trainLoss)),
            ("train_accuracy", .number(trainAccuracy)), ("val_loss", .number(validationLoss)),
            ("val_top1", .number(validationTop1)), ("val_top5", .number(validationTop5)),
            ("learning_rate", .number(learningRate)), ("images_per_second", .number(imagesPerSecond)),
            ("seconds", .number(seconds)), ("data_wait_fraction", .number(dataWaitFraction)),
        ])
    }

    init(
        epoch: Int, step: Int, trainLoss: Double, trainAccuracy: Double, validationLoss: Double, validationTop1: Double,
        validationTop5: Double, learningRate: Double, imagesPerSecond: Double, seconds: Double,
        dataWaitFraction: Double = 0
    ) {
        self.dataWaitFraction = dataWaitFraction
        (self.epoch, self.step, self.trainLoss, self.trainAccuracy) = (epoch, step, trainLoss, trainAccuracy)
        (self.validationLoss, self.validationTop1, self.validationTop5) = (
            validationLoss, validationTop1, validationTop5
        )
        (self.learningRate, self.imagesPerSecond, self.seconds) = (learningRate, imagesPerSecond, seconds)
    }

    init(json: JSON) throws {
        func n(_ k: String) throws -> Double {
            guard let v = json[k]?.doubleValue else {
                throw TrainingError.corruptCheckpoint("epoch history entry lacks \(k)")
            }
            return v
        }
        guard let e = json["epoch"]?.intValue, let s = json["step"]?.intValue else {
            throw TrainingError.corruptCheckpoint("epoch history entry lacks epoch or step")
        }
        self.init(
            epoch: e, step: s, trainLoss: try n("train_loss"), trainAccuracy: try n("train_accuracy"),
            validationLoss: try n("val_loss"), validationTop1: try n("val_top1"), validationTop5: try n("val_top5"),
            learningRate: try n("learning_rate"), imagesPerSecond: try n("images_per_second"), seconds: try n("seconds")
        )
        dataWaitFraction = json["data_wait_fraction"]?.doubleValue ?? 0
    }
}

/// Where a run stands: everything, besides the weights and the optimizer's tensors, that an
/// exact resume needs.
public struct TrainingProgress: Sendable, Equatable {
    /// Epochs completed.
    public var epoch = 0
    /// Batches of the current (next) epoch already trained: nonzero only for a checkpoint
    /// taken mid-epoch (Ctrl-C), and then a whole number of optimizer steps (a multiple of
    /// ``TrainingConfiguration/accumulateSteps``).
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
    /// `GlobalRandom`'s state at the checkpoint (dropout masks come from it).
    public var globalRandom: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    public init() {}

    public static func == (a: Self, b: Self) -> Bool {
        a.epoch == b.epoch && a.batchInEpoch == b.batchInEpoch && a.step == b.step && a.lossSum == b.lossSum
            && a.correct == b.correct && a.seen == b.seen && a.epochSeconds == b.epochSeconds
            && a.epochDataSeconds == b.epochDataSeconds && a.history == b.history
            && a.bestTop1 == b.bestTop1 && a.bestEpoch == b.bestEpoch && a.globalRandom == b.globalRandom
    }
}
