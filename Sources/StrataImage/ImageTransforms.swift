import StrataTensor

/// The image transforms of torchvision's evaluation preprocessing, on ``Image``s:
///
/// ```python
/// T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
///            T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])
/// ```
///
/// ```swift
/// let x = ImageTransforms.imageNetEval(try ImageDecoder.decode(path: "cat.jpg", channels: 3))  // [1, 3, 224, 224]
/// ```
///
/// Resizing is PIL's bilinear filter, antialiased (`Image.resize(size, BILINEAR)`, which is
/// what `T.Resize` does to a PIL image): a triangle filter widened by the scale factor when
/// shrinking, computed exactly as Pillow does (fixed-point coefficients with 22 fraction bits,
/// two passes each rounded to 8 bits, the vertical pass first when the height shrinks by more
/// than twice what the width does, as Pillow ≥ 11 orders them). The results are bit-identical
/// to Pillow 13's (checked in the tests); Pillow ≤ 10, which always ran the horizontal pass
/// first, differs by at most 1 in some pixels of such resizes.
public enum ImageTransforms {
    /// Per-channel `(x/255 − mean) / std`, computed in Float32 in that order, as
    /// `ToTensor` + `Normalize` do.
    public struct Normalization: Sendable, Equatable {
        public var mean: [Float]
        public var std: [Float]

        /// One value per channel, or a single value for all channels.
        public init(mean: [Float], std: [Float]) {
            precondition(
                !mean.isEmpty && mean.count == std.count, "mean and std need the same, non-zero, number of values")
            precondition(std.allSatisfy { $0 != 0 }, "std must not be 0")
            self.mean = mean
            self.std = std
        }

        /// torchvision's ImageNet statistics: mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225).
        public static let imageNet = Normalization(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
        /// Only scaling to [0, 1] (`ToTensor` alone).
        public static let unitRange = Normalization(mean: [0], std: [1])
    }

    // MARK: Sizes

    /// The size `T.Resize(size)` gives an image of `width × height`: the shorter side
    /// becomes `size`, the longer `Int(size · long / short)` (truncated, as torchvision does).
    public static func sizeWithShorterSide(_ size: Int, width: Int, height: Int) -> (width: Int, height: Int) {
        precondition(size > 0 && width > 0 && height > 0, "sizes must be positive")
        let short = min(width, height)
        let long = max(width, height)
        let newLong = Int(Double(size * long) / Double(short))
        return width <= height ? (size, newLong) : (newLong, size)
    }

    /// The top-left corner of `T.CenterCrop((height, width))` in an image of `imageWidth × imageHeight`.
    /// Where the crop is larger than the image it is negative: the image is centred in a
    /// zero-padded crop (the extra pixel of an odd difference goes right/bottom).
    public static func centerCropOrigin(width: Int, height: Int, imageWidth: Int, imageHeight: Int) -> (x: Int, y: Int)
    {
        func origin(_ crop: Int, _ size: Int) -> Int {
            if crop > size { return -((crop - size) / 2) }
            // Python's round(): halves go to the even neighbour.
            return Int((Double(size - crop) / 2).rounded(.toNearestOrEven))
        }
        return (origin(width, imageWidth), origin(height, imageHeight))
    }

    // MARK: Transforms

    /// The image resized to `width × height` with PIL's antialiased bilinear filter.
    public static func resize(_ image: Image, width: Int, height: Int) -> Image {
        precondition(width > 0 && height > 0, "resize target must be positive, got \(width)×\(height)")
        return resample(image, outWidth: width, outHeight: height, window: (0, 0, width, height))
    }

    /// `T.Resize(size)`: the shorter side becomes `size`, keeping the aspect ratio.
    ///
    /// The output can be very large for a very elongated image (a 1×10000 image becomes
    /// 256×2560000); ``resizeShorterSideAndCenterCrop(_:resize:crop:)`` never makes it.
    public static func resizeShorterSide(_ image: Image, to size: Int) -> Image {
        let s = sizeWithShorterSide(size, width: image.width, height: image.height)
        return resize(image, width: s.width, height: s.height)
    }

