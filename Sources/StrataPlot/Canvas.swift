import StrataImage

/// An sRGB colour, 8 bits a channel.
public struct RGBColor: Sendable, Hashable {
    public var r: UInt8
    public var g: UInt8
    public var b: UInt8

    /// A colour from its red, green and blue samples.
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) {
        self.r = r
        self.g = g
        self.b = b
    }

    static let white = RGBColor(255, 255, 255)
    static let black = RGBColor(0, 0, 0)
    static let grid = RGBColor(225, 225, 225)
    static let frame = RGBColor(60, 60, 60)
    static let text = RGBColor(20, 20, 20)
}

/// The colours series are drawn in, in order.
public enum Palette {
    /// Matplotlib's "tab10" qualitative palette (Tableau 10): ten colours told apart easily.
    public static let tab10: [RGBColor] = [
        RGBColor(31, 119, 180), RGBColor(255, 127, 14), RGBColor(44, 160, 44), RGBColor(214, 39, 40),
        RGBColor(148, 103, 189), RGBColor(140, 86, 75), RGBColor(227, 119, 194), RGBColor(127, 127, 127),
        RGBColor(188, 189, 34), RGBColor(23, 190, 207),
    ]

    /// The colour of series number `index` (0-based): tab10, repeating after ten.
    public static func color(_ index: Int) -> RGBColor { tab10[((index % 10) + 10) % 10] }
}

/// An integer rectangle, `x0..<x1` × `y0..<y1`.
struct PixelRect: Equatable {
    var x0, y0, x1, y1: Int
    var isEmpty: Bool { x1 <= x0 || y1 <= y0 }
    func contains(_ x: Int, _ y: Int) -> Bool { x >= x0 && x < x1 && y >= y0 && y < y1 }
}

/// An RGB raster the charts draw on. Pixel (x, y) covers [x, x+1) × [y, y+1); geometric primitives take
/// continuous coordinates where a pixel's centre is (x, y) itself (so a line through (3, 4) inks pixel (3, 4)).
struct Canvas {
    let width: Int
    let height: Int
    var pixels: [UInt8]

    init(width: Int, height: Int, background: RGBColor = .white) {
        self.width = max(width, 0)
        self.height = max(height, 0)
        var p = [UInt8](repeating: 0, count: self.width * self.height * 3)
        for i in 0..<(self.width * self.height) {
            p[3 * i] = background.r
            p[3 * i + 1] = background.g
            p[3 * i + 2] = background.b
        }
        pixels = p
    }

    var bounds: PixelRect { PixelRect(x0: 0, y0: 0, x1: width, y1: height) }

    var image: Image { Image(width: width, height: height, channels: 3, pixels: pixels) }

    func color(_ x: Int, _ y: Int) -> RGBColor {
        let i = 3 * (y * width + x)
        return RGBColor(pixels[i], pixels[i + 1], pixels[i + 2])
    }

