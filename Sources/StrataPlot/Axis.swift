import Foundation

/// How values map to positions along an axis.
public enum AxisScale: Sendable {
    /// Position proportional to the value.
    case linear
    /// Position proportional to log₁₀ of the value: decades evenly spaced; values ≤ 0 are not drawn.
    case log10
}

/// One axis: its range in the scale's own coordinate (the value, or log₁₀ of it) and its ticks.
struct Axis {
    var scale: AxisScale
    /// Range in scale coordinates: the axis' ends map to `lo` and `hi`.
    var lo: Double
    var hi: Double
    /// Labelled ticks: value (data space) and text.
    var ticks: [(value: Double, label: String)]
    /// Unlabelled ticks (log axes: 2…9 × 10^k), data space.
    var minorTicks: [Double]

    /// The scale coordinate of `v`, or nil when it cannot be drawn (not finite, or ≤ 0 on a log axis).
    static func coordinate(_ v: Double, _ scale: AxisScale) -> Double? {
        guard v.isFinite else { return nil }
        switch scale {
        case .linear: return v
        case .log10:
            guard v > 0 else { return nil }
            return Foundation.log10(v)
        }
    }

    /// Where `v` lies along the axis: 0 at the low end, 1 at the high end; nil when it cannot be drawn.
    func fraction(_ v: Double) -> Double? {
        guard let c = Axis.coordinate(v, scale), hi > lo else { return nil }
        return (c - lo) / (hi - lo)
    }

    /// An axis covering every drawable value in `values`, widened to "nice" tick positions:
    /// 1, 2 or 5 × 10^k steps on a linear axis, whole decades on a log axis.
    init(covering values: [Double], scale: AxisScale) {
        self.scale = scale
        var lo = Double.infinity
        var hi = -Double.infinity
        for v in values {
            if let c = Axis.coordinate(v, scale) {
                lo = min(lo, c)
                hi = max(hi, c)
            }
        }
        switch scale {
        case .linear:
            if lo > hi {
                lo = 0
                hi = 1
            } // nothing to draw
            if lo == hi {
                let pad = lo == 0 ? 1 : abs(lo) * 0.1
                lo -= pad
                hi += pad
            }
            (self.lo, self.hi, ticks) = Axis.linearTicks(lo, hi)
            minorTicks = []
        case .log10:
            if lo > hi {
                lo = 0
                hi = 1
            }
            var a = lo.rounded(.down)
            var b = hi.rounded(.up)
            if a == b {
                a -= 1
                b += 1
            }
            // At most about 10 labelled decades: a longer axis labels every k-th.
            let span = b - a
            let k = max(1, (span / 10).rounded(.up))
            a = (a / k).rounded(.down) * k
            b = (b / k).rounded(.up) * k
            self.lo = a
            self.hi = b
            var t: [(Double, String)] = []
            var minor: [Double] = []
            var e = a
            while e <= b + 1e-9 && t.count < 400 {
                t.append((Foundation.pow(10, e), Axis.decadeLabel(e)))
                if k == 1 && span <= 8 && e < b {
                    for m in 2...9 { minor.append(Double(m) * Foundation.pow(10, e)) }
                }
                e += k
            }
            ticks = t
            minorTicks = minor
        }
    }

    /// Nice linear ticks covering [lo, hi]: about 5 to 10 of them.
    static func linearTicks(_ lo: Double, _ hi: Double) -> (Double, Double, [(value: Double, label: String)]) {
        let span = hi - lo
        guard span.isFinite, span > 0 else {
            return (lo, hi, [(lo, format(lo, step: abs(lo))), (hi, format(hi, step: abs(hi)))])
        }
        let step = niceStep(span / 6)
        let first = (lo / step).rounded(.down)
        let last = (hi / step).rounded(.up)
        guard step > 0, step.isFinite, last - first <= 100 else {
            return (lo, hi, [(lo, format(lo, step: span)), (hi, format(hi, step: span))])
        }
        var ticks: [(value: Double, label: String)] = []
        var i = first
        while i <= last {
            let v = i * step // from the integer index: no accumulated rounding error
            ticks.append((v, format(v, step: step)))
            i += 1
        }
        return (first * step, last * step, ticks)
    }

    /// 1, 2 or 5 × 10^k, the smallest such at least `raw`.
    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let e = Foundation.log10(raw).rounded(.down)
        let base = Foundation.pow(10, e)
        let f = raw / base
        let m: Double = f <= 1 + 1e-9 ? 1 : f <= 2 + 1e-9 ? 2 : f <= 5 + 1e-9 ? 5 : 10
        return m * base
    }

    /// A tick label with as many decimals as the step needs ("0.25", "100", "-1.5"), or %g for very
    /// large or small numbers ("1e+06", "2.5e-05").
    static func format(_ v: Double, step: Double) -> String {
        let v = abs(v) < step * 1e-9 ? 0 : v // no "-0.0" or "5.55e-17" from i · step
        if abs(v) >= 1e6 || (step > 0 && step < 1e-4) || step == 0 {
            return String(format: "%g", v)
        }
        let decimals = max(0, Int(-Foundation.log10(step).rounded(.down)))
        return String(format: "%.\(min(decimals, 10))f", v)
    }

    /// "0.001" … "10000" for 10^-3 … 10^4, else "1e-5", "1e6".
    static func decadeLabel(_ e: Double) -> String {
        let k = Int(e)
        if k >= 0 && k <= 4 { return "1" + String(repeating: "0", count: k) }
        if k < 0 && k >= -3 { return "0." + String(repeating: "0", count: -k - 1) + "1" }
        return "1e\(k)"
    }
}
