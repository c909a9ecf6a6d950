import StrataImage

/// One named sequence of (x, y) points in a ``LineChart``.
public struct PlotSeries: Sendable {
    /// How a series is drawn.
    public enum Style: Sendable {
        /// Consecutive drawable points joined by lines.
        case line
        /// A dot at each point.
        case points
        /// Both.
        case linePoints
    }

    /// The legend text (series with an empty label have no legend row).
    public var label: String
    /// The x coordinates; pairs beyond the shorter of `x` and `y` are ignored.
    public var x: [Double]
    /// The y coordinates.
    public var y: [Double]
    /// Lines, points or both.
    public var style: Style
    /// Its colour, `Palette.color(colorIndex)`; nil: the series' position in the chart. Series that
    /// belong together (a network's training and test error) share an index.
    public var colorIndex: Int?

    /// A series named `label` of the points (x[i], y[i]).
    public init(label: String, x: [Double], y: [Double], style: Style = .line, colorIndex: Int? = nil) {
        self.label = label
        self.x = x
        self.y = y
        self.style = style
        self.colorIndex = colorIndex
    }
}

/// A line chart: several series over shared axes, each in its own colour (``Palette/tab10``), with a
/// title, axis labels, "nice" ticks (1, 2 or 5 × 10^k, whole decades on ``AxisScale/log10`` axes) and
/// a legend, rasterized in Swift (no plotting library) and written as PNG.
///
/// Points that cannot be drawn (NaN, ±∞, or ≤ 0 on a log axis) are skipped and break the line there;
/// an empty series or chart draws its axes only.
///
/// ```swift
/// let chart = LineChart(title: "Training loss", xLabel: "step", yLabel: "loss", yScale: .log10,
///                       series: [PlotSeries(label: "resnet20", x: steps, y: losses)])
/// try chart.writePNG(to: "loss.png")
/// ```
public struct LineChart: Sendable {
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
    /// The data, drawn in order (later series on top), series `i` in `Palette.color(i)` unless it
    /// names its ``PlotSeries/colorIndex``.
    public var series: [PlotSeries]

    /// A chart of `series` with the given text and scales.
    public init(
        title: String, xLabel: String, yLabel: String, xScale: AxisScale = .linear, yScale: AxisScale = .linear,
        series: [PlotSeries]
    ) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.xScale = xScale
        self.yScale = yScale
        self.series = series
    }

    /// The pairs of series `s` that can be drawn on these axes, in order; nil marks a gap.
    func drawable(_ s: PlotSeries) -> [(Double, Double)?] {
        (0..<min(s.x.count, s.y.count)).map { i in
            let x = s.x[i]
            let y = s.y[i]
            guard Axis.coordinate(x, xScale) != nil, Axis.coordinate(y, yScale) != nil else { return nil }
            return (x, y)
        }
    }

    /// The layout for a `width` × `height` picture (`legendWidth > 0`: the legend right of the plot).
    func frame(width: Int, height: Int, legendWidth: Int = 0) -> ChartFrame {
        var xs: [Double] = []
        var ys: [Double] = []
        for s in series {
            for case (let x, let y)? in drawable(s) {
                xs.append(x)
                ys.append(y)
            }
        }
        return ChartFrame(
            width: width, height: height, title: title, xLabel: xLabel, yLabel: yLabel,
            x: Axis(covering: xs, scale: xScale), y: Axis(covering: ys, scale: yScale), legendWidth: legendWidth)
    }

    /// Each series' points in pixels (nil: not drawable, a gap in the line).
    func pixelPoints(_ f: ChartFrame) -> [[(Double, Double)?]] {
        series.map { s in
            drawable(s).map { p in
                p.flatMap { p -> (Double, Double)? in
                    guard let x = f.px(p.0), let y = f.py(p.1) else { return nil }
                    return (x, y)
                }
            }
        }
    }

    var legendEntries: [ChartFrame.LegendEntry] {
        series.enumerated().filter { !$0.element.label.isEmpty }.map {
            (
                label: $0.element.label, color: Palette.color($0.element.colorIndex ?? $0.offset),
                line: $0.element.style != .points,
                marker: $0.element.style != .line
            )
        }
    }

    /// The layout actually drawn: the legend inside the plot where a corner is free of data, else right of it.
    func layout(width: Int, height: Int) -> (frame: ChartFrame, points: [[(Double, Double)?]]) {
        var f = frame(width: width, height: height)
        var points = pixelPoints(f)
        let entries = legendEntries
        if !entries.isEmpty && f.legendBox(entries, samples: ChartFrame.samples(alongLines: points)).covered > 0 {
            f = frame(width: width, height: height, legendWidth: f.legendSize(entries).width)
            points = pixelPoints(f)
        }
        return (f, points)
    }

    /// The chart as a `width` × `height` RGB image (sizes below 1 are taken as 1).
    public func render(width: Int = 800, height: Int = 500) -> Image {
        let (f, allPoints) = layout(width: width, height: height)
        var canvas = Canvas(width: f.width, height: f.height)
        f.drawBackground(&canvas, title: title, xLabel: xLabel, yLabel: yLabel)
        let s = f.textScale
        let lineWidth = Double(max(2, s + 1))
        for (i, series) in series.enumerated() {
            let color = Palette.color(series.colorIndex ?? i)
            let points = allPoints[i]
            if series.style != .points {
                for k in points.indices.dropFirst() {
                    if let a = points[k - 1], let b = points[k] {
                        canvas.segment(a.0, a.1, b.0, b.1, lineWidth: lineWidth, color: color, clip: f.dataClip)
                    }
                }
            }
            if series.style != .line {
                for case let p? in points {
                    canvas.disc(p.0, p.1, radius: Double(s + 1), color: color, clip: f.dataClip)
                }
            }
        }
        f.drawAxes(&canvas)
        f.drawLegend(&canvas, entries: legendEntries, samples: ChartFrame.samples(alongLines: allPoints))
        return canvas.image
    }

    /// Renders the chart and writes it as a PNG file at `path` (atomically).
    ///
    /// - Throws: `ImageError` naming `path` when it cannot be written.
    public func writePNG(to path: String, width: Int = 800, height: Int = 500) throws {
        try ChartFile.write(render(width: width, height: height), to: path)
    }
}
