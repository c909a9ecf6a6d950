#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A self-contained HTML page about a run (no scripts, no external files): inline SVG plots of
/// loss, accuracy and learning rate per epoch, the latest confusion matrix as a heatmap,
/// per-class accuracy and the run's configuration. The trainer rewrites it (atomically) after
/// every epoch as `report.html` in the run directory.
public struct HTMLReport {
    public var configuration: TrainingConfiguration
    public var schedule: String
    public var history: [EpochSummary]
    public var evaluation: EvaluationResult?
    public var classNames: [String]
    public var epochs: Int
    public var totalSteps: Int
    public var bestEpoch: Int?
    /// Extra pictures shown under "Figures", in order: a title and a PNG file's bytes (e.g. a StrataPlot chart's
    /// `ImageEncoder.pngBytes`), embedded as `data:image/png;base64` URIs so the page stays one file.
    /// Bytes that are not a PNG are not embedded; the page says so instead.
    public var figures: [(title: String, pngBytes: [UInt8])]

    public init(
        configuration: TrainingConfiguration, schedule: String, history: [EpochSummary], evaluation: EvaluationResult?,
        classNames: [String], epochs: Int, totalSteps: Int, bestEpoch: Int?,
        figures: [(title: String, pngBytes: [UInt8])] = []
    ) {
        (self.configuration, self.schedule, self.history, self.evaluation) = (
            configuration, schedule, history, evaluation
        )
        (self.classNames, self.epochs, self.totalSteps, self.bestEpoch) = (classNames, epochs, totalSteps, bestEpoch)
        self.figures = figures
    }

