import StrataImage

/// Pictures of filters and feature maps: values to image tiles, and tiles to one grid image.
public enum ImageGrid {
    /// Lays `tiles` out row by row in a grid, each enlarged `scale` times (nearest neighbour).
    ///
    /// Every cell has the size of the largest tile (times `scale`); smaller tiles are centred in theirs.
    /// Cells are separated, and surrounded, by `padding` pixels of `background`. The result has 3 channels
    /// if any tile has (gray tiles are repeated into RGB), else 1: its width is
    /// `columns · cellWidth + (columns + 1) · padding`, its height likewise with `rows = ⌈n / columns⌉`.
    ///
    /// - Parameters:
    ///   - tiles: the images, in order.
    ///   - columns: cells per row; nil: ⌈√n⌉ (a square-ish grid).
    ///   - padding: pixels between and around cells (negative is taken as 0).
    ///   - scale: enlargement of every tile (below 1 is taken as 1).
    ///   - background: the padding's gray level.
    /// - Returns: the grid; with no tiles, a `(2·padding) × (2·padding)` image of `background` (at least 1 × 1).
    public static func make(
        _ tiles: [Image], columns: Int? = nil, padding: Int = 1, scale: Int = 1,
        background: UInt8 = 255
    ) -> Image {
        let pad = max(0, padding)
        let k = max(1, scale)
        let channels = tiles.contains { $0.channels == 3 } ? 3 : 1
        guard !tiles.isEmpty else {
            let side = max(1, 2 * pad)
            return Image(width: side, height: side, channels: channels, filledWith: background)
        }
        let n = tiles.count
        let cols = max(1, min(n, columns ?? Int(Double(n).squareRoot().rounded(.up))))
        let rows = (n + cols - 1) / cols
        let cellW = (tiles.map(\.width).max() ?? 0) * k
        let cellH = (tiles.map(\.height).max() ?? 0) * k
        let width = max(1, cols * cellW + (cols + 1) * pad)
        let height = max(1, rows * cellH + (rows + 1) * pad)
        var out = Image(width: width, height: height, channels: channels, filledWith: background)
        for (i, tile) in tiles.enumerated() {
            let t = tile.converted(toChannels: channels)
            let r = i / cols
            let c = i % cols
            let ox = pad + c * (cellW + pad) + (cellW - t.width * k) / 2
            let oy = pad + r * (cellH + pad) + (cellH - t.height * k) / 2
            out.pixels.withUnsafeMutableBufferPointer { dst in
                for y in 0..<(t.height * k) {
                    for x in 0..<(t.width * k) {
                        let s = ((y / k) * t.width + x / k) * channels
                        let d = ((oy + y) * width + ox + x) * channels
                        for ch in 0..<channels { dst[d + ch] = t.pixels[s + ch] }
                    }
                }
            }
        }
        return out
    }

    /// A `height × width` map of values (row-major) as an image, min-max normalized: the smallest value
    /// black (or the colour map's start), the largest white (its end); a constant map is mid-gray (0.5);
    /// non-finite values count as the smallest. Gray (1 channel) when `colorMap` is nil, else RGB.
    ///
    /// `values.count` must be `height · width` (a programming error otherwise).
    public static func tile(_ values: [Float], height: Int, width: Int, colorMap: ColorMap? = nil) -> Image {
        precondition(values.count == height * width, "tile: \(values.count) values for a \(height)×\(width) tile")
        let t = normalized(values)
        if let map = colorMap {
            var px = [UInt8](repeating: 0, count: values.count * 3)
            for i in 0..<values.count {
                let (r, g, b) = map.rgb(t[i])
                px[3 * i] = r
                px[3 * i + 1] = g
                px[3 * i + 2] = b
            }
            return Image(width: width, height: height, channels: 3, pixels: px)
        }
        return Image(
            width: width, height: height, channels: 1, pixels: t.map { UInt8((max(0, min(1, $0)) * 255).rounded()) })
    }

    /// A 3-channel filter (`chw`: 3 planes of `height × width`, as a convolution's weight[o] is stored) as an
    /// RGB image, the three channels min-max normalized together (so relative colour is kept).
    ///
    /// `chw.count` must be `3 · height · width` (a programming error otherwise).
    public static func rgbTile(_ chw: [Float], height: Int, width: Int) -> Image {
        precondition(chw.count == 3 * height * width, "rgbTile: \(chw.count) values for a 3×\(height)×\(width) filter")
        let t = normalized(chw)
        let plane = height * width
        var px = [UInt8](repeating: 0, count: plane * 3)
        for i in 0..<plane {
            for c in 0..<3 { px[3 * i + c] = UInt8((max(0, min(1, t[c * plane + i])) * 255).rounded()) }
        }
        return Image(width: width, height: height, channels: 3, pixels: px)
    }

    /// Values mapped linearly so the finite minimum is 0 and maximum 1; constant → 0.5, non-finite → 0.
    static func normalized(_ values: [Float]) -> [Double] {
        var lo = Double.infinity
        var hi = -Double.infinity
        for v in values where v.isFinite {
            lo = min(lo, Double(v))
            hi = max(hi, Double(v))
        }
        guard lo <= hi else { return values.map { _ in 0 } }
        guard hi > lo else { return values.map { $0.isFinite ? 0.5 : 0 } }
        return values.map { $0.isFinite ? (Double($0) - lo) / (hi - lo) : 0 }
    }
}
