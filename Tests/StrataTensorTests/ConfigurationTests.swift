import Foundation
import StrataTensor
import Testing

@Suite struct ConfigurationTests {
    @Test func environmentSetsEveryField() {
        let (c, problems) = StrataConfiguration.parse(environment: [
            "STRATA_BACKEND": "Reference", "STRATA_NUM_THREADS": "3", "STRATA_CONV_ALGORITHM": "DIRECT",
            "STRATA_DNNL_FUSION": "0", "STRATA_REMATERIALIZE": "0", "STRATA_DNNL_POOL_MIB": "64", "UNRELATED": "x",
        ])
        #expect(problems.isEmpty)
        #expect(c.backend == .reference && c.threads == 3 && c.convolutionAlgorithm == .direct)
        #expect(!c.fusion && !c.rematerialize && c.bufferPoolMiB == 64)
        #expect(StrataConfiguration.parse(environment: [:]).configuration == StrataConfiguration())
        #expect(StrataConfiguration.parse(environment: ["STRATA_BACKEND": "onednn"]).configuration.backend == .dnnl)
    }

    @Test func unacceptedValuesAreNamedAndKeepTheDefault() {
        let (c, problems) = StrataConfiguration.parse(environment: [
            "STRATA_NUM_THREADS": "abc", "STRATA_BACKEND": "cuda", "STRATA_DNNL_POOL_MIB": "-1",
            "STRATA_DNNL_FUSION": "yes",
        ])
        #expect(c == StrataConfiguration())
        #expect(problems.count == 4)
        #expect(problems.contains("STRATA_NUM_THREADS='abc': expected a whole number of threads from 1 to 1024"))
        #expect(problems.contains("STRATA_BACKEND='cuda': expected dnnl or reference"))
        #expect(StrataConfiguration.parse(environment: ["STRATA_NUM_THREADS": "100000"]).problems.count == 1)
    }

    /// The README's table of variables is this type's list, in order.
    @Test func readmeTableListsTheVariables() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let rows = text.split(separator: "\n").filter { $0.hasPrefix("| `STRATA_") }
        let names = rows.map { $0.dropFirst(3).prefix { $0 != "`" } }.map(String.init)
        #expect(names == StrataConfiguration.variables.map(\.name))
    }

    /// Concurrent updates are not lost (the configuration is read and changed under one lock).
    @Test func concurrentUpdatesAreAtomic() {
        let saved = StrataConfiguration.current
        defer { StrataConfiguration.set(saved) }
        StrataConfiguration.update { $0.bufferPoolMiB = 0 }
        DispatchQueue.concurrentPerform(iterations: 1000) { _ in
            StrataConfiguration.update { $0.bufferPoolMiB = ($0.bufferPoolMiB ?? 0) + 1 }
        }
        #expect(StrataConfiguration.current.bufferPoolMiB == 1000)
    }
}
