import Foundation
import StrataModels
import StrataNN
import StrataTensor
import StrataTestSupport
import Testing

/// Inception-v4 and Inception-ResNet-v2 against timm (`inception_v4`, `inception_resnet_v2`;
/// Fixtures/timm.json, made by Scripts/make_timm_fixtures.py): parameter counts, state-dict
/// keys, order and shapes (so timm's weights load as they are), MACs of `strata summary`
/// against forward hooks, the smallest input timm takes, and eval-mode logits from the
/// deterministic weights in Float64 and Float32, with ParityTests' tolerances:
/// Float64 ≤ 1e-9 · max(1, max |logit|), Float32 ≤ 1e-4 · max |logit| (both against timm's Float64).
///
/// By default the logits are checked at 75×75 (the smallest input both take) with 10 classes;
/// the 299×299, 1000-class cases run with STRATA_HEAVY_TESTS=1 (minutes in a debug build):
/// `STRATA_HEAVY_TESTS=1 swift test -c release -Xswiftc -enable-testing --filter InceptionV4Tests`.
@Suite struct InceptionV4Tests {
    static let counts = [("inception_v4", 42_679_816), ("inception_resnet_v2", 55_843_464)]
    static let names = counts.map(\.0)
    static let light = TimmFixtures.fixture.cases.filter { !$0.heavy }
    static let heavy = TimmFixtures.fixture.cases.filter(\.heavy)

    static func model(_ name: String, classes: Int = 1000) throws -> Module {
        try Init.withoutInitialization { try Models.make(name, classes: classes) }
    }

    @Test(arguments: counts.map(\.0))
    func parameterCountMatchesTimm(_ name: String) throws {
        let expected = Self.counts.first { $0.0 == name }!.1
        #expect(try Self.model(name).parameterCount == expected, "\(name)")
        #expect(TimmFixtures.fixture.models[name]?.parameters == expected, "\(name): fixture")
    }

    @Test(arguments: names)
    func keysOrderAndShapesMatchTimm(_ name: String) throws {
        let expected = try #require(TimmFixtures.fixture.models[name])
        let model = try Self.model(name)
        let actual = model.stateDict().map { StateDictFixture.Entry(key: $0.key, shape: $0.tensor.shape) }
        if let difference = StateDictTests.firstDifference(actual, expected.keys) {
            Issue.record("\(name): \(difference)")
        }
        #expect(model.parameterCount == expected.parameters, "\(name)")
    }

    /// `strata summary` (ModelSummary, by shape inference) counts what timm's forward hooks count.
    @Test(arguments: names)
    func summaryMACsMatchTimmHooks(_ name: String) throws {
        let expected = try #require(TimmFixtures.fixture.models[name])
        let summary = ModelSummary(try Self.model(name), input: expected.input)
        #expect(summary.outputShape == [1, 1000])
        #expect(summary.macs == expected.macs, "\(name)")
        #expect(summary.parameters == expected.parameters, "\(name)")
        #expect(
            summary.rows.reduce(0) { $0 + $1.parameters } == expected.parameters,
            "\(name): rows must cover every parameter")
    }

    /// The declared minimum is the one timm takes (measured by the fixture script); the model runs
    /// there and `checkInput` refuses one pixel less.
    @Test(arguments: names)
    func minimumInputIsTimms(_ name: String) throws {
        let entry = try Models.entry(name)
        let m = entry.minimumInputSize
        #expect(m == TimmFixtures.fixture.models[name]?.minimum_input, "\(name)")
        #expect(entry.input == [3, 299, 299] && entry.classes == 1000)
        try entry.checkInput([3, m, m])
        #expect(ModelSummary(try Self.model(name), input: [3, m, m]).outputShape == [1, 1000])
        #expect(throws: ModelRegistryError.self) { try entry.checkInput([3, m - 1, m]) }
        #expect(throws: ModelRegistryError.self) { try entry.checkInput([3, m, m - 1]) }
    }

    @Test(arguments: light)
    func logitsMatchTimm(_ c: TimmFixture.Case) throws { try check(c) }

    @Test(.enabled(if: ParityTests.heavyEnabled, "set STRATA_HEAVY_TESTS=1 for the 299×299 cases"), arguments: heavy)
    func heavyLogitsMatchTimm(_ c: TimmFixture.Case) throws { try check(c) }

    func check(_ c: TimmFixture.Case) throws {
        let start = Date()
        let model = try makeHashModel(c.model, classes: c.classes, dtype: .float64)
        #expect(model.stateDict().count == c.state_entries, "\(c.name): state-dict entries")
        model.eval()
        let x64 = HashWeights.input(c.input, dtype: .float64)
        #expect(Array(x64.doubles.prefix(4)) == c.input_head, "\(c.name): input")
        let expected = c.logits.data
        let scale = maxAbs(expected)

        let y64 = withNoGrad { model(x64) }
        try #require(y64.shape == c.logits.shape, "\(c.name): logits shape")
        let all64 = y64.doubles
        let kept64 = c.logits.indices.map { all64[$0] }
        let error64 = maxAbsDifference(kept64, expected)
        #expect(error64 <= 1e-9 * max(1, scale), "\(c.name) Float64: max |Δ| \(error64), max |logit| \(scale)")
        let sumError64 = abs(all64.reduce(0, +) - c.logits.sum)
        #expect(sumError64 <= 1e-9 * max(1, c.logits.abs_sum), "\(c.name) Float64: Σ logits off by \(sumError64)")

        model.converted(to: .float32)
        let y32 = withNoGrad { model(HashWeights.input(c.input, dtype: .float32)) }
        #expect(y32.dtype == .float32)
        let all32 = y32.doubles
        let kept32 = c.logits.indices.map { all32[$0] }
        let error32 = maxAbsDifference(kept32, expected)
        #expect(error32 <= 1e-4 * scale, "\(c.name) Float32: max |Δ| \(error32), max |logit| \(scale)")
        let sumError32 = abs(all32.reduce(0, +) - c.logits.sum)
        #expect(sumError32 <= 1e-4 * c.logits.abs_sum, "\(c.name) Float32: Σ logits off by \(sumError32)")
        let timm32 = maxAbsDifference(c.logits.data32, expected)

        print(
            String(
                format: "timm parity %@: max |logit| %.4g, max |Δ| Float64 %.2e (relative %.2e), Float32 %.2e "
                    + "(relative %.2e; timm's own Float32 %.2e) (%.1f s)",
                c.name, scale, error64, error64 / max(1, scale), error32, error32 / scale, timm32 / scale,
                Date().timeIntervalSince(start)))
    }
}

/// The committed fixture made by Scripts/make_timm_fixtures.py (see its docstring).
enum TimmFixtures {
    static let fixture = ZooFixtures.load(TimmFixture.self, "timm.json")
}

struct TimmFixture: Decodable {
    struct Model: Decodable {
        let parameters: Int
        let keys: [StateDictFixture.Entry]
        let macs: Int
        let input: [Int]
        let minimum_input: Int
    }

    /// Logits at `indices` (flat, row-major) of a tensor of `shape`, and sums over all of them.
    struct Logits: Decodable, Sendable {
        let shape: [Int]
        let indices: [Int]
        let data: [Double]
        let data32: [Double]
        let sum: Double
        let abs_sum: Double
    }

    struct Case: Decodable, Sendable, CustomStringConvertible {
        let name: String
        let model: String
        let classes: Int
        let heavy: Bool
        let input: [Int]
        let state_entries: Int
        let input_head: [Double]
        let logits: Logits
        var description: String { name }
    }

    let torch: String
    let timm: String
    let models: [String: Model]
    let cases: [Case]
}
