import Foundation
import StrataData
import StrataModels
import StrataNN
import StrataTensor
import Testing

@testable import StrataTraining

#if canImport(Glibc)
    import Glibc
#endif

/// Checkpoints and exact resume. The models here have no dropout: GlobalRandom is shared with
/// tests running in parallel, so a run that drew from it could not be compared bit for bit.
@Suite(.serialized) struct ResumeTests {
    /// 2 epochs straight vs 1 epoch, save, reload into new model and optimizer objects, 1 epoch:
    /// bitwise-identical weights, BN statistics and optimizer state.
    func checkEpochBoundaryResume(
        _ config: TrainingConfiguration, make: () -> Module, train: any Dataset = smallTrain,
        validation: any Dataset = smallValidation
    ) throws {
        let initial = make()
        let straight = Trainer(model: try clone(initial, make), configuration: config)
        var straightReports: [EpochReport] = []
        #expect(try straight.fit(train: train, validation: validation) { straightReports.append($0) } == .completed)

        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = Trainer(model: try clone(initial, make), configuration: config)
        first.runDirectory = try RunDirectory(dir)
        let outcome = try first.fit(train: train, validation: validation) { r in if r.epoch == 1 { first.requestStop() }
        }
        #expect(outcome == .interrupted(step: config.stepsPerEpoch(examples: train.count)))

        // "Fresh process": new model (different initial weights) and trainer, everything from the files.
        let checkpoint = try Checkpoint.load(dir)
        #expect(checkpoint.state.progress.epoch == 1 && checkpoint.state.progress.batchInEpoch == 0)
        let resumed = Trainer(model: make(), configuration: checkpoint.state.configuration)
        resumed.runDirectory = try RunDirectory(dir)
        try resumed.restore(from: checkpoint)
        var resumedReports: [EpochReport] = []
        #expect(try resumed.fit(train: train, validation: validation) { resumedReports.append($0) } == .completed)

        #expect(bits(resumed.model) == bits(straight.model))
        #expect(bits(resumed.optimizer.stateDict()) == bits(straight.optimizer.stateDict()))
        #expect(resumedReports.map(\.epoch) == [2])
        #expect(resumedReports[0].trainLoss.bitPattern == straightReports[1].trainLoss.bitPattern)
        #expect(resumedReports[0].validation == straightReports[1].validation)
        #expect(resumed.progress.history.map(\.validationTop1) == straight.progress.history.map(\.validationTop1))
    }

    @Test func sgdNesterovResumesBitwise() throws {
        var c = smallConfiguration()
        (c.optimizer, c.nesterov, c.weightDecay) = (.sgd, true, 5e-4)
        try checkEpochBoundaryResume(c, make: tinyNet)
    }

    @Test func adamWWithOneCycleLabelSmoothingAndClippingResumesBitwise() throws {
        var c = smallConfiguration()
        (c.optimizer, c.learningRate, c.weightDecay, c.schedule) = (.adamw, 3e-3, 0.05, .onecycle)
        (c.labelSmoothing, c.clipGradNorm) = (0.1, 1.0)
        try checkEpochBoundaryResume(c, make: tinyNet)
    }

    /// The brief's case: LeNet-5 on a small synthetic set.
    @Test func lenet5ResumesBitwise() throws {
        var c = smallConfiguration()
        c.model = "lenet5"
        c.schedule = .multistep
        try checkEpochBoundaryResume(
            c, make: { LeNet5(classes: 10) }, train: SyntheticShapes(count: 32, seed: 5),
            validation: SyntheticShapes(count: 10, seed: 6))
    }

