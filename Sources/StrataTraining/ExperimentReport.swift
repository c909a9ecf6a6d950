import StrataNN

/// An experiment's `report.html`: the verdict, each claim with the numbers it rests on, the
/// measurements, the experiment's figures (embedded as PNG `data:` URIs) and links to each arm's
/// training report. One self-contained file without scripts, like the training report.
public struct ExperimentReport {
    /// What was concluded.
    public var verdict: ExperimentVerdict
    /// One line on what was run ("degradation (quick schedule): CIFAR-10 …, 8 epochs per arm").
    public var description: String
    /// The figures, in order: a caption and a PNG file's bytes.
    public var figures: [(title: String, pngBytes: [UInt8])]
    /// Arms whose folder holds a training report (`<arm>/report.html`), linked relatively.
    public var arms: [String]

    /// Creates a report.
    public init(
        verdict: ExperimentVerdict, description: String, figures: [(title: String, pngBytes: [UInt8])],
        arms: [String] = []
    ) {
        (self.verdict, self.description, self.figures, self.arms) = (verdict, description, figures, arms)
    }

    /// The page.
    public func render() -> String {
        let v = verdict
        var h = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Strata — experiment \(esc(v.experiment))</title>
            <style>
            \(HTMLReport.styleSheet)
            .holds { color: #1a7f37; } .fails { color: #cf222e; } .open { color: #59636e; }
            </style></head><body>
            <h1>Experiment: \(esc(v.experiment))</h1>
            <div class="sub">Strata · \(esc(description)) · written \(utcTimestamp(wallClock()))</div>
            <h2>Verdict</h2>
            <p id="verdict"><b>\(esc(v.summary))</b></p>
            <table id="findings"><tr><th class="l">claim</th><th class="l">result</th><th class="l">evidence</th></tr>

            """
        for f in v.findings {
            let (mark, cls) =
                f.holds.map { $0 ? ("✓ holds", "holds") : ("✗ does not hold", "fails") } ?? ("— not measured", "open")
            h +=
                "<tr><td class=\"l\">\(esc(f.claim))</td><td class=\"l \(cls)\">\(mark)</td><td class=\"l\">\(esc(f.evidence))</td></tr>\n"
        }
        h += "</table>\n"
        h += HTMLReport.figuresSection(figures)
        if !v.measurements.isEmpty {
            h += "<h2>Measurements</h2>\n<table id=\"measurements\"><tr><th class=\"l\">name</th><th>value</th></tr>\n"
            for (name, value) in v.measurements {
                h += "<tr><td class=\"l\">\(esc(name))</td><td>\(Self.number(value))</td></tr>\n"
            }
            h += "</table>\n"
        }
        if !arms.isEmpty {
            h += "<h2>Arms</h2>\n<ul id=\"arms\">\n"
            for a in arms {
                h += "<li><a href=\"\(esc(a))/report.html\">\(esc(a))</a>: training report</li>\n"
            }
            h += "</ul>\n"
        }
        return h + "</body></html>\n"
    }

    /// Whole numbers as integers, others to 4 decimals (or scientific when tiny).
    static func number(_ v: Double) -> String {
        guard v.isFinite else { return String(v) }
        if v == v.rounded() && abs(v) < 1e15 { return String(Int(v)) }
        return abs(v) >= 1e-3 ? fixed(v, 4) : String(v)
    }

    /// Writes `report.html` into `directory` (atomically).
    public func write(to directory: String) throws {
        try AtomicFile.write(Array(render().utf8), to: directory + "/report.html")
    }
}
