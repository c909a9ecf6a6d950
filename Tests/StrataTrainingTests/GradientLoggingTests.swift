import Foundation
import StrataData
import StrataNN
import StrataTensor
import Testing

@testable import StrataTraining

/// `Trainer.gradientLogInterval`: "gradients" records in metrics.jsonl, TensorBoard scalars and
/// histograms; the existing records unchanged.
@Suite struct GradientLoggingTests {
    @Test func recordsEveryNSteps() throws {
        let dir = temporaryDirectory("strata-gradients")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = smallConfiguration(epochs: 2)
        c.logEverySteps = 2
        let trainer = Trainer(model: tinyNet(), configuration: c)
        trainer.runDirectory = try RunDirectory(dir)
        trainer.gradientLogInterval = 2
        var seen: [GradientFlow] = []
        trainer.onGradients = { seen.append($0) }
        try trainer.fit(train: smallTrain, validation: smallValidation)
        // 48 examples / 16 = 3 steps per epoch, 6 in all: the gradients of steps 1, 3 and 5.
        #expect(seen.map(\.step) == [1, 3, 5])
        let lines = try #require(readTextFile(dir + "/metrics.jsonl")).split(separator: "\n").map {
            try JSON.parse(String($0))
        }
        let gradients = lines.filter { $0["type"]?.stringValue == "gradients" }
        #expect(gradients.map { $0["step"]?.intValue } == [1, 3, 5])
        #expect(lines.filter { $0["type"]?.stringValue == "epoch" }.count == 2)
        #expect(lines.filter { $0["type"]?.stringValue == "step" }.map { $0["step"]?.intValue } == [2, 4, 6])
        let layers = try #require(gradients.first?["layers"]?.arrayValue)
        #expect(layers.map { $0["layer"]?.stringValue } == ["0", "5"])
        #expect(
            layers.allSatisfy {
                ($0["gradient_norm"]?.doubleValue ?? 0) > 0 && ($0["weight_norm"]?.doubleValue ?? 0) > 0
            })
        #expect(
            abs(layers[0]["gradient_norm"]!.doubleValue! - seen[0].layers[0].gradientNorm) <= 1e-12
                * seen[0].layers[0].gradientNorm)
        // The event file holds the scalars and the histograms under their tags.
        let events = try #require(trainer.runDirectory?.eventFiles.first)
        let records = try #require(TFRecord.records(in: fileBytes(events) ?? []))
        let text = records.map { String(decoding: $0, as: UTF8.self) }.joined()
        for tag in ["gradients/0", "gradients/5", "gradient_histograms/0", "gradient_histograms/5"] {
            #expect(text.contains(tag), "\(tag)")
        }
    }

    @Test func histogramSummarizesValues() {
        let h = TensorBoardHistogram([0, 1, 2, 3, 4, .nan], buckets: 4)
        #expect(h.min == 0 && h.max == 4 && h.count == 5 && h.sum == 10 && h.sumSquares == 30)
        #expect(h.bucketLimits == [1, 2, 3, 4])
        #expect(h.bucketCounts == [1, 1, 1, 2])
        let single = TensorBoardHistogram([2, 2])
        #expect(single.bucketLimits == [2] && single.bucketCounts == [2])
        // Encoding: Summary.Value field 5 (histo) holds min (field 1, a double) first.
        let event = TensorBoardEvent.histograms([("t", h)], step: 3, wallTime: 0)
        let histo: [UInt8] = [0x2A] // key(5, length-delimited)
        #expect(event.count > 100 && event.firstRange(of: Array("t".utf8) + histo) != nil)
    }
}