    /// Stopped mid-epoch (what Ctrl-C does), resumed from the files: the same as straight through.
    @Test func midEpochStopResumesBitwise() throws {
        var c = smallConfiguration(epochs: 3)
        (c.optimizer, c.schedule, c.logEverySteps) = (.sgd, .cosine, 2)
        let initial = tinyNet()
        let straight = Trainer(model: try clone(initial, tinyNet), configuration: c)
        try straight.fit(train: smallTrain, validation: smallValidation)

        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = Trainer(model: try clone(initial, tinyNet), configuration: c)
        first.runDirectory = try RunDirectory(dir)
        first.onStep = { if $0.step == 5 { first.requestStop() } } // epoch 2, batch 2 of 3
        #expect(try first.fit(train: smallTrain, validation: smallValidation) == .interrupted(step: 5))
        let checkpoint = try Checkpoint.load(dir)
        #expect(checkpoint.state.progress.epoch == 1 && checkpoint.state.progress.batchInEpoch == 2)
        #expect(checkpoint.state.progress.seen == 32)

        let resumed = Trainer(model: tinyNet(), configuration: checkpoint.state.configuration)
        resumed.runDirectory = try RunDirectory(dir)
        try resumed.restore(from: checkpoint)
        #expect(try resumed.fit(train: smallTrain, validation: smallValidation) == .completed)
        #expect(bits(resumed.model) == bits(straight.model))
        #expect(resumed.progress.history.map(\.trainLoss) == straight.progress.history.map(\.trainLoss))

        // The metrics file reads as one run: each epoch once, steps increasing.
        let records = try RunDirectory(dir).metricRecords()
        #expect(records.filter { $0["type"] == "epoch" }.map { $0["epoch"] } == ["1", "2", "3"])
        let steps = records.filter { $0["type"] == "step" }.compactMap { $0["step"].flatMap { Int($0) } }
        #expect(steps == [2, 4, 6, 8])
    }

    /// A real SIGINT: the handler sets the flag, the trainer finishes the step, saves and returns.
    @Test func sigintSavesAResumableCheckpoint() throws {
        let c = smallConfiguration()
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let trainer = Trainer(model: tinyNet(), configuration: c)
        trainer.runDirectory = try RunDirectory(dir)
        trainer.stopOnInterrupt = true
        InterruptSignal.install()
        defer {
            InterruptSignal.uninstall()
            InterruptSignal.reset()
        }
        var stepsSeen: [Int] = []
        trainer.onStep = { info in
            stepsSeen.append(info.step)
            guard info.step == 2 else { return }
            kill(getpid(), SIGINT) // process-directed (test threads may block it), so delivered asynchronously:
            for _ in 0..<2000 where InterruptSignal.received == 0 { usleep(1000) } // wait for the handler
        }
        #expect(try trainer.fit(train: smallTrain, validation: smallValidation) == .interrupted(step: 2))
        #expect(InterruptSignal.received == SIGINT)
        #expect(stepsSeen == [1, 2])
        let checkpoint = try Checkpoint.load(dir)
        #expect(checkpoint.state.progress.step == 2 && checkpoint.state.progress.batchInEpoch == 2)
        #expect(
            bits(checkpoint.model.mapValues { $0.to(.float64) })
                == bits(
                    Dictionary(uniqueKeysWithValues: trainer.model.stateDict().map { ($0.key, $0.tensor.to(.float64)) })
                ))
    }

    @Test func restoreRejectsAMismatchedModelOrOptimizer() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = try trainOneEpoch(into: dir)
        let checkpoint = try Checkpoint.load(dir)
        do {
            try Trainer(model: LeNet5(), configuration: c).restore(from: checkpoint)
            Issue.record("expected an error")
        } catch { #expect("\(error)".contains("does not fit")) }
        var adam = c
        adam.optimizer = .adamw
        #expect(throws: TrainingError.self) {
            try Trainer(model: tinyNet(), configuration: adam).restore(from: checkpoint)
        }
        #expect(throws: TrainingError.self) { try Checkpoint.load(temporaryDirectory()) }
    }
}

/// One epoch of the tiny net on the small data set, checkpointed into `dir`; returns its configuration.
@discardableResult
func trainOneEpoch(into dir: String) throws -> TrainingConfiguration {
    let c = smallConfiguration(epochs: 1)
    let t = Trainer(model: tinyNet(), configuration: c)
    t.runDirectory = try RunDirectory(dir)
    try t.fit(train: smallTrain, validation: smallValidation)
    return c
}

