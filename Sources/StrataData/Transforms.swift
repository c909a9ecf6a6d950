import StrataTensor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How an image's values are laid out in a flat Float buffer.
public enum PixelLayout: String, Sendable {
    /// Channel planes, each row-major (`[C, H, W]`, what datasets and tensors use).
    case chw
    /// Interleaved pixels, row-major (`[H, W, C]`, what image decoders produce).
    case hwc
}

/// A rectangle of an image, in pixels; it may reach outside the image (outside is zero).
public struct CropBox: Equatable, Sendable, CustomStringConvertible {
    public var top: Int, left: Int, height: Int, width: Int
    public init(top: Int, left: Int, height: Int, width: Int) {
        (self.top, self.left, self.height, self.width) = (top, left, height, width)
    }
    public var description: String { "\(height)×\(width) at (\(top), \(left))" }
}

/// Per-channel normalization, `(x - mean[c]) / std[c]`, on values in [0, 1].
public struct Normalization: Equatable, Sendable {
    public var mean: [Float]
    public var std: [Float]

    public init(mean: [Float], std: [Float]) {
        precondition(
            mean.count == std.count && !mean.isEmpty,
            "Normalization: \(mean.count) means, \(std.count) standard deviations")
        precondition(std.allSatisfy { $0 > 0 }, "Normalization: standard deviations must be positive, got \(std)")
        self.mean = mean
        self.std = std
    }

    /// CIFAR-10 training set statistics (the widely used constants; per-pixel standard deviation).
    public static let cifar10 = Normalization(mean: [0.4914, 0.4822, 0.4465], std: [0.2470, 0.2435, 0.2616])
    /// CIFAR-100 training set statistics.
    public static let cifar100 = Normalization(mean: [0.5071, 0.4865, 0.4409], std: [0.2673, 0.2564, 0.2762])
    /// MNIST training set statistics.
    public static let mnist = Normalization(mean: [0.1307], std: [0.3081])
    /// ImageNet statistics, as used by torchvision's pretrained models.
    public static let imageNet = Normalization(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])

    /// Measures the per-channel mean and (population) standard deviation of a dataset's
    /// pixels, over its first `limit` examples (all by default).
    public static func measure(_ dataset: any Dataset, limit: Int? = nil) -> Normalization {
        let c = dataset.imageShape[0]
        var sum = [Double](repeating: 0, count: c)
        var sq = [Double](repeating: 0, count: c)
        var n = [Double](repeating: 0, count: c)
        let count = Swift.min(dataset.count, limit ?? dataset.count)
        for i in 0..<count {
            let shape = dataset.shape(of: i)
            let plane = shape[1] * shape[2]
            var pixels = [Float](repeating: 0, count: shape.reduce(1, *))
            _ = pixels.withUnsafeMutableBufferPointer { dataset.load(i, into: $0) }
            for ch in 0..<c {
                var s = 0.0
                var q = 0.0
                for v in pixels[(ch * plane)..<((ch + 1) * plane)] {
                    s += Double(v)
                    q += Double(v) * Double(v)
                }
                sum[ch] += s
                sq[ch] += q
                n[ch] += Double(plane)
            }
        }
        let mean = (0..<c).map { n[$0] > 0 ? sum[$0] / n[$0] : 0 }
        let std = (0..<c).map { n[$0] > 0 ? Swift.max(sq[$0] / n[$0] - mean[$0] * mean[$0], 0).squareRoot() : 1 }
        return Normalization(mean: mean.map(Float.init), std: std.map { Float(Swift.max($0, 1e-6)) })
    }
}

/// Image operations on flat Float buffers in CHW or HWC layout: crops (zero outside the
/// image), horizontal flip, normalization, and bilinear resizing. Out-of-place operations
/// write every element of their output.
public enum ImageOps {
    /// Element strides of (channel, row, column).
    @inline(__always)
    static func strides(_ c: Int, _ h: Int, _ w: Int, _ layout: PixelLayout) -> (Int, Int, Int) {
        layout == .chw ? (h * w, w, 1) : (1, w * c, c)
    }

