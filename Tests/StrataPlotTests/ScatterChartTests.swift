import StrataImage
import Testing

@testable import StrataPlot

@Suite struct ScatterChartTests {
    @Test func pointsInGroupColours() throws {
        let chart = ScatterChart(
            title: "Efficiency", xLabel: "parameters", yLabel: "accuracy", xScale: .log10,
            points: [
                .init(label: "resnet20", x: 270_000, y: 91.3, group: "ResNet"),
                .init(label: "resnet56", x: 850_000, y: 93.0, group: "ResNet"),
                .init(label: "densenet", x: 800_000, y: 95.5, group: "DenseNet"),
                .init(label: "bad", x: -1, y: .nan, group: "ResNet"),
            ])
        let path = ImageEncoderTests.scratch("scatter.png")
        try chart.writePNG(to: path, width: 600, height: 400)
        let image = try ImageDecoder.decode(path: path)
        #expect(image.width == 600 && image.height == 400)
        #expect(LineChartTests.distinctColors(image) > 20)
        let f = chart.layout(width: 600, height: 400)
        let p = (Int(f.px(800_000)!.rounded()), Int(f.py(95.5)!.rounded()))
        #expect(LineChartTests.has(image, Palette.color(1), near: p.0, p.1))
        let q = (Int(f.px(270_000)!.rounded()), Int(f.py(91.3)!.rounded()))
        #expect(LineChartTests.has(image, Palette.color(0), near: q.0, q.1))
        #expect(chart.groups == ["ResNet", "DenseNet"])
    }

    @Test func emptyScatterDoesNotTrap() {
        #expect(ScatterChart(title: "", xLabel: "", yLabel: "", points: []).render(width: 100, height: 80).height == 80)
    }
}