@Suite struct CheckpointChecksumTests {
    /// A bit flipped in a stored weight (the exponent's top bit: 0.01 becomes ~3e36) is caught on load,
    /// for a resume and for evaluation/inference, naming the file and the tensor.
    @Test func aFlippedBitIsCaughtOnLoad() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try trainOneEpoch(into: dir)
        let path = dir + "/" + Checkpoint.lastName
        _ = try Checkpoint.load(dir) // intact: loads
        let st = try SafeTensorsFile(path: path)
        #expect(st.metadata[Checkpoint.checksumKey] != nil)
        let name = st.names.first { !$0.hasPrefix("optimizer/") && st.info($0)?.dtype == "F32" }!
        // safetensors: u64 header length N, the JSON header, then data; offsets count from 8 + N.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let headerLength = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + headerLength)])) as? [String: Any]
        let begin = ((header?[name] as? [String: Any])?["data_offsets"] as? [Int])?.first ?? 0
        // The tensor's first float, most significant byte, bit 6 of the exponent: flip it.
        let start = 8 + headerLength + begin
        bytes[start + 3] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        for load in [{ _ = try Checkpoint.load(dir) }, { _ = try Checkpoint.modelWeights(path) }] {
            do {
                try load()
                Issue.record("a damaged checkpoint loaded")
            } catch {
                #expect(
                    "\(error)".contains(path) && "\(error)".contains("tensor \(name) fails its CRC-32C check"),
                    "\(error)")
            }
        }
    }
}

@Suite struct EditedCheckpointTests {
    /// The checkpoint's state with `edit` applied to its JSON, written back (weights and checksums unchanged).
    func edited(_ dir: String, _ edit: (inout [String: Any]) -> Void) throws {
        let path = dir + "/" + Checkpoint.lastName
        let st = try SafeTensorsFile(path: path)
        var tensors: [String: Tensor] = [:]
        for name in st.names {
            tensors[name] = try st.tensor(name, as: st.info(name)?.dtype == "F64" ? .float64 : .float32)
        }
        var state =
            try JSONSerialization.jsonObject(with: Data(st.metadata[Checkpoint.stateKey]!.utf8)) as! [String: Any]
        edit(&state)
        var metadata = st.metadata
        metadata[Checkpoint.stateKey] = String(
            decoding: try JSONSerialization.data(withJSONObject: state), as: UTF8.self)
        try SafeTensors.write(tensors, metadata: metadata, to: path)
    }

    /// Impossible progress values are errors naming them, not traps (issue 11).
    @Test func impossibleProgressIsAnError() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = try trainOneEpoch(into: dir)
        for (key, value, message) in [
            ("epoch", -3, "epoch -3"), ("batch_in_epoch", -1, "batch_in_epoch -1"), ("step", -7, "step -7"),
        ] {
            try edited(dir) { $0[key] = value }
            do {
                _ = try Checkpoint.load(dir)
                Issue.record("\(key) = \(value) loaded")
            } catch { #expect("\(error)".contains(message), "\(error)") }
            try edited(dir) { $0[key] = 0 }
        }
        // Past the end of an epoch of this dataset: refused when training resumes.
        try edited(dir) { $0["batch_in_epoch"] = 1_000_000 }
        let resumed = Trainer(model: tinyNet(), configuration: c)
        resumed.runDirectory = try RunDirectory(dir)
        try resumed.restore(from: try Checkpoint.load(dir))
        do {
            try resumed.fit(train: smallTrain, validation: smallValidation)
            Issue.record("batch_in_epoch past the epoch was accepted")
        } catch { #expect("\(error)".contains("batch_in_epoch 1000000 is past the"), "\(error)") }
    }
}

@Suite(.serialized) struct CheckpointFileTests {
    @Test func checkpointFilesHoldModelOptimizerStateAndClassNames() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = smallConfiguration(epochs: 1)
        c.optimizer = .adamw
        let t = Trainer(model: tinyNet(), configuration: c)
        t.runDirectory = try RunDirectory(dir)
        t.evaluationTransform = .normalization(Normalization(mean: [0.4914], std: [0.247]))
        try t.fit(train: smallTrain, validation: smallValidation)
        for name in ["last.safetensors", "last.json", "best.safetensors", "best.json", "metrics.jsonl", "report.html"] {
            #expect(directoryListing(dir).contains(name), "missing \(name)")
        }
        #expect(directoryListing(dir).contains { $0.hasPrefix("events.out.tfevents.") })
        #expect(!directoryListing(dir).contains { $0.contains(".tmp-") })