    /// Copies `box` of the image into `output` (C × box.height × box.width, same layout),
    /// with zeros where the box lies outside the image, mirrored left-right when `flip`.
    public static func crop(
        _ input: UnsafeBufferPointer<Float>, channels c: Int, height h: Int, width w: Int,
        layout: PixelLayout = .chw, box: CropBox, flip: Bool = false,
        into output: UnsafeMutableBufferPointer<Float>
    ) {
        precondition(input.count == c * h * w, "ImageOps.crop: input of \(input.count) floats for \(c)×\(h)×\(w)")
        precondition(
            output.count == c * box.height * box.width,
            "ImageOps.crop: output of \(output.count) floats for a \(box) crop")
        let (ics, iys, ixs) = strides(c, h, w, layout)
        let (ocs, oys, oxs) = strides(c, box.height, box.width, layout)
        let src = input.baseAddress!
        let dst = output.baseAddress!
        // Columns of the box that fall inside the image.
        let x0 = Swift.max(0, -box.left)
        let x1 = Swift.min(box.width, w - box.left)
        for ch in 0..<c {
            for y in 0..<box.height {
                let sy = box.top + y
                let drow = dst + ch * ocs + y * oys
                guard sy >= 0 && sy < h && x0 < x1 else {
                    for x in 0..<box.width { drow[x * oxs] = 0 }
                    continue
                }
                let srow = src + ch * ics + sy * iys
                for x in 0..<x0 { drow[(flip ? box.width - 1 - x : x) * oxs] = 0 }
                for x in x1..<Swift.max(x1, box.width) { drow[(flip ? box.width - 1 - x : x) * oxs] = 0 }
                if flip {
                    for x in x0..<x1 { drow[(box.width - 1 - x) * oxs] = srow[(box.left + x) * ixs] }
                } else {
                    for x in x0..<x1 { drow[x * oxs] = srow[(box.left + x) * ixs] }
                }
            }
        }
    }

    /// Mirrors the image left-right, in place.
    public static func flipHorizontal(
        _ pixels: UnsafeMutableBufferPointer<Float>, channels c: Int, height h: Int, width w: Int,
        layout: PixelLayout = .chw
    ) {
        precondition(pixels.count == c * h * w, "ImageOps.flipHorizontal: \(pixels.count) floats for \(c)×\(h)×\(w)")
        let (cs, ys, xs) = strides(c, h, w, layout)
        let p = pixels.baseAddress!
        for ch in 0..<c {
            for y in 0..<h {
                let row = p + ch * cs + y * ys
                var a = 0
                var b = w - 1
                while a < b {
                    swap(&row[a * xs], &row[b * xs])
                    a += 1
                    b -= 1
                }
            }
        }
    }

    /// `(x - mean[c]) / std[c]`, in place.
    public static func normalize(
        _ pixels: UnsafeMutableBufferPointer<Float>, channels c: Int, height h: Int, width w: Int,
        layout: PixelLayout = .chw, _ normalization: Normalization
    ) {
        precondition(
            normalization.mean.count == c,
            "ImageOps.normalize: \(normalization.mean.count) channel statistics for \(c) channels")
        precondition(pixels.count == c * h * w, "ImageOps.normalize: \(pixels.count) floats for \(c)×\(h)×\(w)")
        let (cs, ys, xs) = strides(c, h, w, layout)
        let p = pixels.baseAddress!
        for ch in 0..<c {
            let m = normalization.mean[ch]
            let s = 1 / normalization.std[ch]
            if layout == .chw {
                let plane = p + ch * cs
                for i in 0..<(h * w) { plane[i] = (plane[i] - m) * s }
            } else {
                for y in 0..<h {
                    for x in 0..<w {
                        let q = p + ch * cs + y * ys + x * xs
                        q.pointee = (q.pointee - m) * s
                    }
                }
            }
        }
    }

