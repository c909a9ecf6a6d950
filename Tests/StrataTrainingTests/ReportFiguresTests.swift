import Testing

@testable import StrataTraining

/// HTMLReport's extra figures (Sources/StrataTraining/Report.swift).
@Suite struct ReportFiguresTests {
    @Test func base64MatchesRFC4648() {
        #expect(HTMLReport.base64([]) == "")
        #expect(HTMLReport.base64(Array("f".utf8)) == "Zg==")
        #expect(HTMLReport.base64(Array("fo".utf8)) == "Zm8=")
        #expect(HTMLReport.base64(Array("foo".utf8)) == "Zm9v")
        #expect(HTMLReport.base64(Array("foobar".utf8)) == "Zm9vYmFy")
        #expect(HTMLReport.base64([0xFF, 0xFE, 0x00]) == "//4A")
    }

    @Test func figuresAreEmbeddedAsDataURIs() {
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Array("abc".utf8)
        var report = HTMLReport(
            configuration: TrainingConfiguration(), schedule: "s", history: [], evaluation: nil,
            classNames: [], epochs: 1, totalSteps: 1, bestEpoch: nil,
            figures: [(title: "Gradient <norms>", pngBytes: png), (title: "junk", pngBytes: [1, 2, 3])])
        let html = report.render()
        #expect(html.contains("<h2>Figures</h2>"))
        #expect(html.contains("<img src=\"data:image/png;base64,iVBORw0KGgphYmM=\" alt=\"Gradient &lt;norms&gt;\""))
        #expect(html.contains("<figure id=\"figure-1\"") && html.contains("(not a PNG image: 3 bytes)"))
        report.figures = []
        #expect(!report.render().contains("Figures"))
    }
}
