import StrataModels
import StrataNN
import StrataTensor
import StrataTestSupport
import Testing

/// The Swift port of the fixtures' deterministic values agrees with the Python script.
@Suite struct HashWeightsTests {
    let check = ZooFixtures.parity.hash_check

    @Test func hashMatchesTheFixtureScript() {
        #expect((0..<3).map { HashWeights.hash(0, $0) } == check.k0_x_i0_1_2)
        #expect((0..<3).map { HashWeights.unit(0, $0) } == check.k0_u_i0_1_2)
        #expect(HashWeights.unit(5, 7) == check.k5_u_i7)
        #expect(HashWeights.unit(3, 100_000_000) == check.k3_u_i100000000)
        #expect(HashWeights.inputIndex == check.input_k)
        #expect(HashWeights.input([3], dtype: .float64).doubles == check.input_s_i0_1_2)
    }

    @Test func inputHeadsMatchEveryParityCase() {
        for c in ZooFixtures.parity.cases {
            #expect(Array(HashWeights.input(c.input, dtype: .float64).doubles.prefix(4)) == c.input_head, "\(c.name)")
        }
    }

    @Test func fillsByNameRule() throws {
        let model = try Init.withoutInitialization { try Models.make("resnet20_b") }.converted(to: .float64)
        let entries = model.stateDict()
        #expect(try HashWeights.fill(entries) == entries.count)
        for (k, (key, t)) in entries.enumerated() {
            let u = HashWeights.unit(k, 1)
            let s = 2 * u - 1
            let v = t.count > 1 ? t.doubles[1] : t.doubles[0]
            switch key {
            case _ where key.hasSuffix("num_batches_tracked"): #expect(t.doubles == [0], "\(key)")
            case _ where key.hasSuffix("running_var"): #expect(v == 0.5 + u, "\(key)")
            case _ where key.hasSuffix("running_mean"): #expect(v == 0.2 * s, "\(key)")
            case _ where key.hasSuffix(".bias"): #expect(v == 0.1 * s, "\(key)")
            case _ where t.rank == 1: #expect(v == 1 + 0.2 * s, "\(key)")
            default: #expect(v == s * (6 / Double(t.shape.dropFirst().reduce(1, *))).squareRoot(), "\(key)")
            }
        }
    }

    @Test func rejectsAnEntryWithoutARule() {
        #expect(throws: HashWeights.UnknownEntry.self) { try HashWeights.fill([(key: "scale", tensor: .zeros([2]))]) }
    }
}