    public func render() -> String {
        let c = configuration
        let title = "\(c.model.isEmpty ? "model" : c.model) on \(c.dataset.isEmpty ? "data" : c.dataset)"
        var h = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Strata — \(esc(title))</title>
            <style>
            \(Self.styleSheet)
            </style></head><body>
            <h1>Training report: \(esc(title))</h1>
            <div class="sub">Strata · \(history.count) of \(epochs) epochs · \(totalSteps) steps · updated \(utcTimestamp(wallClock()))</div>

            """
        // Summary cards.
        if let last = history.last {
            let best = history.first { $0.epoch == bestEpoch } ?? last
            let seconds = history.reduce(0) { $0 + $1.seconds }
            h += "<div class=\"cards\">"
            h += card(pct(last.validationTop1), "validation top-1 (epoch \(last.epoch))")
            h += card(pct(last.validationTop5), "validation top-5")
            h += card(pct(best.validationTop1), "best top-1 (epoch \(best.epoch))")
            h += card(fixed(last.validationLoss, 4), "validation loss")
            h += card(String(Int(last.imagesPerSecond.rounded())), "images/s (training)")
            h += card(duration(seconds), "training time")
            h += "</div>\n"
        } else {
            h += "<p>No epoch has finished yet.</p>\n"
        }

        // Plots.
        let x = history.map { Double($0.epoch) }
        h += "<h2>Curves</h2>\n<div class=\"plots\">\n"
        h += lineChart(
            id: "loss", title: "Loss", x: x,
            series: [
                ("train", "#2563eb", history.map(\.trainLoss)),
                ("validation", "#dc2626", history.map(\.validationLoss)),
            ], percent: false)
        h += lineChart(
            id: "accuracy", title: "Accuracy", x: x,
            series: [
                ("train", "#2563eb", history.map(\.trainAccuracy)),
                ("validation top-1", "#dc2626", history.map(\.validationTop1)),
                ("validation top-5", "#16a34a", history.map(\.validationTop5)),
            ], percent: true)
        h += lineChart(
            id: "learning-rate", title: "Learning rate (epoch's last step)", x: x,
            series: [
                ("learning rate", "#9333ea", history.map(\.learningRate))
            ], percent: false)
        h += "</div>\n"

        h += Self.figuresSection(figures)

        // Confusion matrix and per-class accuracy.
        if let e = evaluation {
            let names = e.confusion.indices.map { $0 < classNames.count ? classNames[$0] : "\($0)" }
            h += "<h2>Confusion matrix (validation, epoch \(history.last?.epoch ?? 0))</h2>\n"
            h += "<p class=\"sub\">Rows: true class; columns: predicted class. Shade: share of the row.</p>\n"
            h += confusionMatrix(e.confusion, names: names)
            h +=
                "<h2>Per-class accuracy</h2>\n<table><tr><th class=\"l\">class</th><th>accuracy</th><th>correct</th><th>examples</th><th class=\"l\"></th></tr>\n"
            for (i, name) in names.enumerated() {
                let a = e.perClassAccuracy[i]
                h +=
                    "<tr><td class=\"l\">\(esc(name))</td><td>\(pct(a))</td><td>\(e.confusion[i][i])</td><td>\(e.perClassCount[i])</td>"
                h +=
                    "<td class=\"l\"><span class=\"bar\" style=\"width:\(Int((a * 200).rounded()))px\"></span></td></tr>\n"
            }
            h += "</table>\n"
        }

        // Epoch table.
        if !history.isEmpty {
            h +=
                "<h2>Epochs</h2>\n<table><tr><th>epoch</th><th>step</th><th>train loss</th><th>train acc</th><th>val loss</th><th>val top-1</th><th>val top-5</th><th>lr</th><th>images/s</th><th>data wait</th><th>seconds</th></tr>\n"
            for s in history {
                h +=
                    "<tr><td>\(s.epoch)\(s.epoch == bestEpoch ? " ★" : "")</td><td>\(s.step)</td><td>\(fixed(s.trainLoss, 4))</td><td>\(pct(s.trainAccuracy))</td>"
                h +=
                    "<td>\(fixed(s.validationLoss, 4))</td><td>\(pct(s.validationTop1))</td><td>\(pct(s.validationTop5))</td>"
                h +=
                    "<td>\(short(s.learningRate))</td><td>\(Int(s.imagesPerSecond.rounded()))</td><td>\(pct(s.dataWaitFraction, digits: 1))</td><td>\(fixed(s.seconds, 1))</td></tr>\n"
            }
            h += "</table>\n"
        }

        // Configuration.
        h +=
            "<h2>Configuration</h2>\n<table>\n<tr><th class=\"l\">schedule</th><td class=\"l\">\(esc(schedule))</td></tr>\n"
        if case .object(let items) = c.json {
            for (k, v) in items {
                let text: String
                switch v {
                case .string(let s): text = s.isEmpty ? "—" : s
                case .null: text = "—"
                default: text = v.serialized()
                }
                h += "<tr><th class=\"l\">\(esc(k))</th><td class=\"l\">\(esc(text))</td></tr>\n"
            }
        }
        h += "</table>\n</body></html>\n"
        return h
    }

    // MARK: Pieces

    /// The pages' CSS (the training report's and the experiment report's).
    static let styleSheet = """
        body { font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px; color: #1f2328; background: #fff; }
        h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
        .sub { color: #59636e; margin-bottom: 16px; }
        .cards { display: flex; gap: 12px; flex-wrap: wrap; } .card { border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 14px; min-width: 120px; }
        .card b { display: block; font-size: 20px; } .card span { color: #59636e; font-size: 12px; }
        .plots { display: flex; flex-wrap: wrap; gap: 16px; } svg { background: #fff; }
        table { border-collapse: collapse; } td, th { padding: 3px 8px; border: 1px solid #d0d7de; text-align: right; }
        th { background: #f6f8fa; } td.l, th.l { text-align: left; }
        table.cm td { min-width: 34px; text-align: center; border: 1px solid #eef0f2; } table.cm th { font-weight: 600; font-size: 12px; }
        .bar { display: inline-block; height: 10px; background: #2563eb; vertical-align: middle; }
        """

    /// "Figures": each PNG as a `data:` URI image with its caption (nothing when there are none). Bytes
    /// that are not a PNG are not embedded; the page says so instead.
    static func figuresSection(_ figures: [(title: String, pngBytes: [UInt8])]) -> String {
        guard !figures.isEmpty else { return "" }
        var h = "<h2>Figures</h2>\n<div class=\"plots\">\n"
        for (i, f) in figures.enumerated() {
            h += "<figure id=\"figure-\(i)\" style=\"margin:0\">"
            if f.pngBytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
                h +=
                    "<img src=\"data:image/png;base64,\(base64(f.pngBytes))\" alt=\"\(esc(f.title))\" style=\"max-width:100%\">"
            } else {
                h += "<p>(not a PNG image: \(f.pngBytes.count) bytes)</p>"
            }
            h += "<figcaption>\(esc(f.title))</figcaption></figure>\n"
        }
        return h + "</div>\n"
    }

    /// Standard base64 (RFC 4648, with padding), for data URIs.
    static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out = [UInt8]()
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let n = min(3, bytes.count - i)
            let b0 = UInt32(bytes[i])
            let b1 = n > 1 ? UInt32(bytes[i + 1]) : 0
            let b2 = n > 2 ? UInt32(bytes[i + 2]) : 0
            let v = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(v >> 18 & 63)])
            out.append(alphabet[Int(v >> 12 & 63)])
            out.append(n > 1 ? alphabet[Int(v >> 6 & 63)] : UInt8(ascii: "="))
            out.append(n > 2 ? alphabet[Int(v & 63)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    private func card(_ value: String, _ label: String) -> String {
        "<div class=\"card\"><b>\(esc(value))</b><span>\(esc(label))</span></div>"
    }

    /// An SVG line chart of `series` over `x` (epochs).
    private func lineChart(id: String, title: String, x: [Double], series: [(String, String, [Double])], percent: Bool)
        -> String
    {
        let (w, ht) = (560.0, 300.0)
        let (left, right, top, bottom) = (64.0, 16.0, 34.0, 44.0)
        let pw = w - left - right
        let ph = ht - top - bottom
        var svg =
            "<svg id=\"plot-\(id)\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(ht))\" viewBox=\"0 0 \(Int(w)) \(Int(ht))\" role=\"img\" aria-label=\"\(esc(title))\">\n"
        svg +=
            "<text x=\"\(r(left))\" y=\"20\" font-size=\"14\" font-weight=\"600\" fill=\"#1f2328\">\(esc(title))</text>\n"
        let values = series.flatMap { $0.2 }.filter(\.isFinite)
        let xs = x.isEmpty ? [1.0] : x
        var (x0, x1) = (xs.min()!, xs.max()!)
        if x1 - x0 < 1 {
            x0 -= 0.5
            x1 += 0.5
        }
        var (y0, y1) = (values.min() ?? 0, values.max() ?? 1)
        if percent {
            y0 = Swift.min(y0, 1)
            y1 = Swift.max(y1, 0)
        }
        if y0 > 0 && (y1 - y0) > 0.5 * y1 { y0 = 0 } // anchor at zero when the data spans most of the range
        if y1 - y0 < 1e-12 * Swift.max(1, Swift.abs(y1)) {
            let pad = y1 == 0 ? 1 : Swift.abs(y1) * 0.5
            y0 -= pad
            y1 += pad
        }
        if values.allSatisfy({ $0 >= 0 }) { y0 = Swift.max(y0, 0) } // no negative axis for losses, rates, accuracies
        let yTicks = niceTicks(y0, y1, count: 5)
        (y0, y1) = (Swift.min(y0, yTicks.first!), Swift.max(y1, yTicks.last!))
        let xTicks = niceTicks(x0, x1, count: 8).filter { $0 >= x0 - 1e-9 && $0 <= x1 + 1e-9 && $0 == $0.rounded() }
        func px(_ v: Double) -> Double { left + (v - x0) / (x1 - x0) * pw }
        func py(_ v: Double) -> Double { top + (1 - (v - y0) / (y1 - y0)) * ph }
        // Grid and axes.
        for t in yTicks {
            let y = py(t)
            svg += "<line x1=\"\(r(left))\" y1=\"\(r(y))\" x2=\"\(r(left + pw))\" y2=\"\(r(y))\" stroke=\"#eaeef2\"/>"
            svg +=
                "<text x=\"\(r(left - 6))\" y=\"\(r(y + 4))\" font-size=\"11\" text-anchor=\"end\" fill=\"#59636e\">\(percent ? pct(t, digits: 0) : short(t))</text>\n"
        }
        for t in xTicks {
            let xv = px(t)
            svg +=
                "<line x1=\"\(r(xv))\" y1=\"\(r(top + ph))\" x2=\"\(r(xv))\" y2=\"\(r(top + ph + 4))\" stroke=\"#59636e\"/>"
            svg +=
                "<text x=\"\(r(xv))\" y=\"\(r(top + ph + 17))\" font-size=\"11\" text-anchor=\"middle\" fill=\"#59636e\">\(Int(t))</text>\n"
        }
        svg +=
            "<rect x=\"\(r(left))\" y=\"\(r(top))\" width=\"\(r(pw))\" height=\"\(r(ph))\" fill=\"none\" stroke=\"#8c959f\"/>\n"
        svg +=
            "<text x=\"\(r(left + pw / 2))\" y=\"\(r(ht - 6))\" font-size=\"12\" text-anchor=\"middle\" fill=\"#1f2328\">epoch</text>\n"
        // Series.
        for (k, (name, color, ys)) in series.enumerated() {
            let points = zip(x, ys).filter { $0.1.isFinite }
            if points.count > 1 {
                svg += "<polyline class=\"series\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\""
                svg += points.map { "\(r(px($0.0))),\(r(py($0.1)))" }.joined(separator: " ") + "\"/>\n"
            }
            for (xv, yv) in points {
                svg +=
                    "<circle cx=\"\(r(px(xv)))\" cy=\"\(r(py(yv)))\" r=\"3\" fill=\"\(color)\"><title>\(esc(name)), epoch \(Int(xv)): \(percent ? pct(yv) : short(yv))</title></circle>"
            }
            svg += "\n"
            // Legend: one row in the header, right-aligned, clear of the data.
            let widths = series.map { Double($0.0.count) * 6.2 + 30 }
            let lx = left + pw - widths[k...].reduce(0, +)
            svg +=
                "<line x1=\"\(r(lx))\" y1=\"16\" x2=\"\(r(lx + 18))\" y2=\"16\" stroke=\"\(color)\" stroke-width=\"2\"/>"
            svg += "<text x=\"\(r(lx + 22))\" y=\"20\" font-size=\"11\" fill=\"#1f2328\">\(esc(name))</text>\n"
        }
        return svg + "</svg>\n"
    }

    /// The confusion matrix: a shaded table with counts up to 20 classes, an SVG heatmap beyond.
    private func confusionMatrix(_ m: [[Int]], names: [String]) -> String {
        let rows = m.map { row -> [Double] in
            let n = Double(Swift.max(1, row.reduce(0, +)))
            return row.map { Double($0) / n }
        }
        if m.count <= 20 {
            var t = "<table class=\"cm\"><tr><th class=\"l\">true \\ predicted</th>"
            for n in names { t += "<th>\(esc(n))</th>" }
            t += "</tr>\n"
            for (i, row) in m.enumerated() {
                t += "<tr><th class=\"l\">\(esc(names[i]))</th>"
                for (j, v) in row.enumerated() {
                    let a = rows[i][j]
                    let bg = i == j ? "rgba(37,99,235,\(r3(a)))" : "rgba(220,38,38,\(r3(Swift.min(1, a * 2))))"
                    let fg = a > 0.55 ? "#fff" : "#1f2328"
                    t +=
                        "<td style=\"background:\(bg);color:\(fg)\" title=\"\(esc(names[i])) → \(esc(names[j])): \(v)\">\(v == 0 ? "" : String(v))</td>"
                }
                t += "</tr>\n"
            }
            return t + "</table>\n"
        }
        let cell = Swift.max(4.0, Swift.min(12.0, 600.0 / Double(m.count)))
        let size = cell * Double(m.count)
        var svg =
            "<svg id=\"confusion\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(size) + 2)\" height=\"\(Int(size) + 2)\">\n"
        for (i, row) in m.enumerated() {
            for (j, v) in row.enumerated() where v > 0 {
                let a = rows[i][j]
                let color = i == j ? "rgba(37,99,235,\(r3(a)))" : "rgba(220,38,38,\(r3(Swift.min(1, a * 2))))"
                svg +=
                    "<rect x=\"\(r(1 + Double(j) * cell))\" y=\"\(r(1 + Double(i) * cell))\" width=\"\(r(cell))\" height=\"\(r(cell))\" fill=\"\(color)\"><title>\(esc(names[i])) → \(esc(names[j])): \(v)</title></rect>"
            }
            svg += "\n"
        }
        svg +=
            "<rect x=\"1\" y=\"1\" width=\"\(r(size))\" height=\"\(r(size))\" fill=\"none\" stroke=\"#8c959f\"/></svg>\n"
        return svg
    }
}

// MARK: Formatting helpers

func esc(_ s: String) -> String {
    var out = ""
    for ch in s {
        switch ch {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(ch)
        }
    }
    return out
}

private func r(_ v: Double) -> String { fixed(v, 1) }
private func r3(_ v: Double) -> String { fixed(v, 3) }
func pct(_ v: Double, digits: Int = 2) -> String { fixed(v * 100, digits) + "%" }

/// A compact number: 4 significant digits, scientific below 1e-3.
func short(_ v: Double) -> String {
    guard v.isFinite else { return "\(v)" }
    if v == 0 { return "0" }
    let a = Swift.abs(v)
    if a < 1e-3 || a >= 1e6 {
        var e = Int(floor(log10(a)))
        var m = v / pow(10, Double(e))
        if Swift.abs(m) >= 9.995 {
            m /= 10
            e += 1
        }
        var mantissa = fixed(m, 2)
        while mantissa.hasSuffix("0") { mantissa.removeLast() }
        if mantissa.hasSuffix(".") { mantissa.removeLast() }
        return mantissa + "e" + String(e)
    }
    let digits = Swift.max(0, 3 - Int(floor(log10(a))))
    var s = fixed(v, digits)
    if s.contains(".") {
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
    }
    return s
}

/// Round tick values covering [lo, hi] (steps of 1, 2 or 5 × 10ᵏ).
func niceTicks(_ lo: Double, _ hi: Double, count: Int) -> [Double] {
    let span = Swift.max(hi - lo, 1e-12)
    let raw = span / Double(Swift.max(1, count))
    let mag = pow(10, floor(log10(raw)))
    let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
    var t = floor(lo / step) * step
    var out: [Double] = []
    while t <= hi + step * 1e-9 && out.count < 50 {
        out.append(Swift.abs(t) < step * 1e-9 ? 0 : t)
        t += step
    }
    if out.last! < hi - step * 1e-9 { out.append(out.last! + step) }
    return out
}

/// "1 h 02 min", "3 min 05 s", "12.3 s".
func duration(_ s: Double) -> String {
    if s < 60 { return fixed(s, 1) + " s" }
    let t = Int(s.rounded())
    func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
    if t < 3600 { return "\(t / 60) min \(two(t % 60)) s" }
    return "\(t / 3600) h \(two(t % 3600 / 60)) min"
}

/// "2025-01-31 12:34:56 UTC".
func utcTimestamp(_ seconds: Double) -> String {
    var t = time_t(seconds)
    var tmv = tm()
    gmtime_r(&t, &tmv)
    func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
    return
        "\(tmv.tm_year + 1900)-\(two(tmv.tm_mon + 1))-\(two(tmv.tm_mday)) \(two(tmv.tm_hour)):\(two(tmv.tm_min)):\(two(tmv.tm_sec)) UTC"
}
