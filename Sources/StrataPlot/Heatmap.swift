import StrataImage

/// Heat maps (such as a Grad-CAM) drawn over the image they explain.
public enum Heatmap {
    /// `image` with `heat` (a `height × width` map, row-major) laid over it: the map is min-max
    /// normalized (a constant map counts as 0 everywhere), upsampled bilinearly to the image's size
    /// (pixel centres aligned, as `F.interpolate(mode="bilinear", align_corners=False)`), coloured with
    /// `colorMap` and mixed in with opacity `alpha` (clamped to 0…1). The result is RGB, the image's size.
    ///
    /// `heat.count` must be `height · width`, both at least 1 (a programming error otherwise).
    public static func overlay(
        _ heat: [Float], height: Int, width: Int, on image: Image, colorMap: ColorMap = .jet,
        alpha: Double = 0.5
    ) -> Image {
        precondition(
            height >= 1 && width >= 1 && heat.count == height * width,
            "overlay: \(heat.count) values for a \(height)×\(width) heat map")
        let rgb = image.converted(toChannels: 3)
        let up = upsampleBilinear(heat, height: height, width: width, toHeight: rgb.height, toWidth: rgb.width)
        var lo = Float.infinity
        var hi = -Float.infinity
        for v in up where v.isFinite {
            lo = min(lo, v)
            hi = max(hi, v)
        }
        let a = alpha.isNaN ? 0.5 : max(0, min(1, alpha))
        var out = rgb.pixels
        for i in 0..<up.count {
            let v = up[i]
            let t = hi > lo && v.isFinite ? Double((v - lo) / (hi - lo)) : 0
            let (r, g, b) = colorMap.rgb(t)
            for (c, m) in [r, g, b].enumerated() {
                out[3 * i + c] = UInt8(
                    max(0, min(255, (Double(rgb.pixels[3 * i + c]) * (1 - a) + Double(m) * a).rounded())))
            }
        }
        return Image(width: rgb.width, height: rgb.height, channels: 3, pixels: out)
    }

    /// Bilinear resampling of a `height × width` map to `toHeight × toWidth`, pixel centres aligned
    /// (source coordinate `(dst + 0.5) · in / out − 0.5`, clamped at the edges; PyTorch's `align_corners=False`).
    public static func upsampleBilinear(_ values: [Float], height: Int, width: Int, toHeight: Int, toWidth: Int)
        -> [Float]
    {
        precondition(
            height >= 1 && width >= 1 && values.count == height * width,
            "upsampleBilinear: \(values.count) values for a \(height)×\(width) map")
        let oh = max(0, toHeight)
        let ow = max(0, toWidth)
        var out = [Float](repeating: 0, count: oh * ow)
        func source(_ d: Int, _ n: Int, _ m: Int) -> (Int, Int, Float) {
            let s = max(0, (Double(d) + 0.5) * Double(n) / Double(m) - 0.5)
            let i0 = min(Int(s), n - 1)
            let i1 = min(i0 + 1, n - 1)
            return (i0, i1, Float(s - Double(i0)))
        }
        for y in 0..<oh {
            let (y0, y1, fy) = source(y, height, oh)
            for x in 0..<ow {
                let (x0, x1, fx) = source(x, width, ow)
                let top = values[y0 * width + x0] * (1 - fx) + values[y0 * width + x1] * fx
                let bottom = values[y1 * width + x0] * (1 - fx) + values[y1 * width + x1] * fx
                out[y * ow + x] = top * (1 - fy) + bottom * fy
            }
        }
        return out
    }
}