        let last = try SafeTensorsFile(path: dir + "/last.safetensors")
        let classNames = try #require(last.metadata["class_names"])
        #expect(try JSONSerialization.jsonObject(with: Data(classNames.utf8)) as? [String] == SyntheticShapes.names)
        #expect(last.metadata["model"] == "tiny")
        // The evaluation normalization, for `strata classify` (ImageClassifier reads these keys).
        #expect(last.metadata["mean"] == "[0.4914]" && last.metadata["std"] == "[0.247]")
        #expect(try SafeTensorsFile(path: dir + "/best.safetensors").metadata["mean"] == "[0.4914]")
        #expect(last.names.contains("optimizer/0.weight/exp_avg") && last.names.contains("optimizer/5.bias/step"))
        #expect(last.names.contains("1.running_mean") && last.names.contains("1.num_batches_tracked"))

        // best.safetensors holds the model only and loads strictly into a fresh model.
        let best = try Checkpoint.modelWeights(dir)
        #expect(best.file.hasSuffix("best.safetensors"))
        #expect(best.classNames == SyntheticShapes.names && best.model == "tiny")
        #expect(Set(best.tensors.keys) == Set(tinyNet().stateDict().map(\.key)))
        try tinyNet().loadStateDict(best.tensors)
        // Weights from last.safetensors lose their optimizer tensors too.
        #expect(Set(try Checkpoint.modelWeights(dir + "/last.safetensors").tensors.keys) == Set(best.tensors.keys))

        // The readable JSON copy matches the metadata.
        let json =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/last.json")))
            as! [String: Any]
        #expect(json["epoch"] as? Int == 1 && json["step"] as? Int == 3 && json["kind"] as? String == "last")
        let rng = json["rng"] as! [String: Any]
        #expect((rng["global_random"] as? [String])?.count == 4)
        #expect((json["config"] as? [String: Any])?["optimizer"] as? String == "adamw")
    }

    @Test func stateJSONRoundTripsExactly() throws {
        var p = TrainingProgress()
        (p.epoch, p.batchInEpoch, p.step, p.lossSum, p.correct, p.seen) = (3, 2, 77, 0.1 + 0.2, 5, 32)
        p.globalRandom = (0xFFFF_FFFF_FFFF_FFFF, 1, 0x8000_0000_0000_0000, 12345)
        p.history = [
            EpochSummary(
                epoch: 1, step: 25, trainLoss: 2.302585092994046, trainAccuracy: 0.1, validationLoss: .pi,
                validationTop1: 1.0 / 3, validationTop5: 1, learningRate: 1e-5, imagesPerSecond: 1234.5, seconds: 0.007)
        ]
        (p.bestTop1, p.bestEpoch) = (1.0 / 3, 1)
        var c = smallConfiguration()
        (c.maxSteps, c.clipGradNorm, c.seed, c.milestones) = (100, 2.5, UInt64.max, [10, 20])
        let s = CheckpointState(
            kind: "last", configuration: c, progress: p, classNames: ["a \"quoted\" name", "ü", "tab\t"],
            shuffleSeed: 99, schedule: "x", nextLearningRate: 0.01, totalSteps: 100, wallTime: 1.5)
        let back = try CheckpointState(json: try JSON.parse(s.json.serialized()))
        #expect(back.progress == p)
        #expect(back.configuration == c)
        #expect(back.classNames == s.classNames)
        let pretty = try CheckpointState(json: try JSON.parse(s.json.serialized(pretty: true)))
        #expect(pretty.progress == p)
    }

    /// A full disk while checkpointing: the write fails inside AtomicFile (as ENOSPC would), the
    /// error is clear and the previous checkpoint is byte-for-byte intact, with no temporary files.
    @Test func failedCheckpointWriteKeepsThePreviousCheckpoint() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = smallConfiguration(epochs: 2)
        let t = Trainer(model: tinyNet(), configuration: c)
        t.runDirectory = try RunDirectory(dir)
        try t.fit(train: smallTrain, validation: smallValidation) { r in if r.epoch == 1 { t.requestStop() } }
        let before = try #require(fileBytes(dir + "/last.safetensors"))
        let beforeJSON = try #require(fileBytes(dir + "/last.json"))

