import Foundation
import StrataModels
import StrataNN
import StrataTensor
import StrataTestSupport
import Testing

/// Parity with PyTorch: eval-mode logits of every zoo architecture, from the fixtures'
/// deterministic weights and input (Fixtures/parity.json, computed by PyTorch in Float64).
///
/// Tolerances, on the largest logit difference:
/// - Float64: ≤ 1e-9 · max(1, max |logit|). Both sides compute in double precision but sum
///   in different orders (im2col + GEMM here, oneDNN/BLAS there), so results differ by a few
///   ulps per dot product; through ~50-150 layers and batch norm that stays far below 1e-9.
/// - Float32 (weights and input rounded from the Float64 values): ≤ 1e-4 · max |logit|.
///   Float32 has a 2⁻²⁴ ≈ 6e-8 unit roundoff; the dot products have up to ~10⁴ terms
///   (e.g. 3·3·1024, 25088 in VGG's first linear layer), whose accumulated error grows
///   like √n·ε ≈ 6e-6 relative, and deep stacks compound it layer by layer, so 1e-4 of
///   the logit scale leaves margin without hiding a real mistake (a wrong layer changes the
///   logits by O(1) of their scale).
///
/// Cases marked heavy (224×224, 1000 classes) run only with STRATA_HEAVY_TESTS=1; they take
/// minutes in a debug build and seconds in a release one:
/// `STRATA_HEAVY_TESTS=1 swift test -c release -Xswiftc -enable-testing --filter StrataModelsTests`
/// (-enable-testing because other test targets use `@testable import`).
@Suite struct ParityTests {
    static let light = ZooFixtures.parity.cases.filter { !$0.heavy }
    static let heavy = ZooFixtures.parity.cases.filter(\.heavy)
    static let heavyEnabled = ProcessInfo.processInfo.environment["STRATA_HEAVY_TESTS"] == "1"

    @Test(arguments: light)
    func logitsMatchPyTorch(_ c: ParityFixture.Case) throws { try check(c) }

    @Test(.enabled(if: heavyEnabled, "set STRATA_HEAVY_TESTS=1 for the 224×224 cases"), arguments: heavy)
    func heavyLogitsMatchPyTorch(_ c: ParityFixture.Case) throws { try check(c) }

    func check(_ c: ParityFixture.Case) throws {
        let start = Date()
        let model = try makeHashModel(c.model, classes: c.classes, dtype: .float64)
        #expect(model.stateDict().count == c.state_entries, "\(c.name): state-dict entries")
        model.eval()
        let expected = c.logits.data
        let scale = maxAbs(expected)

        let y64 = withNoGrad { model(HashWeights.input(c.input, dtype: .float64)) }
        try #require(y64.shape == c.logits.shape, "\(c.name): logits shape")
        let error64 = maxAbsDifference(y64.doubles, expected)
        #expect(error64 <= 1e-9 * max(1, scale), "\(c.name) Float64: max |Δ| \(error64), max |logit| \(scale)")

        model.converted(to: .float32)
        let y32 = withNoGrad { model(HashWeights.input(c.input, dtype: .float32)) }
        #expect(y32.dtype == .float32)
        let error32 = maxAbsDifference(y32.doubles, expected)
        #expect(error32 <= 1e-4 * scale, "\(c.name) Float32: max |Δ| \(error32), max |logit| \(scale)")

        print(
            String(
                format: "parity %@: max |logit| %.4g, relative error Float64 %.2e, Float32 %.2e (%.1f s)",
                c.name, scale, error64 / max(1, scale), error32 / scale, Date().timeIntervalSince(start)))
    }
}