    /// Resamples `box` of the image (the whole image by default; it must lie inside it) to
    /// `outHeight × outWidth` with the bilinear (triangle) filter, widened when shrinking so
    /// that every input pixel contributes (antialiasing): Pillow's `BILINEAR` resize, which is
    /// what torchvision applies to PIL images (and to tensors with `antialias=True`).
    public static func resize(
        _ input: UnsafeBufferPointer<Float>, channels c: Int, height h: Int, width w: Int,
        layout: PixelLayout = .chw, box: CropBox? = nil, outHeight: Int, outWidth: Int,
        into output: UnsafeMutableBufferPointer<Float>
    ) {
        let box = box ?? CropBox(top: 0, left: 0, height: h, width: w)
        precondition(
            box.top >= 0 && box.left >= 0 && box.height > 0 && box.width > 0 && box.top + box.height <= h
                && box.left + box.width <= w,
            "ImageOps.resize: box \(box) is not inside the \(h)×\(w) image")
        precondition(outHeight > 0 && outWidth > 0, "ImageOps.resize: output size \(outHeight)×\(outWidth)")
        precondition(input.count == c * h * w, "ImageOps.resize: input of \(input.count) floats for \(c)×\(h)×\(w)")
        precondition(output.count == c * outHeight * outWidth, "ImageOps.resize: output of \(output.count) floats")
        let (ics, iys, ixs) = strides(c, h, w, layout)
        let (ocs, oys, oxs) = strides(c, outHeight, outWidth, layout)
        let hc = filterCoefficients(inSize: box.width, outSize: outWidth)
        let vc = filterCoefficients(inSize: box.height, outSize: outHeight)
        // Horizontal pass over the box's rows into a CHW temporary [c, box.height, outWidth].
        var tmp = [Float](repeating: 0, count: c * box.height * outWidth)
        let src = input.baseAddress!
        let dst = output.baseAddress!
        tmp.withUnsafeMutableBufferPointer { t in
            let tp = t.baseAddress!
            for ch in 0..<c {
                for y in 0..<box.height {
                    let srow = src + ch * ics + (box.top + y) * iys + box.left * ixs
                    let trow = tp + (ch * box.height + y) * outWidth
                    for xo in 0..<outWidth {
                        let start = hc.starts[xo]
                        let n = hc.counts[xo]
                        let k = xo * hc.kernelSize
                        var acc: Float = 0
                        for j in 0..<n { acc += hc.weights[k + j] * srow[(start + j) * ixs] }
                        trow[xo] = acc
                    }
                }
            }
            for ch in 0..<c {
                for yo in 0..<outHeight {
                    let start = vc.starts[yo]
                    let n = vc.counts[yo]
                    let k = yo * vc.kernelSize
                    let drow = dst + ch * ocs + yo * oys
                    for xo in 0..<outWidth {
                        var acc: Float = 0
                        for j in 0..<n { acc += vc.weights[k + j] * tp[(ch * box.height + start + j) * outWidth + xo] }
                        drow[xo * oxs] = acc
                    }
                }
            }
        }
    }

    /// Pillow's `precompute_coeffs` for the bilinear filter (support 1), in double precision.
    static func filterCoefficients(inSize: Int, outSize: Int) -> (
        starts: [Int], counts: [Int], weights: [Float], kernelSize: Int
    ) {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = Swift.max(scale, 1)
        let support = filterScale
        let kernelSize = Int(support.rounded(.up)) * 2 + 1
        var starts = [Int](repeating: 0, count: outSize)
        var counts = [Int](repeating: 0, count: outSize)
        var weights = [Float](repeating: 0, count: outSize * kernelSize)
        for xx in 0..<outSize {
            let center = (Double(xx) + 0.5) * scale
            let xmin = Swift.max(Int(center - support + 0.5), 0) // Int() truncates toward zero, like C
            let xmax = Swift.min(Int(center + support + 0.5), inSize) - xmin
            var k = [Double](repeating: 0, count: Swift.max(xmax, 0))
            var total = 0.0
            for x in 0..<Swift.max(xmax, 0) {
                let d = Swift.abs((Double(x + xmin) - center + 0.5) / filterScale)
                k[x] = d < 1 ? 1 - d : 0
                total += k[x]
            }
            starts[xx] = xmin
            counts[xx] = Swift.min(Swift.max(xmax, 0), kernelSize)
            for x in 0..<counts[xx] { weights[xx * kernelSize + x] = Float(total > 0 ? k[x] / total : 0) }
        }
        return (starts, counts, weights, kernelSize)
    }

