import StrataModels
import StrataNN
import StrataTensor
import Testing

/// `ModelSummary` totals: multiply-accumulates of every fixture model equal the ones measured
/// with forward hooks in PyTorch (Fixtures/state_dicts.json, `macs`), and parameters match.
@Suite struct SummaryTests {
    @Test(arguments: StateDictTests.names)
    func macsMatchPyTorch(_ name: String) throws {
        let expected = ZooFixtures.stateDicts.models[name]!
        let model = try Init.withoutInitialization { try makeFixtureModel(name, classes: StateDictTests.classes(name)) }
        let summary = ModelSummary(model, input: expected.input)
        #expect(summary.macs == expected.macs, "\(name)")
        #expect(summary.parameters == expected.parameters, "\(name)")
        // Rows cover every module that ran: all parameters except the auxiliary heads, idle in eval mode.
        let ran = model.namedParameters().filter { !$0.0.hasPrefix("aux") && !$0.0.hasPrefix("AuxLogits") }.reduce(0) {
            $0 + $1.1.count
        }
        #expect(
            summary.rows.reduce(0) { $0 + $1.parameters } == ran,
            "\(name): rows must account for every parameter that ran")
    }

    @Test func tableNamesLayersAndTotals() {
        let table = ModelSummary(CIFARResNet(depth: 20), input: [3, 32, 32]).table()
        #expect(table.contains("layer3.2.conv2"))
        #expect(table.contains("[1, 64, 8, 8]"))
        #expect(table.contains("Parameters: 269,722"))
    }
}
