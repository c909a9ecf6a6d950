/// An 8-bit image in memory: `height` rows of `width` pixels of `channels` samples
/// (1 = grayscale, 3 = RGB), stored row-major, channels last (HWC), like a PIL image
/// or a NumPy array of shape (H, W, C).
///
/// ```swift
/// let img = try ImageDecoder.decode(path: "cat.jpg", channels: 3)
/// let r = img[y: 0, x: 0, c: 0]
/// ```
public struct Image: Equatable, Sendable {
    public let width: Int
    public let height: Int
    /// 1 (grayscale) or 3 (RGB).
    public let channels: Int
    /// `height × width × channels` samples, row-major, channels last.
    public var pixels: [UInt8]

    /// Wraps pixels already in HWC order; `pixels.count` must be `height * width * channels`.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0, "image size must not be negative, got \(width)×\(height)")
        precondition(channels == 1 || channels == 3, "an image has 1 or 3 channels, got \(channels)")
        precondition(
            pixels.count == width * height * channels,
            "\(width)×\(height)×\(channels) image needs \(width * height * channels) samples, got \(pixels.count)")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// A `width × height` image with every sample `value`.
    public init(width: Int, height: Int, channels: Int, filledWith value: UInt8 = 0) {
        self.init(
            width: width, height: height, channels: channels,
            pixels: [UInt8](repeating: value, count: width * height * channels))
    }

    /// The sample at row `y`, column `x`, channel `c`.
    public subscript(y y: Int, x x: Int, c c: Int) -> UInt8 {
        get { pixels[(y * width + x) * channels + c] }
        set { pixels[(y * width + x) * channels + c] = newValue }
    }

    /// This image with `channels` channels: gray → RGB repeats the sample; RGB → gray uses
    /// PIL's `convert("L")` (ITU-R 601-2 luma, L = (19595 R + 38470 G + 7471 B + 2¹⁵) >> 16).
    public func converted(toChannels target: Int) -> Image {
        precondition(target == 1 || target == 3, "an image has 1 or 3 channels, got \(target)")
        if target == channels { return self }
        let n = width * height
        var out = [UInt8](repeating: 0, count: n * target)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                if target == 3 {
                    for i in 0..<n {
                        let v = src[i]
                        dst[3 * i] = v
                        dst[3 * i + 1] = v
                        dst[3 * i + 2] = v
                    }
                } else {
                    for i in 0..<n { dst[i] = luma(src[3 * i], src[3 * i + 1], src[3 * i + 2]) }
                }
            }
        }
        return Image(width: width, height: height, channels: target, pixels: out)
    }
}

/// PIL's `L24` luma (Convert.c): exact integer arithmetic, rounded.
@inline(__always)
func luma(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> UInt8 {
    UInt8(truncatingIfNeeded: (Int(r) * 19595 + Int(g) * 38470 + Int(b) * 7471 + 0x8000) >> 16)
}

/// Why an image could not be read. The description names the file and the problem:
///
/// ```
/// photos/cat.jpg: truncated JPEG: Premature end of JPEG file
/// notes.txt: not a JPEG or PNG image (it starts with 48 65 6c 6c 6f 20 77 6f)
/// ```
public struct ImageError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: String, Sendable, Equatable {
        /// The file could not be opened or read (missing, a directory, no permission…).
        case unreadable
        /// The file is empty.
        case empty
        /// Neither a JPEG nor a PNG (by its first bytes).
        case unsupportedFormat
        /// The data ends before the image does.
        case truncated
        /// The data is damaged or invalid.
        case corrupt
        /// The header claims more pixels than ``ImageDecoder/maxPixels``.
        case tooLarge
    }

    /// The file path, or the name given to ``ImageDecoder/decode(bytes:name:channels:)``.
    public var name: String
    public var kind: Kind
    /// What was wrong, in words.
    public var detail: String

    public init(name: String, kind: Kind, detail: String) {
        self.name = name
        self.kind = kind
        self.detail = detail
    }

    /// `name: detail`.
    public var description: String { "\(name): \(detail)" }
}