    /// torchvision's `RandomResizedCrop.get_params`: up to 10 tries of a random area fraction
    /// in `scale` and a log-uniform aspect ratio (width/height) in `ratio`, rounded to whole
    /// pixels (half to even, like Python's `round`) and accepted when the crop fits; then a
    /// random position. After 10 failures: the largest centred crop whose aspect ratio is
    /// clamped to `ratio`. Draws, in order per try: area fraction, log-ratio; then top, left.
    public static func randomResizedCropBox(
        height: Int, width: Int, scale: ClosedRange<Double> = 0.08...1,
        ratio: ClosedRange<Double> = (3.0 / 4)...(4.0 / 3),
        generator g: inout RandomGenerator
    ) -> CropBox {
        let area = Double(height * width)
        let logLow = log(ratio.lowerBound)
        let logHigh = log(ratio.upperBound)
        for _ in 0..<10 {
            let target = area * (scale.lowerBound + (scale.upperBound - scale.lowerBound) * g.nextDouble())
            let aspect = exp(logLow + (logHigh - logLow) * g.nextDouble())
            let w = Int((target * aspect).squareRoot().rounded(.toNearestOrEven))
            let h = Int((target / aspect).squareRoot().rounded(.toNearestOrEven))
            if w > 0 && w <= width && h > 0 && h <= height {
                let top = g.nextInt(below: height - h + 1)
                let left = g.nextInt(below: width - w + 1)
                return CropBox(top: top, left: left, height: h, width: w)
            }
        }
        let inRatio = Double(width) / Double(height)
        var w = width
        var h = height
        if inRatio < ratio.lowerBound {
            h = Int((Double(w) / ratio.lowerBound).rounded(.toNearestOrEven))
        } else if inRatio > ratio.upperBound {
            w = Int((Double(h) * ratio.upperBound).rounded(.toNearestOrEven))
        }
        return CropBox(top: (height - h) / 2, left: (width - w) / 2, height: h, width: w)
    }

    /// torchvision's `center_crop`: a centred `cropHeight × cropWidth` box (offsets rounded
    /// half to even); a crop larger than the image is centred with zero padding around it.
    public static func centerCropBox(height: Int, width: Int, cropHeight: Int, cropWidth: Int) -> CropBox {
        func offset(_ size: Int, _ crop: Int) -> Int {
            crop > size ? -((crop - size) / 2) : Int((Double(size - crop) / 2).rounded(.toNearestOrEven))
        }
        return CropBox(
            top: offset(height, cropHeight), left: offset(width, cropWidth), height: cropHeight, width: cropWidth)
    }

    /// torchvision's `Resize(int)` size: the shorter side becomes `shorterSide`, the longer
    /// one keeps the aspect ratio (truncated).
    public static func resizedSize(height: Int, width: Int, shorterSide s: Int) -> (height: Int, width: Int) {
        guard height > 0 && width > 0 else { return (height: s, width: s) } // a nominal, unknown size
        if width <= height { return (height: s * height / width, width: s) }
        return (height: s, width: s * width / height)
    }
}

/// A sequence of image transforms, applied to one example at a time with that example's
/// random generator (so an augmentation depends only on the seed and the example's
/// position, not on threads or timing).
///
/// ```swift
/// let train = ImageTransform.cifarTraining()            // pad 4 + random 32×32 crop, flip, normalize
/// let test = ImageTransform([.normalize(.cifar10)])
/// ```
public struct ImageTransform: Equatable, Sendable {
    public enum Step: Equatable, Sendable {
        /// Zero-pad `padding` pixels on every side, then take a random `size × size` window
        /// (draws: top, then left, each uniform over the valid offsets).
        case randomCrop(size: Int, padding: Int)
        /// Mirror left-right with this probability (draws one uniform double).
        case horizontalFlip(probability: Double)
        /// torchvision's RandomResizedCrop to `size × size` (see ``ImageOps/randomResizedCropBox(height:width:scale:ratio:generator:)``),
        /// resampled bilinearly.
        case randomResizedCrop(size: Int, scale: ClosedRange<Double>, ratio: ClosedRange<Double>)
        /// Resize so the shorter side is `shorterSide` (torchvision `Resize(int)`), bilinear.
        case resize(shorterSide: Int)
        /// Resize to exactly `height × width`, bilinear.
        case resizeTo(height: Int, width: Int)
        /// A centred `size × size` crop (zero-padded when the image is smaller).
        case centerCrop(size: Int)
        /// Per-channel `(x - mean) / std`.
        case normalize(Normalization)

        /// RandomResizedCrop with torchvision's defaults: scale 0.08–1, ratio 3/4–4/3.
        public static func randomResizedCrop(size: Int) -> Step {
            .randomResizedCrop(size: size, scale: 0.08...1, ratio: (3.0 / 4)...(4.0 / 3))
        }
    }

    public var steps: [Step]
    /// The layout of the buffers ``apply(_:shape:generator:into:)`` works on.
    public var layout: PixelLayout

    public init(_ steps: [Step], layout: PixelLayout = .chw) {
        self.steps = steps
        self.layout = layout
    }