        let resumed = Trainer(model: tinyNet(), configuration: c)
        let run = try RunDirectory(dir)
        run.writeSafeTensors = { _, _, path in
            try AtomicFile.write(to: path) { out in
                try out.write([UInt8](repeating: 7, count: 4096)) // part of the file made it
                throw FileSystemError(path: path, operation: "write (temporary file)", code: ENOSPC)
            }
        }
        resumed.runDirectory = run
        try resumed.restore(from: try Checkpoint.load(dir))
        do {
            try resumed.fit(train: smallTrain, validation: smallValidation)
            Issue.record("expected the checkpoint write to fail")
        } catch let error as TrainingError {
            guard case .writeFailed = error else {
                Issue.record("unexpected \(error)")
                return
            }
            let text = "\(error)"
            #expect(text.contains("No space left on device"))
            #expect(text.contains("last.safetensors (epoch 1, step 3)"))
            #expect(text.contains("intact"))
        }
        #expect(fileBytes(dir + "/last.safetensors") == before)
        #expect(fileBytes(dir + "/last.json") == beforeJSON)
        #expect(!directoryListing(dir).contains { $0.contains(".tmp-") })
        #expect(try Checkpoint.load(dir).state.progress.epoch == 1)
    }

    /// The same with a real failure: a run directory that cannot be written (not as root, which may write anyway).
    @Test(.enabled(if: getuid() != 0)) func unwritableRunDirectoryIsAClearError() throws {
        let dir = temporaryDirectory()
        defer {
            chmod(dir, 0o755)
            try? FileManager.default.removeItem(atPath: dir)
        }
        let c = smallConfiguration(epochs: 2)
        let t = Trainer(model: tinyNet(), configuration: c)
        t.runDirectory = try RunDirectory(dir)
        try t.fit(train: smallTrain, validation: smallValidation) { r in if r.epoch == 1 { t.requestStop() } }
        let before = try #require(fileBytes(dir + "/last.safetensors"))
        chmod(dir, 0o555)
        let resumed = Trainer(model: tinyNet(), configuration: c)
        resumed.runDirectory = try RunDirectory(dir)
        try resumed.restore(from: try Checkpoint.load(dir))
        #expect(throws: TrainingError.self) { try resumed.fit(train: smallTrain, validation: smallValidation) }
        #expect(fileBytes(dir + "/last.safetensors") == before)
    }
}

