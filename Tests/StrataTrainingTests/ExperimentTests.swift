import Foundation
import StrataData
import StrataModels
import StrataNN
import StrataTensor
import Testing

@testable import StrataTraining

/// The experiments' verdicts are computed from the measurements (both outcomes of each), and an
/// arm trains end to end with the ordinary trainer, writing its metrics and result.
@Suite struct ExperimentTests {
    static func arm(_ name: String, train: [Double], test: [Double], losses: [Double] = [], failure: String? = nil)
        -> ArmResult
    {
        ArmResult(
            name: name, model: name, parameters: 1000,
            epochs: zip(train, test).enumerated().map { i, e in
                ArmResult.Epoch(
                    epoch: i + 1, step: 10 * (i + 1), trainLoss: 1, trainError: e.0, testLoss: 1, testError: e.1)
            }, stepLosses: losses, seconds: 1, failure: failure)
    }

    @Test func degradationReproducedWhenTheDeepPlainNetTrainsWorse() {
        let v = Experiments.degradationVerdict(
            plainShallow: Self.arm("plain20", train: [0.5, 0.10], test: [0.5, 0.15]),
            plainDeep: Self.arm("plain56", train: [0.6, 0.14], test: [0.6, 0.18]),
            residualShallow: Self.arm("resnet20", train: [0.5, 0.09], test: [0.5, 0.14]),
            residualDeep: Self.arm("resnet56", train: [0.5, 0.06], test: [0.5, 0.12]))
        #expect(v.reproduced)
        #expect(v.findings.map(\.holds) == [true, true, true, true])
        #expect(
            v.findings[0].evidence.contains("plain56 14.0% train")
                && v.findings[0].evidence.contains("plain20 10.0% train")
                && v.findings[0].evidence.contains("degradation reproduced"))
        #expect(v.summary == "degradation: reproduced (4 of 4 measured claims hold)")
        #expect(v.measurements.first { $0.0 == "plain56_train_error" }?.1 == 0.14)
        #expect(v.markdown.contains("✓ holds"))
    }

    @Test func degradationNotReproducedWhenTheDeepPlainNetTrainsBetter() {
        let v = Experiments.degradationVerdict(
            plainShallow: Self.arm("plain20", train: [0.12], test: [0.15]),
            plainDeep: Self.arm("plain56", train: [0.11], test: [0.18]),
            residualShallow: Self.arm("resnet20", train: [0.09], test: [0.14]),
            residualDeep: Self.arm("resnet56", train: [0.10], test: [0.13]))
        #expect(!v.reproduced)
        #expect(v.findings.map(\.holds) == [false, false, true, true])
        #expect(v.findings[0].evidence.contains("degradation not reproduced"))
        #expect(v.summary == "degradation: not reproduced (2 of 4 measured claims hold)")
        #expect(v.markdown.contains("✗ does not hold"))
    }

    @Test func batchNormVerdictBothWays() {
        let n = 100
        let slow = (0..<n).map { 2.3 - 1.0 * Double($0) / Double(n) } // ends near 1.3
        let fast = (0..<n).map { Swift.max(0.3, 2.3 - 4.0 * Double($0) / Double(n)) }
        let v = Experiments.batchNormVerdict(
            withBN: Self.arm("bn", train: [], test: [], losses: fast),
            withoutBN: Self.arm("nobn", train: [], test: [], losses: slow),
            withBNHighRate: Self.arm("bn_lr10x", train: [], test: [], losses: fast))
        #expect(v.reproduced && v.findings.map(\.holds) == [true, true])
        // Reversed: BN is the slow one, and the high rate diverged.
        let w = Experiments.batchNormVerdict(
            withBN: Self.arm("bn", train: [], test: [], losses: slow),
            withoutBN: Self.arm("nobn", train: [], test: [], losses: fast),
            withBNHighRate: Self.arm("bn_lr10x", train: [], test: [], losses: [2.3, .nan], failure: "non-finite"))
        #expect(!w.reproduced && w.findings.map(\.holds) == [false, false])
        #expect(w.findings[1].evidence.contains("diverged"))
        // Without BN the loss stays at chance: BN holds when it learns, with the numbers in words.
        let flat = [Double](repeating: 2.3, count: n)
        let x = Experiments.batchNormVerdict(
            withBN: Self.arm("bn", train: [], test: [], losses: fast),
            withoutBN: Self.arm("nobn", train: [], test: [], losses: flat),
            withBNHighRate: Self.arm("bn_lr10x", train: [], test: [], losses: fast))
        #expect(x.findings.map(\.holds) == [true, true])
        #expect(
            x.findings[0].evidence.hasPrefix(
                "nobn does not learn in 100 steps (moving average 2.3 → 2.3); bn goes from"))
        let y = Experiments.batchNormVerdict(
            withBN: Self.arm("bn", train: [], test: [], losses: flat),
            withoutBN: Self.arm("nobn", train: [], test: [], losses: flat),
            withBNHighRate: Self.arm("bn_lr10x", train: [], test: [], losses: flat))
        #expect(y.findings.map(\.holds) == [false, false])
        // window 1 (a tenth of 4 steps): the values themselves
        #expect(Experiments.stepsToReach(1.0, losses: [3, 2, 1, 0.5]) == 3)
        #expect(Experiments.movingAverage([1, 2, 3, 4], window: 2) == [1, 1.5, 2.5, 3.5])
    }

    @Test func efficiencyVerdictBothWays() {
        let dense = Experiments.EfficiencyRow(
            model: "densenet_bc_100", parameters: 769_162, macs: 288_000_000, imagesPerSecond: 100, accuracy: 0.95)
        let resnet = Experiments.EfficiencyRow(
            model: "resnet110", parameters: 1_730_714, macs: 253_000_000, imagesPerSecond: 200, accuracy: 0.93)
        let v = Experiments.efficiencyVerdict(dense: dense, residual: resnet, inceptionMACs: (100, 250))
        #expect(v.reproduced && v.findings.map(\.holds) == [true, true, true])
        #expect(v.measurements.first { $0.0 == "densenet_bc_100_test_top1" }?.1 == 0.95)
        #expect(v.measurements.first { $0.0 == "resnet110_test_top1" }?.1 == 0.93)
        var worse = dense
        worse.parameters = 1_000_000
        worse.accuracy = nil
        let w = Experiments.efficiencyVerdict(dense: worse, residual: resnet, inceptionMACs: (100, 90))
        #expect(!w.reproduced && w.findings.map(\.holds) == [false, nil, false])
        #expect(w.summary.contains("1 not measured"))
        #expect(!w.measurements.contains { $0.0.hasSuffix("_test_top1") })
    }

    /// A tiny arm trains with the trainer into DIR/<arm>; a second call reads result.json back instead of training.
    @Test func armTrainsAndResumesFromItsResult() throws {
        let dir = temporaryDirectory("strata-experiment")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = smallConfiguration(epochs: 2)
        c.model = "tiny"
        let data = ExperimentData(train: smallTrain, test: smallValidation, description: "synthetic")
        let r = try Experiments.train(
            ExperimentArm(name: "a", model: "tiny", configuration: c), model: tinyNet(), data: data, directory: dir)
        #expect(r.epochs.count == 2 && r.stepLosses.count == 6 && r.failure == nil)
        #expect(
            r.epochs.allSatisfy { $0.trainError >= 0 && $0.trainError <= 1 && $0.testError >= 0 && $0.testError <= 1 })
        let files = directoryListing(dir + "/a")
        #expect(
            files.contains("metrics.jsonl") && files.contains("result.json") && !files.contains("last.safetensors")
                && !files.contains("best.safetensors"))
        let again = try Experiments.train(
            ExperimentArm(name: "a", model: "tiny", configuration: c), model: tinyNet(), data: data, directory: dir)
        #expect(again == r)
        // Other settings, or other data, are refused instead of reusing the arm trained without them.
        var other = c
        other.learningRate *= 2
        #expect(throws: TrainingError.self) {
            try Experiments.train(
                ExperimentArm(name: "a", model: "tiny", configuration: other), model: tinyNet(), data: data,
                directory: dir)
        }
        #expect(throws: TrainingError.self) {
            try Experiments.train(
                ExperimentArm(name: "a", model: "tiny", configuration: c), model: tinyNet(),
                data: data.limited(train: smallTrain.count - 1, test: nil), directory: dir)
        }
    }

    @Test func repeatedChannels() {
        let d = RepeatedChannels(SyntheticShapes(count: 2, seed: 1), channels: 3)
        #expect(d.imageShape == [3, 32, 32])
        var pixels = [Float](repeating: -1, count: 3 * 32 * 32)
        let label = pixels.withUnsafeMutableBufferPointer { d.load(1, into: $0) }
        #expect(label == SyntheticShapes(count: 2, seed: 1).label(1))
        #expect(
            Array(pixels[0..<1024]) == Array(pixels[1024..<2048]) && Array(pixels[0..<1024]) == Array(pixels[2048...]))
    }
}