    /// The CIFAR training recipe (He et al. 2015): 4-pixel zero pad + random 32×32 crop,
    /// horizontal flip with probability 0.5, then normalization.
    public static func cifarTraining(_ normalization: Normalization = .cifar10, size: Int = 32, padding: Int = 4)
        -> ImageTransform
    {
        ImageTransform([
            .randomCrop(size: size, padding: padding), .horizontalFlip(probability: 0.5), .normalize(normalization),
        ])
    }

    /// Normalization only (evaluation for CIFAR and MNIST).
    public static func normalization(_ normalization: Normalization) -> ImageTransform {
        ImageTransform([.normalize(normalization)])
    }

    /// ImageNet-style training: RandomResizedCrop to `size`, flip, normalize.
    public static func imageNetTraining(size: Int = 224, _ normalization: Normalization = .imageNet) -> ImageTransform {
        ImageTransform([.randomResizedCrop(size: size), .horizontalFlip(probability: 0.5), .normalize(normalization)])
    }

    /// ImageNet-style evaluation: resize the shorter side to `resize`, center crop `size`, normalize.
    public static func imageNetEvaluation(
        resize: Int = 256, size: Int = 224, _ normalization: Normalization = .imageNet
    ) -> ImageTransform {
        ImageTransform([.resize(shorterSide: resize), .centerCrop(size: size), .normalize(normalization)])
    }

    /// Whether any step draws random numbers.
    public var isRandom: Bool {
        steps.contains { step in
            switch step {
            case .randomCrop, .horizontalFlip, .randomResizedCrop: return true
            default: return false
            }
        }
    }

    /// The normalization the transform ends with (its last `normalize` step), if any: what a
    /// checkpoint records so that `strata classify` prepares images as training did.
    public var normalization: Normalization? {
        for step in steps.reversed() { if case .normalize(let n) = step { return n } }
        return nil
    }

    /// (channels, height, width) ↔ shape in this transform's layout.
    func dims(_ shape: [Int]) -> (Int, Int, Int) {
        precondition(shape.count == 3, "ImageTransform: shape \(shape) is not 3-D")
        return layout == .chw ? (shape[0], shape[1], shape[2]) : (shape[2], shape[0], shape[1])
    }

    func layoutShape(_ c: Int, _ h: Int, _ w: Int) -> [Int] { layout == .chw ? [c, h, w] : [h, w, c] }

    /// The shape (in ``layout`` order) of the output for an input of `shape`.
    public func outputShape(for shape: [Int]) -> [Int] {
        var (c, h, w) = dims(shape)
        for step in steps {
            switch step {
            case .randomCrop(let size, let padding):
                precondition(
                    size > 0 && padding >= 0 && size <= h + 2 * padding && size <= w + 2 * padding,
                    "ImageTransform: a \(size)×\(size) crop does not fit a \(h)×\(w) image padded by \(padding)")
                (h, w) = (size, size)
            case .horizontalFlip: break
            case .randomResizedCrop(let size, let scale, let ratio):
                precondition(
                    size > 0 && scale.lowerBound > 0 && ratio.lowerBound > 0,
                    "ImageTransform: randomResizedCrop(size: \(size), scale: \(scale), ratio: \(ratio))")
                (h, w) = (size, size)
            case .resize(let s):
                precondition(s > 0, "ImageTransform: resize to \(s)")
                (h, w) = ImageOps.resizedSize(height: h, width: w, shorterSide: s)
            case .resizeTo(let rh, let rw):
                precondition(rh > 0 && rw > 0, "ImageTransform: resize to \(rh)×\(rw)")
                (h, w) = (rh, rw)
            case .centerCrop(let size):
                precondition(size > 0, "ImageTransform: center crop \(size)")
                (h, w) = (size, size)
            case .normalize(let n):
                precondition(
                    n.mean.count == c,
                    "ImageTransform: normalization for \(n.mean.count) channels on \(c)-channel images")
            }
        }
        return layoutShape(c, h, w)
    }