@Suite(.serialized) struct NonFiniteTests {
    /// A parameter that went NaN: training stops at the next step naming it; the checkpoint stays.
    @Test func nonFiniteWeightsStopTrainingAndNameTheParameter() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = smallConfiguration(epochs: 2)
        let t = Trainer(model: tinyNet(), configuration: c)
        t.runDirectory = try RunDirectory(dir)
        let last = dir + "/last.safetensors"
        var before: [UInt8]?
        t.onStep = { info in
            if info.step == 4 { // after epoch 1's checkpoint: corrupt a weight as a diverging run would
                before = fileBytes(last)
                let w = t.model.namedParameters().first { $0.0 == "5.weight" }!.1
                w.withUnsafeMutableBuffer(as: Float.self) { $0[17] = .infinity }
            }
        }
        do {
            try t.fit(train: smallTrain, validation: smallValidation)
            Issue.record("expected a non-finite error")
        } catch let TrainingError.nonFinite(report) {
            #expect(report.step == 5 && report.epoch == 2 && report.batch == 2)
            #expect(report.culprit == "values of 5.weight (layer 5, Linear)")
            #expect(report.lastCheckpoint?.contains("(epoch 1, step 3)") == true)
            #expect("\(report)".contains("step 5"))
        }
        #expect(before != nil && fileBytes(last) == before)
        #expect(try Checkpoint.load(dir).state.progress.step == 3)
    }

    /// A buffer that went NaN (a running variance; no gradient passes through it in training mode):
    /// the epoch's checkpoint is not written and the error names the buffer and the intact checkpoint.
    @Test func nonFiniteBufferIsNeverCheckpointed() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let t = Trainer(model: tinyNet(), configuration: smallConfiguration(epochs: 2))
        t.runDirectory = try RunDirectory(dir)
        let last = dir + "/last.safetensors"
        var before: [UInt8]?
        t.onStep = { info in
            if info.step == 4 {
                before = fileBytes(last)
                let v = t.model.namedBuffers().first { $0.0 == "1.running_var" }!.1
                v.withUnsafeMutableBuffer(as: Float.self) { $0[2] = .nan }
            }
        }
        do {
            try t.fit(train: smallTrain, validation: smallValidation)
            Issue.record("expected a non-finite error")
        } catch let TrainingError.nonFinite(report) {
            #expect(report.culprit?.contains("1.running_var") == true, "\(report)")
            #expect(report.lastCheckpoint?.contains("(epoch 1, step 3)") == true, "\(report)")
        }
        #expect(before != nil && fileBytes(last) == before)
        #expect(try Checkpoint.load(dir).state.progress.step == 3)
    }

    /// A checkpoint holding NaN (written by another program, or an older Strata) is refused on load, naming the tensor.
    @Test func checkpointWithNaNIsRefused() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let t = Trainer(model: tinyNet(), configuration: smallConfiguration(epochs: 1))
        t.runDirectory = try RunDirectory(dir)
        try t.fit(train: smallTrain, validation: smallValidation)
        let ckpt = try Checkpoint.load(dir)
        var tensors = ckpt.model
        tensors["0.weight"]!.withUnsafeMutableBuffer(as: Float.self) { $0[0] = .nan }
        for (k, v) in ckpt.optimizer { tensors[Checkpoint.optimizerPrefix + k] = v }
        let st = try SafeTensorsFile(path: dir + "/last.safetensors")
        var metadata = st.metadata
        metadata.removeValue(forKey: Checkpoint.checksumKey) // as a file without checksums would be
        try SafeTensors.write(tensors, metadata: metadata, to: dir + "/last.safetensors")
        #expect { try Checkpoint.load(dir) } throws: { "\($0)".contains("0.weight holds NaN") }
    }

    @Test func nonFiniteInputIsReported() throws {
        let t = Trainer(model: tinyNet(), configuration: smallConfiguration(epochs: 1))
        let train = PoisonedDataset(base: smallTrain, bad: 5)
        do {
            try t.fit(train: train, validation: smallValidation)
            Issue.record("expected a non-finite error")
        } catch let TrainingError.nonFinite(report) {
            #expect(report.culprit?.contains("input batch") == true, "\(report)")
        }
    }

    /// A learning rate that blows up: training stops with a step and a layer, never writing NaN weights.
    @Test func divergingLearningRateStops() throws {
        var c = smallConfiguration(epochs: 3)
        (c.learningRate, c.warmupEpochs, c.schedule, c.momentum, c.nesterov) = (1e30, 0, .constant, 0, false)
        let t = Trainer(model: tinyNet(), configuration: c)
        do {
            try t.fit(train: smallTrain, validation: smallValidation)
            Issue.record("expected a non-finite error")
        } catch let TrainingError.nonFinite(report) {
            #expect(report.culprit != nil, "\(report)")
        }
    }
}

@Suite struct AuxiliaryLossTests {
    /// A model with one auxiliary head: loss = CE(main) + 0.3 · CE(aux), in training mode only.
    final class TwoHeads: Module, AuxiliaryClassifying {
        let body = Sequential(Flatten(), Linear(4, 3))
        let aux = Sequential(Flatten(), Linear(4, 3))
        func forwardWithAuxiliary(_ x: Tensor) -> (logits: Tensor, auxiliary: [Tensor]) {
            (body(x), training ? [aux(x)] : [])
        }
        override func forward(_ x: Tensor) -> Tensor { forwardWithAuxiliary(x).logits }
    }

    @Test func auxiliaryLossesAreWeighted() {
        let model = TwoHeads()
        var c = TrainingConfiguration()
        c.labelSmoothing = 0.1
        let t = Trainer(model: model, configuration: c)
        let x = Tensor((0..<8).map { Float($0) * 0.1 - 0.3 }, shape: [2, 4, 1, 1])
        let labels = [0, 2]
        let (loss, logits) = t.trainingLoss(images: x, labels: labels)
        let main = crossEntropy(model.body(x), labels: labels, labelSmoothing: 0.1).item()
        let aux = crossEntropy(model.aux(x), labels: labels, labelSmoothing: 0.1).item()
        #expect(abs(loss.item() - (main + 0.3 * aux)) < 1e-6)
        #expect(logits.floats == model.body(x).floats)
    }
}
