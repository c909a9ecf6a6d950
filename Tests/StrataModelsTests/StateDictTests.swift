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
        let registered = Set(Models.all.map(\.name)), fixtures = Set(Self.names)
        // The fixture lists torchvision's and the papers' models; the registry may have more
        // depths (resnet32_b, plain110, …) and names the no-aux GoogLeNet differently.
        #expect(fixtures.subtracting(registered) == ["googlenet_noaux"])
    }

    @Test(arguments: names)
    func keysOrderAndShapesMatch(_ name: String) throws {
        let expected = ZooFixtures.stateDicts.models[name]!
        let model = try Init.withoutInitialization { try makeFixtureModel(name, classes: Self.classes(name)) }
        let actual = model.stateDict().map { StateDictFixture.Entry(key: $0.key, shape: $0.tensor.shape) }
        let common = min(actual.count, expected.keys.count)
        let firstDifference = (0..<common).first { actual[$0] != expected.keys[$0] }
            ?? (actual.count == expected.keys.count ? nil : common)
        if let i = firstDifference {
            func show(_ list: [StateDictFixture.Entry]) -> String {
                i < list.count ? "\(list[i].key) \(list[i].shape)" : "nothing (\(list.count) entries)"
            }
            Issue.record("""
                \(name): state dicts first differ at entry \(i): Strata has \(show(actual)), \
                PyTorch has \(show(expected.keys)) (\(actual.count) vs \(expected.keys.count) entries)
                """)
        }
        #expect(model.parameterCount == expected.parameters, "\(name)")
    }

    @Test func numBatchesTrackedIsAScalar() throws {
        let model = try Init.withoutInitialization { try Models.make("resnet20") }
        let counters = model.stateDict().filter { $0.key.hasSuffix("num_batches_tracked") }
        #expect(counters.count == 19)
        #expect(counters.allSatisfy { $0.tensor.shape == [] })
    }
}