    /// `T.CenterCrop((height, width))`, zero-padding where the image is smaller.
    public static func centerCrop(_ image: Image, width: Int, height: Int) -> Image {
        precondition(width > 0 && height > 0, "crop size must be positive, got \(width)×\(height)")
        let o = centerCropOrigin(width: width, height: height, imageWidth: image.width, imageHeight: image.height)
        return crop(image, x: o.x, y: o.y, width: width, height: height)
    }

    /// `T.CenterCrop(size)`.
    public static func centerCrop(_ image: Image, size: Int) -> Image { centerCrop(image, width: size, height: size) }

    /// The `width × height` region with top-left corner (x, y); pixels outside the image are 0.
    public static func crop(_ image: Image, x: Int, y: Int, width: Int, height: Int) -> Image {
        precondition(width >= 0 && height >= 0, "crop size must not be negative")
        let c = image.channels
        var out = Image(width: width, height: height, channels: c)
        let x0 = max(x, 0)
        let x1 = min(x + width, image.width)
        guard x0 < x1 else { return out }
        for row in max(y, 0)..<max(max(y, 0), min(y + height, image.height)) {
            let src = (row * image.width + x0) * c
            let dst = ((row - y) * width + (x0 - x)) * c
            out.pixels.replaceSubrange(dst..<dst + (x1 - x0) * c, with: image.pixels[src..<src + (x1 - x0) * c])
        }
        return out
    }

    /// `T.Resize(resize)` then `T.CenterCrop(crop)`, with identical results, computing only
    /// the pixels kept (so no large intermediate image is made).
    public static func resizeShorterSideAndCenterCrop(_ image: Image, resize: Int, crop: Int) -> Image {
        precondition(crop > 0, "crop size must be positive, got \(crop)")
        let s = sizeWithShorterSide(resize, width: image.width, height: image.height)
        let o = centerCropOrigin(width: crop, height: crop, imageWidth: s.width, imageHeight: s.height)
        return resample(image, outWidth: s.width, outHeight: s.height, window: (o.x, o.y, crop, crop))
    }

    /// `T.ToTensor()` + `T.Normalize(mean, std)`: a Float32 tensor [1, C, H, W].
    public static func toTensor(_ image: Image, normalizedWith normalization: Normalization = .imageNet) -> Tensor {
        Tensor(chwFloats(image, normalizedWith: normalization), shape: [1, image.channels, image.height, image.width])
    }

    /// Images of one size stacked into a Float32 tensor [N, C, H, W], normalized.
    public static func toTensor(_ images: [Image], normalizedWith normalization: Normalization = .imageNet) -> Tensor {
        precondition(!images.isEmpty, "no images to stack")
        let first = images[0]
        precondition(
            images.allSatisfy { $0.width == first.width && $0.height == first.height && $0.channels == first.channels },
            "images to stack must all have the same size and channels")
        var values = [Float]()
        values.reserveCapacity(images.count * first.pixels.count)
        for image in images { values += chwFloats(image, normalizedWith: normalization) }
        return Tensor(values, shape: [images.count, first.channels, first.height, first.width])
    }

