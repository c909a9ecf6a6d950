import Foundation
import StrataData
import StrataNN
import StrataTensor
import Testing

@testable import StrataTraining

/// A minimal protocol-buffer reader for checking the hand-written encoder.
enum Proto {
    enum Field: Equatable { case varint(UInt64), fixed64(UInt64), bytes([UInt8]), fixed32(UInt32) }

    static func fields(_ b: [UInt8]) -> [(Int, Field)]? {
        var i = 0
        var out: [(Int, Field)] = []
        func varint() -> UInt64? {
            var v: UInt64 = 0
            var shift: UInt64 = 0
            while i < b.count {
                let byte = b[i]
                i += 1
                v |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return v }
                shift += 7
            }
            return nil
        }
        func le(_ n: Int) -> UInt64? {
            guard i + n <= b.count else { return nil }
            defer { i += n }
            return (0..<n).reduce(UInt64(0)) { $0 | UInt64(b[i + $1]) << (8 * UInt64($1)) }
        }
        while i < b.count {
            guard let key = varint() else { return nil }
            let field = Int(key >> 3)
            switch key & 7 {
            case 0:
                guard let v = varint() else { return nil }
                out.append((field, .varint(v)))
            case 1:
                guard let v = le(8) else { return nil }
                out.append((field, .fixed64(v)))
            case 2:
                guard let n = varint(), i + Int(n) <= b.count else { return nil }
                out.append((field, .bytes(Array(b[i..<i + Int(n)]))))
                i += Int(n)
            case 5:
                guard let v = le(4) else { return nil }
                out.append((field, .fixed32(UInt32(v))))
            default: return nil
            }
        }
        return out
    }

    /// (step, [(tag, value)], fileVersion, sessionStart) of an Event.
    static func event(_ b: [UInt8]) -> (
        step: Int, scalars: [(String, Float)], fileVersion: String?, sessionStart: Bool
    )? {
        guard let fs = fields(b) else { return nil }
        var step = 0
        var scalars: [(String, Float)] = []
        var version: String?
        var start = false
        for (f, v) in fs {
            switch (f, v) {
            case (2, .varint(let s)): step = Int(s)
            case (3, .bytes(let s)): version = String(decoding: s, as: UTF8.self)
            case (5, .bytes(let summary)):
                for (sf, sv) in fields(summary) ?? [] {
                    guard sf == 1, case .bytes(let value) = sv else { continue }
                    var tag = ""
                    var x: Float = .nan
                    for (vf, vv) in fields(value) ?? [] {
                        if vf == 1, case .bytes(let t) = vv { tag = String(decoding: t, as: UTF8.self) }
                        if vf == 2, case .fixed32(let bits) = vv { x = Float(bitPattern: bits) }
                    }
                    scalars.append((tag, x))
                }
            case (6, .bytes(let log)): start = fields(log)?.contains { $0.0 == 1 && $0.1 == .varint(1) } ?? false
            default: break
            }
        }
        return (step, scalars, version, start)
    }
}

