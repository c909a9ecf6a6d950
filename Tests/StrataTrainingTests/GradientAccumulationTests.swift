import Foundation
import StrataData
import StrataNN
import StrataTensor
import Testing

@testable import StrataTraining

/// A conv net without batch norm (whose per-micro-batch statistics would make accumulation differ
/// from a large batch): [N, 1, 32, 32] → conv 4@15×15 (stride 2) → ReLU → max-pool 2 → [N, 196] → linear 10.
func batchNormFreeNet() -> Module {
    Sequential(Conv2d(1, 4, kernel: 3, stride: 2), ReLU(), MaxPool2d(kernel: 2), Flatten(), Linear(4 * 7 * 7, 10))
}

/// The largest difference between two models' weights, relative to the largest magnitude of each tensor.
func worstRelativeDifference(_ a: Module, _ b: Module) -> Float {
    let other = Dictionary(uniqueKeysWithValues: b.stateDict().map { ($0.key, $0.tensor.floats) })
    var worst: Float = 0
    for (key, tensor) in a.stateDict() {
        let x = tensor.floats
        let y = other[key] ?? []
        guard x.count == y.count else { return .infinity }
        let scale = Swift.max(y.map(abs).max() ?? 0, Float.leastNormalMagnitude)
        for (u, v) in zip(x, y) { worst = Swift.max(worst, abs(u - v) / scale) }
    }
    return worst
}

/// `--accumulate-steps K`: K micro-batches of B per optimizer step, equal to one step on K·B.
@Suite struct GradientAccumulationTests {
    /// 46 examples: in batches of 4, twelve batches, the last of 2; in steps of 4 such batches,
    /// three steps, the last of 4 + 4 + 4 + 2 = 14 examples, as the last batch of 16 holds 14.
    static let train = SyntheticShapes(count: 46, seed: 21)
    static let validation = SyntheticShapes(count: 10, seed: 22)
    /// Float32 sums in a different order (a mean of 16 against four weighted means of 4), over six
    /// SGD steps: measured 1.7e-7.
    static let tolerance: Float = 1e-5

    func configuration(batchSize: Int, accumulateSteps: Int, epochs: Int = 2) -> TrainingConfiguration {
        var c = smallConfiguration(epochs: epochs)
        (c.batchSize, c.accumulateSteps) = (batchSize, accumulateSteps)
        (c.optimizer, c.momentum, c.nesterov, c.weightDecay) = (.sgd, 0.9, true, 5e-3)
        return c
    }

    /// The trained trainer and what `onStep` saw at each step.
    func trained(_ initial: Module, batchSize: Int, accumulateSteps: Int) throws -> (Trainer, [StepInfo]) {
        let trainer = Trainer(
            model: try clone(initial, batchNormFreeNet),
            configuration: configuration(batchSize: batchSize, accumulateSteps: accumulateSteps))
        var steps: [StepInfo] = []
        trainer.onStep = { steps.append($0) }
        #expect(try trainer.fit(train: Self.train, validation: Self.validation) == .completed)
        return (trainer, steps)
    }

    /// Momentum and weight decay, a cosine schedule with warmup, and an epoch whose last step holds
    /// a small micro-batch (2 of its 14 examples): weighting every micro-batch by 1/K instead of by
    /// its share of the step's examples, or not scaling at all, fails this.
    @Test func fourMicroBatchesOfFourEqualOneBatchOfSixteen() throws {
        let initial = batchNormFreeNet()
        let (accumulated, accumulatedSteps) = try trained(initial, batchSize: 4, accumulateSteps: 4)
        let (large, largeSteps) = try trained(initial, batchSize: 16, accumulateSteps: 1)

        // A step is an optimizer step: 3 per epoch (⌈12 batches / 4⌉), each 4 batches further.
        #expect(accumulated.configuration.stepsPerEpoch(examples: Self.train.count) == 3)
        #expect(accumulatedSteps.map(\.step) == Array(1...6) && largeSteps.map(\.step) == Array(1...6))
        #expect(accumulatedSteps.map(\.batch) == [4, 8, 12, 4, 8, 12])
        #expect(accumulatedSteps.map(\.batches) == Array(repeating: 12, count: 6))
        #expect(accumulatedSteps.map(\.learningRate) == largeSteps.map(\.learningRate))

        let worst = worstRelativeDifference(accumulated.model, large.model)
        print("gradient accumulation: K = 4 × B = 4 against B = 16, worst relative weight difference \(worst)")
        #expect(worst < Self.tolerance, "worst relative difference \(worst)")
        for (a, b) in zip(accumulatedSteps, largeSteps) {
            #expect(abs(a.loss - b.loss) <= 1e-5 * abs(b.loss), "step \(a.step): loss \(a.loss) against \(b.loss)")
        }
        for (a, b) in zip(accumulated.progress.history, large.progress.history) {
            #expect(abs(a.trainLoss - b.trainLoss) <= 1e-5 * abs(b.trainLoss) && a.trainAccuracy == b.trainAccuracy)
        }

        // The tolerance tells different training apart: batches of 4 without accumulation end far away.
        let (small, _) = try trained(initial, batchSize: 4, accumulateSteps: 1)
        let apart = worstRelativeDifference(small.model, large.model)
        #expect(apart > 100 * Self.tolerance, "batches of 4 without accumulation differ by only \(apart)")
    }