    /// The normalized samples in CHW order (one image of a batch).
    public static func chwFloats(_ image: Image, normalizedWith n: Normalization = .imageNet) -> [Float] {
        let c = image.channels
        let hw = image.width * image.height
        precondition(
            n.mean.count == 1 || n.mean.count == c,
            "normalization has \(n.mean.count) values for a \(c)-channel image")
        var out = [Float](repeating: 0, count: c * hw)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for ch in 0..<c {
                    let mean = n.mean[n.mean.count == 1 ? 0 : ch]
                    let std = n.std[n.std.count == 1 ? 0 : ch]
                    for i in 0..<hw { dst[ch * hw + i] = (Float(src[i * c + ch]) / 255 - mean) / std }
                }
            }
        }
        return out
    }

    /// torchvision's ImageNet evaluation preprocessing: resize the shorter side to `resize`,
    /// center-crop `crop`, scale to [0, 1], normalize: a tensor [1, C, crop, crop].
    public static func imageNetEval(
        _ image: Image, resize: Int = 256, crop: Int = 224,
        normalizedWith normalization: Normalization = .imageNet
    ) -> Tensor {
        toTensor(resizeShorterSideAndCenterCrop(image, resize: resize, crop: crop), normalizedWith: normalization)
    }

    // MARK: Pillow's resampling

    static let precisionBits = 32 - 8 - 2

    /// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` (Resample.c) for the bilinear
    /// filter, for the output indices `outputs` only.
    struct AxisCoefficients {
        var first: [Int] = [] // first input index of each output
        var count: [Int] = [] // inputs used by each output
        var weights: [Int32] = [] // ksize per output, fixed point
        var ksize = 0
    }

    static func coefficients(inSize: Int, outSize: Int, outputs: Range<Int>) -> AxisCoefficients {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = 1.0 * filterScale // the bilinear (triangle) filter's support is 1
        var c = AxisCoefficients()
        c.ksize = Int(support.rounded(.up)) * 2 + 1
        c.weights = [Int32](repeating: 0, count: outputs.count * c.ksize)
        let ss = 1 / filterScale
        var k = [Double](repeating: 0, count: c.ksize)
        for (j, xx) in outputs.enumerated() {
            let center = (Double(xx) + 0.5) * scale
            let xmin = max(Int(center - support + 0.5), 0)
            let xmax = min(Int(center + support + 0.5), inSize) - xmin
            var ww = 0.0
            for x in 0..<max(xmax, 0) {
                let t = abs((Double(x + xmin) - center + 0.5) * ss)
                let w = t < 1 ? 1 - t : 0
                k[x] = w
                ww += w
            }
            for x in 0..<max(xmax, 0) {
                let v = ww != 0 ? k[x] / ww : k[x]
                let f = v * Double(1 << precisionBits)
                c.weights[j * c.ksize + x] = Int32(
                    v < 0 ? (-0.5 + f).rounded(.towardZero) : (0.5 + f).rounded(.towardZero))
            }
            c.first.append(xmin)
            c.count.append(max(xmax, 0))
        }
        return c
    }

    @inline(__always)
    static func clip8(_ v: Int) -> UInt8 {
        if v >= 1 << (precisionBits + 8) { return 255 }
        if v <= 0 { return 0 }
        return UInt8(truncatingIfNeeded: v >> precisionBits)
    }

    /// The `window` (in the coordinates of a full `outWidth × outHeight` resize) of the
    /// image resized by Pillow's two-pass bilinear resampling; window pixels outside the
    /// resized image are 0. Only the source rows and columns the window needs are read.
    static func resample(
        _ image: Image, outWidth: Int, outHeight: Int,
        window: (x: Int, y: Int, width: Int, height: Int)
    ) -> Image {
        let ch = image.channels
        var out = Image(width: window.width, height: window.height, channels: ch)
        let xs = max(window.x, 0)..<max(max(window.x, 0), min(window.x + window.width, outWidth))
        let ys = max(window.y, 0)..<max(max(window.y, 0), min(window.y + window.height, outHeight))
        guard !xs.isEmpty, !ys.isEmpty, image.width > 0, image.height > 0 else { return out }
        // A pass that keeps the size has identity coefficients (one weight of exactly 1), so
        // running it changes nothing: both passes always run.
        let hc = coefficients(inSize: image.width, outSize: outWidth, outputs: xs)
        let vc = coefficients(inSize: image.height, outSize: outHeight, outputs: ys)
        // Pillow ≥ 11 (ImagingResampleInner): the vertical pass goes first when the height
        // shrinks by more than twice what the width does. The order changes rounding.
        let dh = image.height - outHeight
        let dw = image.width - outWidth
        let verticalFirst = dh > 0 && dh > dw * 2
        let tw = xs.count
        let th = ys.count
        var result = [UInt8]()
        image.pixels.withUnsafeBufferPointer { src in
            if verticalFirst {
                let colFirst = hc.first[0]
                let colEnd = hc.first[tw - 1] + hc.count[tw - 1]
                let temp = verticalPass(
                    src, rowLength: image.width * ch, sampleStart: colFirst * ch,
                    samples: (colEnd - colFirst) * ch, vc, rowShift: 0)
                result = temp.withUnsafeBufferPointer {
                    horizontalPass(
                        $0, width: colEnd - colFirst, rowStart: 0, rows: th, channels: ch, hc, columnShift: colFirst)
                }
            } else {
                let rowFirst = vc.first[0]
                let rowEnd = vc.first[th - 1] + vc.count[th - 1]
                let temp = horizontalPass(
                    src, width: image.width, rowStart: rowFirst, rows: rowEnd - rowFirst,
                    channels: ch, hc, columnShift: 0)
                result = temp.withUnsafeBufferPointer {
                    verticalPass($0, rowLength: tw * ch, sampleStart: 0, samples: tw * ch, vc, rowShift: rowFirst)
                }
            }
        }
        let ox = xs.lowerBound - window.x
        let rowLen = tw * ch
        for (j, yy) in ys.enumerated() {
            let d = ((yy - window.y) * window.width + ox) * ch
            out.pixels.replaceSubrange(d..<d + rowLen, with: result[j * rowLen..<(j + 1) * rowLen])
        }
        return out
    }

    /// Pillow's `ImagingResampleHorizontal_8bpc` over rows [rowStart, rowStart + rows) of an
    /// image `width` pixels wide; coefficient bounds are shifted left by `columnShift`.
    static func horizontalPass(
        _ src: UnsafeBufferPointer<UInt8>, width: Int, rowStart: Int, rows: Int, channels ch: Int,
        _ c: AxisCoefficients, columnShift: Int
    ) -> [UInt8] {
        let n = c.first.count
        var dst = [UInt8](repeating: 0, count: rows * n * ch)
        dst.withUnsafeMutableBufferPointer { dst in
            c.weights.withUnsafeBufferPointer { kk in
                for r in 0..<rows {
                    let rowBase = (rowStart + r) * width * ch
                    for j in 0..<n {
                        let xmin = c.first[j] - columnShift
                        let taps = c.count[j]
                        let kBase = j * c.ksize
                        for ci in 0..<ch {
                            var ss = 1 << (precisionBits - 1)
                            var p = rowBase + xmin * ch + ci
                            for x in 0..<taps {
                                ss += Int(src[p]) * Int(kk[kBase + x])
                                p += ch
                            }
                            dst[(r * n + j) * ch + ci] = clip8(ss)
                        }
                    }
                }
            }
        }
        return dst
    }

    /// Pillow's `ImagingResampleVertical_8bpc` over the samples [sampleStart, sampleStart + samples)
    /// of each row (`rowLength` samples); coefficient bounds are shifted up by `rowShift`.
    static func verticalPass(
        _ src: UnsafeBufferPointer<UInt8>, rowLength: Int, sampleStart: Int, samples: Int,
        _ c: AxisCoefficients, rowShift: Int
    ) -> [UInt8] {
        let n = c.first.count
        var dst = [UInt8](repeating: 0, count: n * samples)
        dst.withUnsafeMutableBufferPointer { dst in
            c.weights.withUnsafeBufferPointer { kk in
                for j in 0..<n {
                    let ymin = c.first[j] - rowShift
                    let taps = c.count[j]
                    let kBase = j * c.ksize
                    for i in 0..<samples {
                        var ss = 1 << (precisionBits - 1)
                        var p = ymin * rowLength + sampleStart + i
                        for y in 0..<taps {
                            ss += Int(src[p]) * Int(kk[kBase + y])
                            p += rowLength
                        }
                        dst[j * samples + i] = clip8(ss)
                    }
                }
            }
        }
        return dst
    }
}