@Suite struct TensorBoardFormatTests {
    /// Published CRC-32C check values (RFC 3720 appendix B.4 and the "123456789" check).
    @Test func crc32cTestVectors() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).reversed().map { UInt8($0) }) == 0x113F_DB5C)
        #expect(CRC32C.checksum([]) == 0)
    }

    /// TFRecord's mask: rotate right 15, add 0xa282ead8 (mod 2³²).
    @Test func maskedCRC() {
        let crc: UInt32 = 0xE306_9283
        #expect(CRC32C.masked(Array("123456789".utf8)) == ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8)
        #expect(CRC32C.masked(Array("123456789".utf8)) == 0xC78A_B0E5)
    }

    @Test func recordFraming() {
        let data: [UInt8] = Array("hello, tensorboard".utf8)
        let framed = TFRecord.frame(data)
        #expect(framed.count == 8 + 4 + data.count + 4)
        #expect(Array(framed[0..<8]) == [UInt8(data.count), 0, 0, 0, 0, 0, 0, 0])
        let lengthCRC = CRC32C.masked(Array(framed[0..<8]))
        #expect(Array(framed[8..<12]) == (0..<4).map { UInt8(truncatingIfNeeded: lengthCRC >> (8 * $0)) })
        #expect(Array(framed[12..<12 + data.count]) == data)
        let dataCRC = CRC32C.masked(data)
        #expect(Array(framed[(12 + data.count)...]) == (0..<4).map { UInt8(truncatingIfNeeded: dataCRC >> (8 * $0)) })
        #expect(TFRecord.records(in: framed + TFRecord.frame([1, 2, 3])) ?? [] == [data, [1, 2, 3]])
        var corrupt = framed
        corrupt[14] ^= 1
        #expect(TFRecord.records(in: corrupt) == nil)
    }

    /// Event{wall_time: 1.5, step: 3, summary{value{tag: "a", simple_value: 2}}}, encoded by hand.
    @Test func eventEncoding() {
        let bytes = TensorBoardEvent.scalars([("a", 2)], step: 3, wallTime: 1.5)
        #expect(
            bytes == [
                0x09, 0, 0, 0, 0, 0, 0, 0xF8, 0x3F, 0x10, 0x03, 0x2A, 0x0A, 0x0A, 0x08, 0x0A, 0x01, 0x61, 0x15, 0, 0, 0,
                0x40,
            ])
        let version = TensorBoardEvent.fileVersion(wallTime: 0)
        #expect(Proto.event(version)?.fileVersion == "brain.Event:2")
        #expect(Proto.event(TensorBoardEvent.sessionStart(step: 7, wallTime: 1))?.sessionStart == true)
        let many = Proto.event(TensorBoardEvent.scalars([("loss/train", 0.25), ("x", -1)], step: 300, wallTime: 2))!
        #expect(
            many.step == 300 && many.scalars.map(\.0) == ["loss/train", "x"] && many.scalars.map(\.1) == [0.25, -1])
    }
}

@Suite(.serialized) struct RunDirectoryLogTests {
    static func trainedRun(epochs: Int = 2, logEvery: Int = 1) throws -> (String, Trainer) {
        let dir = temporaryDirectory()
        var c = smallConfiguration(epochs: epochs)
        c.logEverySteps = logEvery
        let t = Trainer(model: tinyNet(), configuration: c)
        t.runDirectory = try RunDirectory(dir)
        try t.fit(train: smallTrain, validation: smallValidation)
        return (dir, t)
    }

