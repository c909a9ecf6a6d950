import StrataModels
import StrataNN
import StrataTensor
import Testing

/// Exactness: every zoo model's state dict has torchvision's (or the reference scripts') keys,
/// in `state_dict()` order, with the same shapes, and the same parameter count
/// (Fixtures/state_dicts.json).
@Suite struct StateDictTests {
    static let names = ZooFixtures.stateDicts.models.keys.sorted()

    /// The class count each fixture model was recorded with: 1000 for ImageNet inputs, else 10.
    static func classes(_ name: String) -> Int {
        let input = ZooFixtures.stateDicts.models[name]!.input
        return input == [3, 224, 224] || input == [3, 299, 299] ? 1000 : 10
    }

    @Test func coversTheRegistry() {
        let registered = Set(Models.all.map(\.name))
        let fixtures = Set(Self.names)
        // The fixture lists torchvision's and the papers' models; the registry may have more
        // depths (resnet32_b, plain110, …) and names the no-aux GoogLeNet differently.
        #expect(fixtures.subtracting(registered) == ["googlenet_noaux"])
    }

    @Test(arguments: names)
    func keysOrderAndShapesMatch(_ name: String) throws {
        let expected = ZooFixtures.stateDicts.models[name]!
        let model = try Init.withoutInitialization { try makeFixtureModel(name, classes: Self.classes(name)) }
        let actual = model.stateDict().map { StateDictFixture.Entry(key: $0.key, shape: $0.tensor.shape) }
        if let difference = Self.firstDifference(actual, expected.keys) { Issue.record("\(name): \(difference)") }
        #expect(model.parameterCount == expected.parameters, "\(name)")
    }

    /// Where two state-dict layouts first differ (key, order or shape), in words; nil if equal.
    static func firstDifference(_ actual: [StateDictFixture.Entry], _ expected: [StateDictFixture.Entry]) -> String? {
        let common = min(actual.count, expected.count)
        guard
            let i = (0..<common).first(where: { actual[$0] != expected[$0] })
                ?? (actual.count == expected.count ? nil : common)
        else { return nil }
        func show(_ list: [StateDictFixture.Entry]) -> String {
            i < list.count ? "\(list[i].key) \(list[i].shape)" : "nothing"
        }
        return "state dicts first differ at entry \(i): Strata has \(show(actual)), PyTorch has \(show(expected))"
            + " (\(actual.count) vs \(expected.count) entries)"
    }

    @Test func aDifferenceNamesTheFirstDifferingKey() {
        let a = ZooFixtures.stateDicts.models["resnet20"]!.keys
        let b = ZooFixtures.stateDicts.models["resnet20_b"]!.keys
        #expect(Self.firstDifference(a, a) == nil)
        let message = Self.firstDifference(a, b) ?? ""
        #expect(
            message.hasPrefix(
                "state dicts first differ at entry 54: Strata has layer2.1.conv1.weight [32, 32, 3, 3], "
                    + "PyTorch has layer2.0.downsample.0.weight [32, 16, 1, 1]"), "\(message)")
        let shorter = Self.firstDifference(Array(a.dropLast()), a) ?? ""
        #expect(
            shorter.hasPrefix("state dicts first differ at entry 115: Strata has nothing, PyTorch has fc.bias [10]"),
            "\(shorter)")
    }

    @Test func numBatchesTrackedIsAScalar() throws {
        let model = try Init.withoutInitialization { try Models.make("resnet20") }
        let counters = model.stateDict().filter { $0.key.hasSuffix("num_batches_tracked") }
        #expect(counters.count == 19)
        #expect(counters.allSatisfy { $0.tensor.shape == [] })
    }
}
