import Testing

@testable import StrataTraining

/// The experiment's report.html (Sources/StrataTraining/ExperimentReport.swift).
@Suite struct ExperimentReportTests {
    static let verdict = ExperimentVerdict(
        experiment: "degradation",
        findings: [
            .init(claim: "plain56 < plain20", holds: true, evidence: "76.1% > 50.8%"),
            .init(claim: "resnet56 <better> resnet20", holds: false, evidence: "49.3% ≥ 37.9%"),
            .init(claim: "accuracy", holds: nil, evidence: "not measured"),
        ],
        measurements: [("parameters", 853_018), ("train_error", 0.4925), ("tiny", 2.5e-5)])

    @Test func everyFindingWithItsMarkAndEvidence() {
        let html = ExperimentReport(
            verdict: Self.verdict, description: "quick & small",
            figures: [(title: "curves", pngBytes: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])],
            arms: ["plain20", "resnet56"]
        ).render()
        #expect(html.hasPrefix("<!DOCTYPE html>") && html.hasSuffix("</body></html>\n"))
        #expect(html.contains("<p id=\"verdict\"><b>\(Self.verdict.summary)</b></p>"))
        #expect(html.contains("<td class=\"l holds\">✓ holds</td><td class=\"l\">76.1% &gt; 50.8%</td>"))
        #expect(html.contains("resnet56 &lt;better&gt; resnet20</td><td class=\"l fails\">✗ does not hold</td>"))
        #expect(html.contains("<td class=\"l open\">— not measured</td>"))
        #expect(html.contains("quick &amp; small"))
        #expect(html.contains("<img src=\"data:image/png;base64,iVBORw0KGgo=\" alt=\"curves\""))
        #expect(html.contains("<td class=\"l\">parameters</td><td>853018</td>"))
        #expect(html.contains("<td class=\"l\">train_error</td><td>0.4925</td>"))
        #expect(html.contains("<td class=\"l\">tiny</td><td>2.5e-05</td>"))
        #expect(html.contains("<a href=\"resnet56/report.html\">resnet56</a>"))
    }

    @Test func noFiguresOrArmsNoSections() {
        let html = ExperimentReport(verdict: Self.verdict, description: "d", figures: []).render()
        #expect(!html.contains("Figures") && !html.contains("id=\"arms\""))
    }
}
