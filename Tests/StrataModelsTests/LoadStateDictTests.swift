import Foundation
import StrataModels
import StrataNN
import StrataTensor
import StrataTestSupport
import Testing

/// Loading weights into a zoo model: strict loads report every problem at once and change
/// nothing, non-strict loads take what matches, and a safetensors round trip is exact.
@Suite struct LoadStateDictTests {
    /// resnet20 with the fixtures' deterministic weights (Float32).
    static func source() throws -> Module {
        let m = try Init.withoutInitialization { try Models.make("resnet20") }
        try HashWeights.fill(m.stateDict())
        return m
    }

    static func tensors(_ m: Module) -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: m.stateDict().map { ($0.key, $0.tensor) })
    }

    /// Every entry's bits, to compare a whole model exactly.
    static func snapshot(_ m: Module) -> [String: [UInt32]] {
        Dictionary(uniqueKeysWithValues: m.stateDict().map { ($0.key, $0.tensor.floats.map(\.bitPattern)) })
    }

    static let missing = "layer2.1.conv1.weight", unexpected = "layer4.0.conv1.weight", reshaped = "fc.weight"

    /// The source's state dict with one key missing and one unexpected key.
    static func damaged(_ m: Module) -> [String: Tensor] {
        var d = tensors(m)
        d[missing] = nil
        d[unexpected] = .zeros([64, 64, 3, 3])
        return d
    }

    /// PyTorch's strict load accepts a state dict without batch norm's `num_batches_tracked` (older
    /// checkpoints, or ones filtered to parameters and running statistics); so does Strata's.
    @Test func stateDictWithoutBatchCountersLoadsStrictly() throws {
        let source = try Self.source()
        var d = Self.tensors(source)
        let counters = d.keys.filter { $0.hasSuffix(".num_batches_tracked") }
        #expect(!counters.isEmpty)
        for key in counters { d[key] = nil }
        let target = try Models.make("resnet20")
        let report = try target.loadStateDict(d, strict: true)
        #expect(report.missingKeys.isEmpty)
        let loaded = Self.snapshot(target)
        let expected = Self.snapshot(source)
        for (key, bits) in loaded where !counters.contains(key) { #expect(bits == expected[key], "\(key)") }
        // Any other missing key is still an error.
        d["fc.bias"] = nil
        #expect(throws: StateDictError.self) { try Models.make("resnet20").loadStateDict(d, strict: true) }
    }

    /// torchvision's `googlenet(aux_logits=False)` / `inception_v3(aux_logits=False)` state dicts have no
    /// auxiliary-head keys; they load strictly into the model built for them, which then has no heads.
    @Test(
        "state dicts saved without auxiliary classifiers load for inference",
        arguments: [("googlenet", "aux1."), ("inception_v3", "AuxLogits.")])
    func stateDictWithoutAuxiliaryHeads(_ name: String, _ prefix: String) throws {
        let full = try Init.withoutInitialization { try Models.make(name) }
        let keys = full.stateDict().map(\.key).filter {
            !$0.hasPrefix("aux1.") && !$0.hasPrefix("aux2.") && !$0.hasPrefix("AuxLogits.")
        }
        #expect(keys.count < full.stateDict().count)
        let donor = try Init.withoutInitialization { try Models.make(name, forWeightKeys: keys) }
        #expect(donor.stateDict().map(\.key) == keys, "the model built for these keys has exactly them, in order")
        try HashWeights.fill(donor.stateDict())
        let d = Self.tensors(donor)
        let target = try Init.withoutInitialization { try Models.make(name, forWeightKeys: d.keys) }
        #expect(try target.loadStateDict(d, strict: true).missingKeys.isEmpty)
        #expect(!target.stateDict().contains { $0.key.hasPrefix(prefix) })
        // With the heads' keys present the usual model is built.
        let usual = try Init.withoutInitialization { try Models.make(name, forWeightKeys: full.stateDict().map(\.key)) }
        #expect(usual.stateDict().contains { $0.key.hasPrefix(prefix) })
    }

    @Test func strictReportsEveryProblemAtOnceAndChangesNothing() throws {
        let target = try Models.make("resnet20")
        let before = Self.snapshot(target)
        var d = Self.damaged(try Self.source())
        d[Self.reshaped] = .zeros([10, 32])
        let error = #expect(throws: StateDictError.self) { try target.loadStateDict(d) }
        #expect(error?.missingKeys == [Self.missing])
        #expect(error?.unexpectedKeys == [Self.unexpected])
        #expect(
            error?.shapeMismatches.map { "\($0.key) \($0.expected) \($0.found)" } == ["fc.weight [10, 64] [10, 32]"])
        let text = error?.description ?? ""
        #expect(
            text.contains(Self.missing) && text.contains(Self.unexpected) && text.contains(Self.reshaped), "\(text)")
        #expect(Self.snapshot(target) == before)
    }

    @Test func strictLoadsACompleteStateDict() throws {
        let source = try Self.source()
        let target = try Models.make("resnet20")
        let report = try target.loadStateDict(Self.tensors(source))
        #expect(report.missingKeys.isEmpty && report.unexpectedKeys.isEmpty && report.shapeMismatches.isEmpty)
        #expect(Self.snapshot(target) == Self.snapshot(source))
    }

    @Test func nonStrictLoadsTheRest() throws {
        let source = try Self.source()
        let target = try Models.make("resnet20")
        let before = Self.snapshot(target)
        let report = try target.loadStateDict(Self.damaged(source), strict: false)
        #expect(report.missingKeys == [Self.missing])
        #expect(report.unexpectedKeys == [Self.unexpected])
        #expect(report.shapeMismatches.isEmpty)
        var expected = Self.snapshot(source)
        expected[Self.missing] = before[Self.missing]
        #expect(Self.snapshot(target) == expected)
    }

    @Test func nonStrictStillRejectsAShapeMismatch() throws {
        let target = try Models.make("resnet20")
        let before = Self.snapshot(target)
        var d = Self.damaged(try Self.source())
        d[Self.reshaped] = .zeros([10, 32])
        let error = #expect(throws: StateDictError.self) { try target.loadStateDict(d, strict: false) }
        #expect(error?.shapeMismatches.map(\.key) == [Self.reshaped])
        #expect(Self.snapshot(target) == before)
    }

    @Test func safeTensorsRoundTripGivesIdenticalLogits() throws {
        let source = try Self.source()
        source.eval()
        let x = HashWeights.input([2, 3, 32, 32])
        let expected = withNoGrad { source(x) }

        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "strata-zoo-\(UUID().uuidString).safetensors"
        ).path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafeTensors.write(Self.tensors(source), to: path)
        let file = try SafeTensorsFile(path: path)
        #expect(file.names.count == source.stateDict().count)
        #expect(file.info("layer1.0.bn1.num_batches_tracked")?.shape == [])

        let target = try Models.make("resnet20")
        try target.loadStateDict(try file.tensors(as: .float32))
        #expect(Self.snapshot(target) == Self.snapshot(source))
        target.eval()
        let logits = withNoGrad { target(x) }
        #expect(logits.floats.map(\.bitPattern) == expected.floats.map(\.bitPattern))
    }
}