    /// Applies the steps to `input` (of `shape`, in ``layout`` order), drawing from
    /// `generator`, and writes the result into `output` (``outputShape(for:)`` elements).
    public func apply(
        _ input: UnsafeBufferPointer<Float>, shape inShape: [Int], generator g: inout RandomGenerator,
        into output: UnsafeMutableBufferPointer<Float>
    ) {
        let outShape = outputShape(for: inShape)
        precondition(
            output.count == outShape.reduce(1, *),
            "ImageTransform.apply: output of \(output.count) floats for \(outShape)")
        precondition(
            input.count == inShape.reduce(1, *), "ImageTransform.apply: input of \(input.count) floats for \(inShape)")
        let (c, h0, w0) = dims(inShape)
        var (h, w) = (h0, w0)
        // Ping-pong between two scratch arrays; `current == nil` means "still the input".
        var current: [Float]? = nil
        func withCurrent<R>(_ body: (UnsafeBufferPointer<Float>) -> R) -> R {
            if let current { return current.withUnsafeBufferPointer(body) }
            return body(input)
        }
        func replace(_ count: Int, _ body: (UnsafeBufferPointer<Float>, UnsafeMutableBufferPointer<Float>) -> Void) {
            var next = [Float](repeating: 0, count: count)
            next.withUnsafeMutableBufferPointer { dst in withCurrent { src in body(src, dst) } }
            current = next
        }
        func mutate(_ body: (UnsafeMutableBufferPointer<Float>) -> Void) {
            if current == nil { current = Array(input) }
            current!.withUnsafeMutableBufferPointer { body($0) }
        }
        let layout = self.layout
        for step in steps {
            switch step {
            case .randomCrop(let size, let padding):
                let top = g.nextInt(below: h + 2 * padding - size + 1) - padding
                let left = g.nextInt(below: w + 2 * padding - size + 1) - padding
                let box = CropBox(top: top, left: left, height: size, width: size)
                let (ch, hh, ww) = (c, h, w)
                replace(c * size * size) { src, dst in
                    ImageOps.crop(src, channels: ch, height: hh, width: ww, layout: layout, box: box, into: dst)
                }
                (h, w) = (size, size)
            case .horizontalFlip(let p):
                if g.nextDouble() < p {
                    let (ch, hh, ww) = (c, h, w)
                    mutate { ImageOps.flipHorizontal($0, channels: ch, height: hh, width: ww, layout: layout) }
                }
            case .randomResizedCrop(let size, let scale, let ratio):
                let box = ImageOps.randomResizedCropBox(height: h, width: w, scale: scale, ratio: ratio, generator: &g)
                let (ch, hh, ww) = (c, h, w)
                replace(c * size * size) { src, dst in
                    ImageOps.resize(
                        src, channels: ch, height: hh, width: ww, layout: layout, box: box,
                        outHeight: size, outWidth: size, into: dst)
                }
                (h, w) = (size, size)
            case .resize, .resizeTo:
                let (nh, nw): (Int, Int)
                if case .resize(let s) = step {
                    (nh, nw) = ImageOps.resizedSize(height: h, width: w, shorterSide: s)
                } else if case .resizeTo(let rh, let rw) = step {
                    (nh, nw) = (rh, rw)
                } else {
                    (nh, nw) = (h, w)
                }
                if nh != h || nw != w {
                    let (ch, hh, ww) = (c, h, w)
                    replace(c * nh * nw) { src, dst in
                        ImageOps.resize(
                            src, channels: ch, height: hh, width: ww, layout: layout, outHeight: nh, outWidth: nw,
                            into: dst)
                    }
                    (h, w) = (nh, nw)
                }
            case .centerCrop(let size):
                if size != h || size != w {
                    let box = ImageOps.centerCropBox(height: h, width: w, cropHeight: size, cropWidth: size)
                    let (ch, hh, ww) = (c, h, w)
                    replace(c * size * size) { src, dst in
                        ImageOps.crop(src, channels: ch, height: hh, width: ww, layout: layout, box: box, into: dst)
                    }
                    (h, w) = (size, size)
                }
            case .normalize(let n):
                let (ch, hh, ww) = (c, h, w)
                mutate { ImageOps.normalize($0, channels: ch, height: hh, width: ww, layout: layout, n) }
            }
        }
        withCurrent { src in _ = output.update(fromContentsOf: src) }
    }

    /// Applies the steps to an array; returns the result and its shape.
    public func apply(_ input: [Float], shape: [Int], generator: inout RandomGenerator) -> (
        pixels: [Float], shape: [Int]
    ) {
        let outShape = outputShape(for: shape)
        var out = [Float](repeating: 0, count: outShape.reduce(1, *))
        input.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { apply(src, shape: shape, generator: &generator, into: $0) }
        }
        return (out, outShape)
    }
}
