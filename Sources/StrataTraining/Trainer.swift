import StrataData
import StrataNN
import StrataTensor

/// Settings of a training run.
public struct TrainingConfiguration: Sendable {
    public var epochs = 3
    public var batchSize = 64
    public var learningRate = 0.05
    public var momentum = 0.9
    public var nesterov = true
    public var weightDecay = 5e-4
    /// Linear warmup length, in epochs, before cosine decay.
    public var warmupEpochs = 0.0
    public var labelSmoothing = 0.0
    public var seed: UInt64 = 0
    public init() {}
}

/// What one epoch produced.
public struct EpochReport: Sendable {
    public let epoch: Int
    public let trainLoss: Double
    public let trainAccuracy: Double
    public let validation: EvaluationResult
    public let learningRate: Double
    public let imagesPerSecond: Double
    public let seconds: Double
}

/// Trains a classifier with SGD (momentum, Nesterov, weight decay) and a warmup + cosine
/// schedule, evaluating at the end of every epoch.
public final class Trainer {
    public let model: Module
    public let configuration: TrainingConfiguration
    public let optimizer: SGD
    public private(set) var step = 0

    public init(model: Module, configuration: TrainingConfiguration) {
        self.model = model
        self.configuration = configuration
        // No weight decay on BN parameters and biases (1-D tensors).
        let params = model.parameters()
        optimizer = SGD(params, momentum: configuration.momentum, nesterov: configuration.nesterov,
                        weightDecay: configuration.weightDecay, decays: params.map { $0.rank > 1 })
    }

    /// Runs every epoch, calling `report` after each.
    public func fit(train: any Dataset, validation: any Dataset, report: (EpochReport) -> Void) {
        let c = configuration
        let stepsPerEpoch = (train.count + c.batchSize - 1) / c.batchSize
        let schedule = LearningRateSchedule.cosine(base: c.learningRate, warmup: Int(c.warmupEpochs * Double(stepsPerEpoch)),
                                                   total: c.epochs * stepsPerEpoch)
        for epoch in 1...c.epochs {
            model.train()
            let start = MonotonicClock.now()
            var lossSum = 0.0, correct = 0, seen = 0
            let loader = BatchLoader(train, batchSize: c.batchSize, shuffleSeed: c.seed &+ UInt64(epoch))
            var lr = 0.0
            for batch in loader {
                lr = schedule.learningRate(at: step)
                let logits = model(batch.images)
                let loss = crossEntropy(logits, labels: batch.labels, labelSmoothing: c.labelSmoothing)
                optimizer.zeroGrad()
                loss.backward()
                optimizer.step(lr: lr)
                step += 1
                lossSum += loss.item() * Double(batch.labels.count)
                correct += correctCount(logits.detached(), labels: batch.labels)
                seen += batch.labels.count
            }
            let seconds = MonotonicClock.now() - start
            let val = evaluate(model, on: validation)
            report(EpochReport(epoch: epoch, trainLoss: lossSum / Double(seen), trainAccuracy: Double(correct) / Double(seen),
                               validation: val, learningRate: lr, imagesPerSecond: Double(seen) / seconds, seconds: seconds))
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Seconds from a monotonic clock.
public enum MonotonicClock {
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
