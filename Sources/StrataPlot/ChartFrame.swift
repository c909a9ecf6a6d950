import StrataImage

/// The parts every chart shares: title, axis labels, axes with ticks and grid lines, legend; and the
/// mapping from data to pixels. Layout is computed from the canvas size and the text to fit.
struct ChartFrame {
    let width: Int
    let height: Int
    let x: Axis
    let y: Axis
    /// The plot area; its first and last columns/rows carry the frame, and data map onto
    /// `plot.x0 … plot.x1 - 1` (left to right) and `plot.y1 - 1 … plot.y0` (bottom to top).
    let plot: PixelRect
    /// Text scale (font pixel size) for tick labels, axis labels and the legend; the title is one larger.
    let textScale: Int

    /// Whether the legend sits right of the plot area (in a margin `legendWidth` wide) instead of inside it.
    let legendOutside: Bool

    /// The layout; `legendWidth > 0` reserves a margin that wide right of the plot for the legend.
    init(width: Int, height: Int, title: String, xLabel: String, yLabel: String, x: Axis, y: Axis, legendWidth: Int = 0)
    {
        self.width = max(width, 1)
        self.height = max(height, 1)
        self.x = x
        self.y = y
        let s = max(1, min(self.width, self.height * 8 / 5) / 400)
        textScale = s
        let pad = 4 * s + 2
        let lineH = BitmapFont.height(scale: s)
        let titleH = title.isEmpty ? 0 : BitmapFont.height(scale: s + 1) + pad
        let tick = 3 * s + 1
        let yTickW = y.ticks.map { BitmapFont.width($0.label, scale: s) }.max() ?? 0
        let lastXTickW = x.ticks.last.map { BitmapFont.width($0.label, scale: s) } ?? 0
        let left = pad + (yLabel.isEmpty ? 0 : lineH + pad) + yTickW + tick + 2 * s
        let bottom = tick + 2 * s + lineH + pad + (xLabel.isEmpty ? 0 : lineH + pad)
        legendOutside = legendWidth > 0
        let right = max(2 * pad, lastXTickW / 2 + 2) + (legendWidth > 0 ? legendWidth + pad : 0)
        let top = pad + titleH + lineH / 2
        plot = PixelRect(
            x0: left, y0: top, x1: max(left + 2, self.width - right), y1: max(top + 2, self.height - bottom))
    }

    /// The pixel column of x-value `v` (continuous), nil when it cannot be drawn.
    func px(_ v: Double) -> Double? {
        x.fraction(v).map { Double(plot.x0) + $0 * Double(plot.x1 - 1 - plot.x0) }
    }

    /// The pixel row of y-value `v` (continuous, growing downwards), nil when it cannot be drawn.
    func py(_ v: Double) -> Double? {
        y.fraction(v).map { Double(plot.y1 - 1) - $0 * Double(plot.y1 - 1 - plot.y0) }
    }

    /// The inside of the frame, where data are drawn.
    var dataClip: PixelRect { PixelRect(x0: plot.x0 + 1, y0: plot.y0 + 1, x1: plot.x1 - 1, y1: plot.y1 - 1) }

    /// Background, grid lines, title and axis labels: everything under the data.
    func drawBackground(_ c: inout Canvas, title: String, xLabel: String, yLabel: String) {
        let s = textScale
        for t in x.ticks {
            if let p = px(t.value) {
                c.fill(PixelRect(x0: Int(p.rounded()), y0: plot.y0, x1: Int(p.rounded()) + 1, y1: plot.y1), .grid)
            }
        }
        for t in y.ticks {
            if let p = py(t.value) {
                c.fill(PixelRect(x0: plot.x0, y0: Int(p.rounded()), x1: plot.x1, y1: Int(p.rounded()) + 1), .grid)
            }
        }
        let pad = 4 * s + 2
        if !title.isEmpty {
            let w = BitmapFont.width(title, scale: s + 1)
            // Centred over the plot, shifted left as far as needed to stay inside the picture.
            c.text(title, x: max(0, min(width - w, (plot.x0 + plot.x1 - w) / 2)), y: pad, scale: s + 1, color: .text)
        }
        let lineH = BitmapFont.height(scale: s)
        if !xLabel.isEmpty {
            let w = BitmapFont.width(xLabel, scale: s)
            c.text(xLabel, x: max(0, (plot.x0 + plot.x1 - w) / 2), y: height - pad - lineH, scale: s, color: .text)
        }
        if !yLabel.isEmpty {
            let w = BitmapFont.width(yLabel, scale: s)
            c.text(yLabel, x: pad, y: min(height, (plot.y0 + plot.y1 + w) / 2), scale: s, color: .text, vertical: true)
        }
    }