    /// Stopped after the second step of epoch 2 (batch 10 of 12: steps of 5, 5 and 2 batches),
    /// resumed from the files: bit for bit the uninterrupted run (batch norm included).
    @Test func resumeInTheMiddleOfAnAccumulatingEpochIsExact() throws {
        var c = configuration(batchSize: 4, accumulateSteps: 5)
        c.logEverySteps = 1
        let initial = tinyNet()
        let straight = Trainer(model: try clone(initial, tinyNet), configuration: c)
        #expect(try straight.fit(train: Self.train, validation: Self.validation) == .completed)
        #expect(straight.progress.step == 6)

        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = Trainer(model: try clone(initial, tinyNet), configuration: c)
        first.runDirectory = try RunDirectory(dir)
        first.onStep = { if $0.step == 5 { first.requestStop() } }
        #expect(try first.fit(train: Self.train, validation: Self.validation) == .interrupted(step: 5))
        let checkpoint = try Checkpoint.load(dir)
        let p = checkpoint.state.progress
        #expect(p.epoch == 1 && p.step == 5 && p.batchInEpoch == 10 && p.seen == 40)
        #expect(checkpoint.state.configuration.accumulateSteps == 5)

        let resumed = Trainer(model: tinyNet(), configuration: checkpoint.state.configuration)
        resumed.runDirectory = try RunDirectory(dir)
        try resumed.restore(from: checkpoint)
        #expect(try resumed.fit(train: Self.train, validation: Self.validation) == .completed)
        #expect(bits(resumed.model) == bits(straight.model))
        #expect(bits(resumed.optimizer.stateDict()) == bits(straight.optimizer.stateDict()))
        #expect(resumed.progress.history.map(\.trainLoss) == straight.progress.history.map(\.trainLoss))
        let records = try RunDirectory(dir).metricRecords()
        let steps = records.filter { $0["type"] == "step" }.compactMap { $0["step"].flatMap { Int($0) } }
        #expect(steps == Array(1...6))
    }

    @Test(arguments: [0, -3, 65_537])
    func invalidAccumulateStepsIsAClearError(_ k: Int) throws {
        var c = smallConfiguration()
        c.accumulateSteps = k
        let message = "--accumulate-steps must be from 1 to 65,536 micro-batches per optimizer step, got \(k)"
        do {
            try c.validate()
            Issue.record("accumulate steps \(k) validated")
        } catch { #expect("\(error)".contains(message), "\(error)") }
        do {
            try Trainer(model: batchNormFreeNet(), configuration: c).fit(train: Self.train, validation: Self.validation)
            Issue.record("accumulate steps \(k) trained")
        } catch { #expect("\(error)".contains(message), "\(error)") }
    }

    /// The checkpoint records accumulate_steps; one written before the setting existed (no key)
    /// reads as 1; a checkpoint in the middle of an optimizer step is refused.
    @Test func checkpointsRecordAccumulateStepsAndOldOnesMeanOne() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = configuration(batchSize: 16, accumulateSteps: 2, epochs: 1)
        let trainer = Trainer(model: batchNormFreeNet(), configuration: c)
        trainer.runDirectory = try RunDirectory(dir)
        try trainer.fit(train: Self.train, validation: Self.validation)
        let text = try Data(contentsOf: URL(fileURLWithPath: dir + "/last.json"))
        let json = try JSONSerialization.jsonObject(with: text) as! [String: Any]
        #expect((json["config"] as? [String: Any])?["accumulate_steps"] as? Int == 2)
        #expect(json["step"] as? Int == 2) // 3 batches of 16 (the last of 14) in steps of 2
        #expect(try Checkpoint.load(dir).state.configuration == c)

        try editCheckpointState(dir) { state in
            var config = state["config"] as! [String: Any]
            config.removeValue(forKey: "accumulate_steps")
            state["config"] = config
        }
        var expected = c
        expected.accumulateSteps = 1
        #expect(try Checkpoint.load(dir).state.configuration == expected)

        // Batch 1 of epoch 2 with steps of 2 batches: no checkpoint is ever taken there.
        try editCheckpointState(dir) { state in
            var config = state["config"] as! [String: Any]
            config["accumulate_steps"] = 2
            config["epochs"] = 2
            state["config"] = config
            state["batch_in_epoch"] = 1
        }
        let checkpoint = try Checkpoint.load(dir)
        let resumed = Trainer(model: batchNormFreeNet(), configuration: checkpoint.state.configuration)
        try resumed.restore(from: checkpoint)
        do {
            try resumed.fit(train: Self.train, validation: Self.validation)
            Issue.record("a checkpoint in the middle of an optimizer step was resumed")
        } catch {
            #expect(
                "\(error)".contains("batch_in_epoch 1 is not the end of an optimizer step of 2 batches"),
                "\(error)")
        }
    }

    /// Rewrites last.safetensors with `edit` applied to its state JSON (tensors and checksums unchanged).
    private func editCheckpointState(_ dir: String, _ edit: (inout [String: Any]) -> Void) throws {
        let path = dir + "/" + Checkpoint.lastName
        let file = try SafeTensorsFile(path: path)
        var tensors: [String: Tensor] = [:]
        for name in file.names {
            tensors[name] = try file.tensor(name, as: file.info(name)?.dtype == "F64" ? .float64 : .float32)
        }
        let text = try #require(file.metadata[Checkpoint.stateKey])
        var state = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        edit(&state)
        var metadata = file.metadata
        let edited = try JSONSerialization.data(withJSONObject: state)
        metadata[Checkpoint.stateKey] = String(decoding: edited, as: UTF8.self)
        try SafeTensors.write(tensors, metadata: metadata, to: path)
    }
}
