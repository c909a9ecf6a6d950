import StrataImage

/// A scatter plot of labelled points: each point a dot with its label written beside it, coloured by
/// group (``Palette/tab10`` in order of first appearance, with a legend of the groups), on the same
/// axes, scales and text as a ``LineChart``.
///
/// ```swift
/// let chart = ScatterChart(title: "Accuracy against parameters", xLabel: "parameters", yLabel: "top-1 (%)",
///                          xScale: .log10, points: [.init(label: "resnet56", x: 853_018, y: 93.0, group: "ResNet")])
/// try chart.writePNG(to: "efficiency.png")
/// ```
public struct ScatterChart: Sendable {
    /// One labelled point.
    public struct Point: Sendable {
        /// Written to the right of the point (empty: no text).
        public var label: String
        /// The x coordinate.
        public var x: Double
        /// The y coordinate.
        public var y: Double
        /// Points of one group share a colour and a legend row; nil: the first palette colour, no legend row.
        public var group: String?

        /// A point at (x, y) named `label`, in `group`.
        public init(label: String, x: Double, y: Double, group: String? = nil) {
            self.label = label
            self.x = x
            self.y = y
            self.group = group
        }
    }

    /// Drawn centred above the plot.
    public var title: String
    /// Drawn under the x axis.
    public var xLabel: String
    /// Drawn left of the y axis, reading upwards.
    public var yLabel: String
    /// Linear or log₁₀ x axis.
    public var xScale: AxisScale
    /// Linear or log₁₀ y axis.
    public var yScale: AxisScale
    /// The points; those that cannot be drawn (NaN, ±∞, ≤ 0 on a log axis) are skipped.
    public var points: [Point]

    /// A scatter chart of `points` with the given text and scales.
    public init(
        title: String, xLabel: String, yLabel: String, xScale: AxisScale = .linear, yScale: AxisScale = .linear,
        points: [Point]
    ) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.xScale = xScale
        self.yScale = yScale
        self.points = points
    }

    /// Group names in order of first appearance (nil groups left out).
    var groups: [String] {
        var seen: [String] = []
        for p in points { if let g = p.group, !seen.contains(g) { seen.append(g) } }
        return seen
    }

    func color(of p: Point) -> RGBColor {
        guard let g = p.group, let i = groups.firstIndex(of: g) else {
            return Palette.color(groups.isEmpty ? 0 : groups.count)
        }
        return Palette.color(i)
    }

    var drawablePoints: [Point] {
        points.filter { Axis.coordinate($0.x, xScale) != nil && Axis.coordinate($0.y, yScale) != nil }
    }

    func frame(width: Int, height: Int, legendWidth: Int = 0) -> ChartFrame {
        let ps = drawablePoints
        return ChartFrame(
            width: width, height: height, title: title, xLabel: xLabel, yLabel: yLabel,
            x: Axis(covering: ps.map(\.x), scale: xScale), y: Axis(covering: ps.map(\.y), scale: yScale),
            legendWidth: legendWidth)
    }

    var legendEntries: [ChartFrame.LegendEntry] {
        groups.enumerated().map { (label: $0.element, color: Palette.color($0.offset), line: false, marker: true) }
    }

    /// Pixel positions of the points and of their labels' extent (what the legend should not cover).
    func samples(_ f: ChartFrame) -> [(Double, Double)] {
        var out: [(Double, Double)] = []
        let labelScale = max(1, f.textScale - 1)
        for p in drawablePoints {
            guard let x = f.px(p.x), let y = f.py(p.y) else { continue }
            out.append((x, y))
            let w = Double(BitmapFont.width(p.label, scale: labelScale))
            var t = 0.0
            while t < w {
                out.append((x + Double(2 * f.textScale + 4) + t, y))
                t += 4
            }
        }
        return out
    }

    /// The layout actually drawn: the legend inside the plot where a corner is free, else right of it.
    func layout(width: Int, height: Int) -> ChartFrame {
        let f = frame(width: width, height: height)
        let entries = legendEntries
        guard !entries.isEmpty, f.legendBox(entries, samples: samples(f)).covered > 0 else { return f }
        return frame(width: width, height: height, legendWidth: f.legendSize(entries).width)
    }

    /// The chart as a `width` × `height` RGB image (sizes below 1 are taken as 1).
    public func render(width: Int = 800, height: Int = 500) -> Image {
        let f = layout(width: width, height: height)
        var canvas = Canvas(width: f.width, height: f.height)
        f.drawBackground(&canvas, title: title, xLabel: xLabel, yLabel: yLabel)
        let s = f.textScale
        let labelScale = max(1, s - 1)
        for p in drawablePoints {
            guard let x = f.px(p.x), let y = f.py(p.y) else { continue }
            canvas.disc(x, y, radius: Double(2 * s + 1), color: color(of: p), clip: f.dataClip)
        }
        for p in drawablePoints where !p.label.isEmpty {
            guard let x = f.px(p.x), let y = f.py(p.y) else { continue }
            var tx = Int(x) + 2 * s + 4
            let w = BitmapFont.width(p.label, scale: labelScale)
            if tx + w > f.plot.x1 - 2 { tx = Int(x) - 2 * s - 4 - w } // no room on the right: write it on the left
            canvas.text(
                p.label, x: tx, y: Int(y) - BitmapFont.height(scale: labelScale) / 2, scale: labelScale, color: .text)
        }
        f.drawAxes(&canvas)
        f.drawLegend(&canvas, entries: legendEntries, samples: samples(f))
        return canvas.image
    }

    /// Renders the chart and writes it as a PNG file at `path` (atomically).
    ///
    /// - Throws: `ImageError` naming `path` when it cannot be written.
    public func writePNG(to path: String, width: Int = 800, height: Int = 500) throws {
        try ChartFile.write(render(width: width, height: height), to: path)
    }
}