    /// The frame, ticks and tick labels: drawn over the data.
    func drawAxes(_ c: inout Canvas) {
        let s = textScale
        let tick = 3 * s + 1
        let minor = 2 * s
        c.outline(plot, .frame)
        for t in x.ticks {
            guard let p = px(t.value) else { continue }
            let xi = Int(p.rounded())
            c.fill(PixelRect(x0: xi, y0: plot.y1, x1: xi + 1, y1: plot.y1 + tick), .frame)
            let w = BitmapFont.width(t.label, scale: s)
            c.text(t.label, x: xi - w / 2, y: plot.y1 + tick + 2 * s, scale: s, color: .text)
        }
        for v in x.minorTicks {
            guard let p = px(v), let f = x.fraction(v), f >= 0, f <= 1 else { continue }
            let xi = Int(p.rounded())
            c.fill(PixelRect(x0: xi, y0: plot.y1, x1: xi + 1, y1: plot.y1 + minor), .frame)
        }
        for t in y.ticks {
            guard let p = py(t.value) else { continue }
            let yi = Int(p.rounded())
            c.fill(PixelRect(x0: plot.x0 - tick, y0: yi, x1: plot.x0, y1: yi + 1), .frame)
            let w = BitmapFont.width(t.label, scale: s)
            c.text(
                t.label, x: plot.x0 - tick - 2 * s - w, y: yi - BitmapFont.height(scale: s) / 2, scale: s, color: .text)
        }
        for v in y.minorTicks {
            guard let p = py(v), let f = y.fraction(v), f >= 0, f <= 1 else { continue }
            let yi = Int(p.rounded())
            c.fill(PixelRect(x0: plot.x0 - minor, y0: yi, x1: plot.x0, y1: yi + 1), .frame)
        }
    }

    typealias LegendEntry = (label: String, color: RGBColor, line: Bool, marker: Bool)

    /// The legend box's size in pixels.
    func legendSize(_ entries: [LegendEntry]) -> (width: Int, height: Int) {
        let s = textScale
        let labelW = entries.map { BitmapFont.width($0.label, scale: s) }.max() ?? 0
        return (
            3 * s + (12 * s + 4) + 3 * s + labelW + 3 * s + 2,
            entries.count * (BitmapFont.height(scale: s) + 3 * s) + 3 * s + 2
        )
    }

    /// Where the legend goes: outside (when the layout reserved room), else the corner of the plot area
    /// covering the fewest of `samples` (pixel positions along the drawn data), with that count.
    func legendBox(_ entries: [LegendEntry], samples: [(Double, Double)]) -> (box: PixelRect, covered: Int) {
        let (boxW, boxH) = legendSize(entries)
        let inset = 4 * textScale + 2
        if legendOutside {
            return (PixelRect(x0: plot.x1 + inset, y0: plot.y0, x1: plot.x1 + inset + boxW, y1: plot.y0 + boxH), 0)
        }
        let corners = [
            PixelRect(x0: plot.x1 - inset - boxW, y0: plot.y0 + inset, x1: plot.x1 - inset, y1: plot.y0 + inset + boxH),
            PixelRect(x0: plot.x0 + inset, y0: plot.y0 + inset, x1: plot.x0 + inset + boxW, y1: plot.y0 + inset + boxH),
            PixelRect(x0: plot.x1 - inset - boxW, y0: plot.y1 - inset - boxH, x1: plot.x1 - inset, y1: plot.y1 - inset),
            PixelRect(x0: plot.x0 + inset, y0: plot.y1 - inset - boxH, x1: plot.x0 + inset + boxW, y1: plot.y1 - inset),
        ]
        // A margin of a few pixels around the box: data just touching it counts too.
        let m = 2 * textScale
        var best = (box: corners[0], covered: Int.max)
        for r in corners {
            let grown = PixelRect(x0: r.x0 - m, y0: r.y0 - m, x1: r.x1 + m, y1: r.y1 + m)
            let n = samples.reduce(0) { $0 + (grown.contains(Int($1.0.rounded()), Int($1.1.rounded())) ? 1 : 0) }
            if n < best.covered { best = (r, n) }
        }
        return best
    }

    /// Points every few pixels along the polylines (nil breaks a line), to find where data are drawn.
    static func samples(alongLines lines: [[(Double, Double)?]]) -> [(Double, Double)] {
        var out: [(Double, Double)] = []
        for line in lines {
            for (k, p) in line.enumerated() {
                guard let p else { continue }
                out.append(p)
                guard k > 0, let q = line[k - 1] else { continue }
                let d = ((p.0 - q.0) * (p.0 - q.0) + (p.1 - q.1) * (p.1 - q.1)).squareRoot()
                let n = min(2000, Int(d / 3))
                if n > 1 {
                    for i in 1..<n {
                        let t = Double(i) / Double(n)
                        out.append((q.0 + (p.0 - q.0) * t, q.1 + (p.1 - q.1) * t))
                    }
                }
            }
        }
        return out
    }

    /// Draws the legend box: one row per entry, a sample of its mark in its colour, then its label.
    func drawLegend(_ c: inout Canvas, entries: [LegendEntry], samples: [(Double, Double)]) {
        guard !entries.isEmpty else { return }
        let s = textScale
        let lineH = BitmapFont.height(scale: s)
        let rowH = lineH + 3 * s
        let sample = 12 * s + 4
        let box = legendBox(entries, samples: samples).box
        c.fill(box, .white, alpha: 0.88)
        c.outline(box, RGBColor(200, 200, 200))
        for (i, e) in entries.enumerated() {
            let cy = Double(box.y0 + 3 * s + 1 + i * rowH + lineH / 2)
            let sx0 = Double(box.x0 + 3 * s + 1)
            let sx1 = sx0 + Double(sample)
            if e.line { c.segment(sx0, cy, sx1, cy, lineWidth: Double(max(2, s + 1)), color: e.color, clip: box) }
            if e.marker { c.disc((sx0 + sx1) / 2, cy, radius: Double(s + 1), color: e.color, clip: box) }
            c.text(e.label, x: Int(sx1) + 3 * s, y: Int(cy) - lineH / 2, scale: s, color: .text)
        }
    }
}

/// Shared by the charts: writing a rendered chart as PNG.
enum ChartFile {
    static func write(_ image: Image, to path: String) throws {
        try ImageEncoder.writePNG(image, to: path)
    }
}