    mutating func set(_ x: Int, _ y: Int, _ c: RGBColor) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = 3 * (y * width + x)
        pixels[i] = c.r
        pixels[i + 1] = c.g
        pixels[i + 2] = c.b
    }

    /// Mixes `c` into pixel (x, y) with opacity `alpha` (0…1); alpha ≥ 1 sets it exactly.
    mutating func blend(_ x: Int, _ y: Int, _ c: RGBColor, _ alpha: Double) {
        guard alpha > 0, x >= 0, y >= 0, x < width, y < height else { return }
        if alpha >= 1 { return set(x, y, c) }
        let i = 3 * (y * width + x)
        func mix(_ old: UInt8, _ new: UInt8) -> UInt8 {
            UInt8(max(0, min(255, (Double(old) * (1 - alpha) + Double(new) * alpha).rounded())))
        }
        pixels[i] = mix(pixels[i], c.r)
        pixels[i + 1] = mix(pixels[i + 1], c.g)
        pixels[i + 2] = mix(pixels[i + 2], c.b)
    }

    mutating func fill(_ r: PixelRect, _ c: RGBColor, alpha: Double = 1) {
        let x0 = max(r.x0, 0)
        let x1 = min(r.x1, width)
        let y0 = max(r.y0, 0)
        let y1 = min(r.y1, height)
        guard x0 < x1, y0 < y1 else { return }
        for y in y0..<y1 { for x in x0..<x1 { blend(x, y, c, alpha) } }
    }

    /// A 1-pixel outline just inside `r`.
    mutating func outline(_ r: PixelRect, _ c: RGBColor) {
        guard !r.isEmpty else { return }
        fill(PixelRect(x0: r.x0, y0: r.y0, x1: r.x1, y1: r.y0 + 1), c)
        fill(PixelRect(x0: r.x0, y0: r.y1 - 1, x1: r.x1, y1: r.y1), c)
        fill(PixelRect(x0: r.x0, y0: r.y0, x1: r.x0 + 1, y1: r.y1), c)
        fill(PixelRect(x0: r.x1 - 1, y0: r.y0, x1: r.x1, y1: r.y1), c)
    }

    /// An anti-aliased segment of width `lineWidth` from (ax, ay) to (bx, by), only inside `clip`:
    /// a pixel's coverage is how far its centre lies inside the stroke (distance to the segment).
    mutating func segment(
        _ ax: Double, _ ay: Double, _ bx: Double, _ by: Double,
        lineWidth: Double, color c: RGBColor, clip: PixelRect
    ) {
        guard ax.isFinite, ay.isFinite, bx.isFinite, by.isFinite else { return }
        let half = lineWidth / 2
        let reach = half + 1
        let x0 = max(clip.x0, max(0, Int(max(-1, min(ax, bx) - reach).rounded(.down))))
        let x1 = min(clip.x1, min(width, Int(min(Double(width), max(ax, bx) + reach).rounded(.up)) + 1))
        let y0 = max(clip.y0, max(0, Int(max(-1, min(ay, by) - reach).rounded(.down))))
        let y1 = min(clip.y1, min(height, Int(min(Double(height), max(ay, by) + reach).rounded(.up)) + 1))
        guard x0 < x1, y0 < y1 else { return }
        let dx = bx - ax
        let dy = by - ay
        let length2 = dx * dx + dy * dy
        for y in y0..<y1 {
            for x in x0..<x1 {
                let px = Double(x) - ax
                let py = Double(y) - ay
                let t = length2 > 0 ? max(0, min(1, (px * dx + py * dy) / length2)) : 0
                let ex = px - t * dx
                let ey = py - t * dy
                let d = (ex * ex + ey * ey).squareRoot()
                let coverage = min(1, half + 0.5 - d)
                if coverage > 0 { blend(x, y, c, coverage) }
            }
        }
    }

    /// An anti-aliased filled disc, only inside `clip`.
    mutating func disc(_ cx: Double, _ cy: Double, radius: Double, color c: RGBColor, clip: PixelRect) {
        guard cx.isFinite, cy.isFinite, cx > -radius - 2, cy > -radius - 2,
            cx < Double(width) + radius + 2, cy < Double(height) + radius + 2
        else { return }
        let x0 = max(clip.x0, Int((cx - radius - 1).rounded(.down)))
        let x1 = min(clip.x1, Int((cx + radius + 1).rounded(.up)) + 1)
        let y0 = max(clip.y0, Int((cy - radius - 1).rounded(.down)))
        let y1 = min(clip.y1, Int((cy + radius + 1).rounded(.up)) + 1)
        guard x0 < x1, y0 < y1 else { return }
        for y in y0..<y1 {
            for x in x0..<x1 {
                let dx = Double(x) - cx
                let dy = Double(y) - cy
                let coverage = min(1, radius + 0.5 - (dx * dx + dy * dy).squareRoot())
                if coverage > 0 { blend(x, y, c, coverage) }
            }
        }
    }

    /// Draws `text` with the bitmap font, each font pixel a `scale` × `scale` block. Horizontal text has its
    /// top-left corner at (x, y); vertical text (`vertical: true`, read bottom to top, as a y-axis label) has
    /// its bottom-left corner at (x, y).
    mutating func text(_ text: String, x: Int, y: Int, scale: Int, color c: RGBColor, vertical: Bool = false) {
        let s = max(1, scale)
        for (n, scalar) in text.unicodeScalars.enumerated() {
            let rows = BitmapFont.glyph(scalar)
            for (gy, mask) in rows.enumerated() where mask != 0 {
                for gx in 0..<BitmapFont.glyphWidth where mask & (1 << UInt8(BitmapFont.glyphWidth - 1 - gx)) != 0 {
                    let along = (n * BitmapFont.advance + gx) * s
                    for i in 0..<s {
                        for j in 0..<s {
                            if vertical {
                                set(x + gy * s + j, y - along - i - 1, c)
                            } else {
                                set(x + along + i, y + gy * s + j, c)
                            }
                        }
                    }
                }
            }
        }
    }
}
