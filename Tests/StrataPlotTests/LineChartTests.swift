import StrataImage
import Testing

@testable import StrataPlot

@Suite struct LineChartTests {
    static func distinctColors(_ image: Image) -> Int {
        var seen = Set<Int>()
        for i in 0..<(image.width * image.height) {
            seen.insert(
                Int(image.pixels[3 * i]) << 16 | Int(image.pixels[3 * i + 1]) << 8 | Int(image.pixels[3 * i + 2]))
        }
        return seen.count
    }

    /// Whether a pixel of exactly `color` lies within `radius` of (x, y).
    static func has(_ image: Image, _ color: RGBColor, near x: Int, _ y: Int, radius: Int = 1) -> Bool {
        for yy in (y - radius)...(y + radius) {
            for xx in (x - radius)...(x + radius) where xx >= 0 && yy >= 0 && xx < image.width && yy < image.height {
                if RGBColor(image[y: yy, x: xx, c: 0], image[y: yy, x: xx, c: 1], image[y: yy, x: xx, c: 2]) == color {
                    return true
                }
            }
        }
        return false
    }

    @Test func diagonalCrossesThePlotCentre() throws {
        let chart = LineChart(
            title: "Two lines", xLabel: "x", yLabel: "y",
            series: [
                PlotSeries(label: "up", x: [0, 1], y: [0, 1]),
                PlotSeries(label: "flat", x: [0, 1], y: [0.25, 0.25]),
            ])
        let path = ImageEncoderTests.scratch("line.png")
        try chart.writePNG(to: path, width: 640, height: 400)
        let image = try ImageDecoder.decode(path: path)
        #expect(image.width == 640 && image.height == 400 && image.channels == 3)
        #expect(Self.distinctColors(image) > 20)
        let f = chart.layout(width: 640, height: 400).frame
        let cx = (f.plot.x0 + f.plot.x1 - 1) / 2
        let cy = (f.plot.y0 + f.plot.y1 - 1) / 2
        #expect(Self.has(image, Palette.color(0), near: cx, cy))
        // The second series is at y = 0.25 (a quarter up), in the second colour, and not at the centre.
        let qy = Int(f.py(0.25)!.rounded())
        #expect(Self.has(image, Palette.color(1), near: f.plot.x0 + 20, qy))
        #expect(!Self.has(image, Palette.color(1), near: cx, cy, radius: 3))
        // Outside the plot's frame no series colour is drawn except in the legend.
        #expect(!Self.has(image, Palette.color(0), near: 2, 2))
    }

    /// Series that name a colour index share that colour (a network's training and test curves).
    @Test func seriesCanShareAColour() {
        let chart = LineChart(
            title: "Shared", xLabel: "x", yLabel: "y",
            series: [
                PlotSeries(label: "a train", x: [0, 1], y: [0.1, 0.1], colorIndex: 3),
                PlotSeries(label: "a test", x: [0, 1], y: [0.9, 0.9], style: .linePoints, colorIndex: 3),
                PlotSeries(label: "b", x: [0, 1], y: [0.5, 0.5]),
            ])
        let image = chart.render(width: 640, height: 400)
        let f = chart.layout(width: 640, height: 400).frame
        let cx = (f.plot.x0 + f.plot.x1 - 1) / 2
        for y in [0.1, 0.9] {
            let py = Int(f.py(y)!.rounded())
            let shared = Self.has(image, Palette.color(3), near: cx, py)
            let own = Self.has(image, Palette.color(0), near: cx, py) || Self.has(image, Palette.color(1), near: cx, py)
            #expect(shared && !own, "the series at y = \(y)")
        }
        // The third series keeps its position's colour.
        let third = Self.has(image, Palette.color(2), near: cx, Int(f.py(0.5)!.rounded()))
        #expect(third)
    }

    @Test func legendMovesOutsideWhenEveryCornerHasData() {
        // Horizontal lines every 0.1 across the whole width: no corner of the plot is free.
        let full = LineChart(
            title: "full", xLabel: "x", yLabel: "y",
            series: (0...10).map {
                PlotSeries(label: "line \($0)", x: [0, 1], y: [Double($0) / 10, Double($0) / 10])
            })
        let (f, _) = full.layout(width: 600, height: 400)
        #expect(f.legendOutside)
        let box = f.legendBox(full.legendEntries, samples: []).box
        #expect(box.x0 > f.plot.x1 && box.x1 <= 600)
        let image = full.render(width: 600, height: 400)
        // The legend's line samples are drawn in the series' colours right of the plot.
        let row = box.y0 + 3 * f.textScale + 1 + BitmapFont.height(scale: f.textScale) / 2
        #expect(Self.has(image, Palette.color(0), near: box.x0 + 3 * f.textScale + 8, row))
        // A chart with a free corner keeps its legend inside.
        let one = LineChart(
            title: "", xLabel: "", yLabel: "", series: [PlotSeries(label: "up", x: [0, 1], y: [0, 1])])
        #expect(!one.layout(width: 600, height: 400).frame.legendOutside)
    }

    @Test func logTicksAreEvenlySpaced() {
        let chart = LineChart(
            title: "", xLabel: "", yLabel: "", yScale: .log10,
            series: [PlotSeries(label: "", x: [1, 2, 3], y: [1e-3, 1, 1e3])])
        let f = chart.layout(width: 500, height: 500).frame
        let rows = f.y.ticks.compactMap { f.py($0.value) }
        #expect(rows.count == 7)
        let gaps = zip(rows, rows.dropFirst()).map { $0 - $1 }
        #expect(gaps.allSatisfy { abs($0 - gaps[0]) < 1e-9 && $0 > 0 })
        let image = chart.render(width: 500, height: 500)
        #expect(image.width == 500 && image.height == 500)
    }

    @Test func nonDrawablePointsAreSkipped() {
        let chart = LineChart(
            title: "NaN", xLabel: "x", yLabel: "y", yScale: .log10,
            series: [
                PlotSeries(
                    label: "gaps", x: [0, 1, 2, 3, 4, 5], y: [1, .nan, 10, -1, .infinity, 100], style: .linePoints),
                PlotSeries(label: "empty", x: [], y: []),
                PlotSeries(label: "all NaN", x: [.nan], y: [.nan], style: .points),
                PlotSeries(label: "mismatched", x: [1, 2, 3], y: [1]),
            ])
        let image = chart.render(width: 300, height: 200)
        #expect(image.width == 300 && image.height == 200)
        #expect(Self.distinctColors(image) > 5)
        #expect(chart.drawable(chart.series[0]).compactMap { $0 }.count == 3)
    }

    @Test func emptyAndTinyChartsDoNotTrap() {
        let empty = LineChart(title: "nothing", xLabel: "", yLabel: "", series: [])
        #expect(empty.render().width == 800)
        for (w, h) in [(1, 1), (10, 7), (60, 40), (3000, 200)] {
            let image = LineChart(
                title: "a long title that does not fit", xLabel: "x", yLabel: "y",
                series: [PlotSeries(label: "s", x: [0, 1], y: [1, 2])]
            ).render(width: w, height: h)
            #expect(image.width == w && image.height == h)
        }
    }
}