    @Test func tensorBoardEventFileReadsBack() throws {
        let (dir, t) = try Self.trainedRun()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let files = try RunDirectory(dir).eventFiles
        #expect(files.count == 1)
        let name = (files[0] as NSString).lastPathComponent
        #expect(name.hasPrefix("events.out.tfevents.") && name.split(separator: ".").count >= 5)
        let records = try #require(TFRecord.records(in: fileBytes(files[0]) ?? []))
        let events = records.compactMap(Proto.event)
        #expect(events.count == records.count)
        #expect(events.first?.fileVersion == "brain.Event:2")
        let epochEvents = events.filter { $0.scalars.contains { $0.0 == "loss/train" } }
        #expect(epochEvents.map(\.step) == [3, 6])
        let tags = Set(epochEvents[0].scalars.map(\.0))
        #expect(
            tags == [
                "loss/train", "loss/validation", "accuracy/train", "accuracy/validation_top1",
                "accuracy/validation_top5",
                "learning_rate", "images_per_second", "data_wait_fraction",
            ])
        let top1 = epochEvents.map { e in e.scalars.first { $0.0 == "accuracy/validation_top1" }!.1 }
        #expect(top1 == t.progress.history.map { Float($0.validationTop1) })
        #expect(events.filter { $0.scalars.contains { $0.0 == "step/loss" } }.map(\.step) == [1, 2, 3, 4, 5, 6])
    }

    @Test func metricsAreJSONLines() throws {
        let (dir, t) = try Self.trainedRun(logEvery: 2)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8)
        let lines = text.split(separator: "\n").map {
            try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        #expect(lines.map { $0["type"] as! String } == ["step", "epoch", "step", "step", "epoch"])
        let epochs = lines.filter { $0["type"] as? String == "epoch" }
        #expect(epochs.map { $0["epoch"] as! Int } == [1, 2])
        #expect(epochs.map { $0["step"] as! Int } == [3, 6])
        // Values are written in Swift's shortest round-trip form: exact when read back (Foundation's
        // JSONSerialization may round the last digit, so compare through StrataTraining's reader).
        let exact = try text.split(separator: "\n").map { try JSON.parse(String($0)) }.filter {
            $0["type"] == .string("epoch")
        }
        #expect(exact.map { $0["train_loss"]?.doubleValue } == t.progress.history.map(\.trainLoss))
        #expect(exact.map { $0["val_loss"]?.doubleValue } == t.progress.history.map(\.validationLoss))
        for (e, h) in zip(epochs, t.progress.history) {
            #expect(e["val_top1"] as? Double == h.validationTop1)
            #expect(abs((e["train_loss"] as? Double ?? 0) - h.trainLoss) < 1e-12)
            #expect((e["val_per_class_accuracy"] as? [Double])?.count == 10)
            for key in [
                "val_loss", "val_top5", "train_accuracy", "learning_rate", "images_per_second", "seconds",
                "data_wait_fraction", "wall_time", "best",
            ] {
                #expect(e[key] != nil, "missing \(key)")
            }
        }
        let steps = lines.filter { $0["type"] as? String == "step" }
        #expect(steps.map { $0["step"] as! Int } == [2, 4, 6])
        #expect(steps.allSatisfy { $0["loss"] is Double && $0["learning_rate"] is Double })
    }

    @Test func reportHasPlotsConfusionMatrixAndConfiguration() throws {
        let (dir, _) = try Self.trainedRun()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let html = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        #expect(html.hasPrefix("<!DOCTYPE html>") && html.hasSuffix("</html>\n"))
        for id in ["plot-loss", "plot-accuracy", "plot-learning-rate"] {
            #expect(html.contains("<svg id=\"\(id)\""), "no \(id)")
        }
        #expect(html.components(separatedBy: "<svg").count - 1 == 3)
        #expect(html.components(separatedBy: "</svg>").count - 1 == 3)
        #expect(html.components(separatedBy: "<polyline").count - 1 == 6) // 2 + 3 + 1 series, 2 epochs each
        #expect(html.contains("<table class=\"cm\">") && html.contains("horizontal stripes"))
        #expect(
            html.contains("Per-class accuracy") && html.contains("learning_rate")
                && html.contains("tiny on synthetic-small"))
        #expect(
            !html.contains("<script") && !html.contains("http://")
                || html.contains("xmlns=\"http://www.w3.org/2000/svg\""))
    }

    @Test func reportForManyClassesUsesAnSVGHeatmap() {
        let k = 25
        let confusion = (0..<k).map { i in (0..<k).map { j in i == j ? 8 : (j == (i + 1) % k ? 2 : 0) } }
        let e = EvaluationResult(loss: 1, top1: 0.8, top5: 1, confusion: confusion)
        let html = HTMLReport(
            configuration: TrainingConfiguration(), schedule: "s", history: [], evaluation: e,
            classNames: (0..<k).map { "c<\($0)>" }, epochs: 3, totalSteps: 9, bestEpoch: nil
        ).render()
        #expect(html.contains("<svg id=\"confusion\""))
        #expect(html.contains("c&lt;3&gt;") && !html.contains("c<3>"))
        #expect(html.contains("No epoch has finished yet"))
    }

    @Test func progressLine() {
        let info = StepInfo(
            epoch: 2, epochs: 4, batch: 94, batches: 188, step: 282, totalSteps: 752, loss: 0.5, epochLoss: 0.43125,
            learningRate: 0.0421, imagesPerSecond: 5123.4, etaSeconds: 101)
        #expect(
            ProgressBar.line(info)
                == "epoch 2/4 [##########··········]  94/188  5123 img/s  loss 0.4313  lr 0.0421  ETA 1:41")
    }

    @Test func evaluationTextReport() {
        let e = EvaluationResult(loss: 0.5, top1: 0.75, top5: 1, confusion: [[3, 1], [0, 0]])
        let text = e.formatted(classNames: ["cat", "dog"])
        #expect(
            text.contains("top-1     75.00%") && text.contains("cat   75.00%  (3/4)")
                && text.contains("dog    0.00%  (0/0)"))
    }
}
