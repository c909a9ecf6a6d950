/// Colour maps from a value in 0…1 to a colour, for heat maps and feature maps.
public enum ColorMap: Sendable {
    /// Matplotlib's perceptually uniform default: dark purple → blue → green → yellow.
    case viridis
    /// Matplotlib's "jet": dark blue → cyan → yellow → dark red (the usual Grad-CAM look).
    case jet
    /// Black → white.
    case gray

    /// Matplotlib's viridis at t = 0, 1/8, …, 1 (its 256-entry table sampled), interpolated linearly between.
    static let viridisAnchors: [(Double, Double, Double)] = [
        (68, 1, 84), (72, 40, 120), (62, 73, 137), (49, 104, 142), (38, 130, 142),
        (31, 158, 137), (53, 183, 121), (110, 206, 88), (253, 231, 37),
    ]

    /// The colour of `t`, clamped to 0…1 (NaN is taken as 0).
    public func rgb(_ t: Double) -> (UInt8, UInt8, UInt8) {
        let t = t.isNaN ? 0 : max(0, min(1, t))
        func byte(_ v: Double) -> UInt8 { UInt8(max(0, min(255, v.rounded()))) }
        switch self {
        case .gray:
            let v = byte(t * 255)
            return (v, v, v)
        case .jet:
            // Matplotlib's piecewise-linear jet: each channel a clipped tent.
            func tent(_ centre: Double) -> Double { max(0, min(1, 1.5 - abs(4 * t - centre))) }
            return (byte(tent(3) * 255), byte(tent(2) * 255), byte(tent(1) * 255))
        case .viridis:
            let a = ColorMap.viridisAnchors
            let u = t * Double(a.count - 1)
            let i = min(a.count - 2, Int(u))
            let f = u - Double(i)
            return (
                byte(a[i].0 + (a[i + 1].0 - a[i].0) * f), byte(a[i].1 + (a[i + 1].1 - a[i].1) * f),
                byte(a[i].2 + (a[i + 1].2 - a[i].2) * f)
            )
        }
    }
}
