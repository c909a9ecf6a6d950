import _CImage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Decodes JPEG (libjpeg-turbo) and PNG (libpng) files into ``Image``s.
///
/// The format is found from the first bytes, not the file name. Every problem is thrown
/// as an ``ImageError`` naming the file (unreadable, empty, not JPEG/PNG, truncated,
/// corrupt, too large): bad input never traps, and a header is checked against
/// ``maxPixels`` before any pixel buffer is allocated.
///
/// Pixels match what PIL (and so torchvision's default `ImageFolder` loader,
/// `Image.open(f).convert("RGB")`) gives for the same file:
/// - JPEG: libjpeg-turbo's default (accurate integer) IDCT and fancy upsampling; grayscale
///   JPEGs decode to 1 channel, YCbCr to RGB, Adobe CMYK/YCCK to RGB as PIL converts them.
///   The EXIF orientation tag is ignored (as PIL's `open` and torchvision's `decode_jpeg` do).
///   A JPEG that ends early is an error (PIL's default); other libjpeg warnings (such as
///   extraneous bytes before a marker) are ignored, as PIL does.
/// - PNG: gray, gray+alpha, RGB, RGBA, palette (with or without transparency), any bit depth,
///   interlaced or not. Alpha is dropped, not composited (as `convert("RGB")`); palette images
///   are expanded to RGB. 8-bit files without a gAMA/iCCP chunk decode exactly; 16-bit samples
///   are scaled to 8 bits (round(v·255/65535), PIL takes the high byte: at most 1 apart). libpng's
///   simplified API applies a file's gAMA chunk (converting to sRGB), which PIL does not.
public enum ImageDecoder {
    /// The largest image accepted, in pixels: Pillow's `Image.MAX_IMAGE_PIXELS` (89,478,485, about
    /// 9459 × 9459, 268 MB as RGB). A header that claims more (a 768 KB PNG can claim 16384², 3.9 GB
    /// to decode: a decompression bomb) is reported as ``ImageError/Kind/tooLarge`` before anything is
    /// allocated. Pillow only warns up to twice this; Strata refuses, since no dataset image or photo
    /// to classify is that large.
    public static let maxPixels = 89_478_485

    /// The largest file read, in bytes (1 GiB).
    public static let maxFileBytes = 1 << 30

    /// The image formats recognised by their first bytes.
    public enum Format: String, Sendable {
        case jpeg = "JPEG", png = "PNG"
    }

    /// Decodes the JPEG or PNG file at `path`.
    ///
    /// - Parameters:
    ///   - path: the image file.
    ///   - channels: 3 converts to RGB, 1 to grayscale, nil keeps the file's
    ///     own (1 for grayscale files, else 3).
    public static func decode(path: String, channels: Int? = nil) throws -> Image {
        try decode(bytes: readFile(path), name: path, channels: channels)
    }

    /// Decodes a JPEG or PNG held in memory; `name` is used in error messages.
    public static func decode(bytes: [UInt8], name: String, channels: Int? = nil) throws -> Image {
        precondition(
            channels == nil || channels == 1 || channels == 3, "channels must be 1, 3 or nil, got \(channels!)")
        guard !bytes.isEmpty else { throw ImageError(name: name, kind: .empty, detail: "empty file (0 bytes)") }
        let image: Image
        switch format(of: bytes) {
        case .jpeg?: image = try decodeJPEG(bytes, name: name)
        case .png?: image = try decodePNG(bytes, name: name)
        case nil:
            let head = bytes.prefix(8).map { String($0, radix: 16).leftPadded(2) }.joined(separator: " ")
            let hint = otherFormat(bytes).map { "it looks like \($0)" } ?? "it starts with \(head)"
            throw ImageError(
                name: name, kind: .unsupportedFormat,
                detail: "not a JPEG or PNG image (\(hint)); \(bytes.count) bytes")
        }
        if let c = channels { return image.converted(toChannels: c) }
        return image
    }

    /// The format by magic bytes: JPEG starts FF D8 FF, PNG 89 'P' 'N' 'G' CR LF 1A LF.
    public static func format(of bytes: [UInt8]) -> Format? {
        if bytes.count >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF { return .jpeg }
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        return nil
    }

    /// Recognises a few other formats, only to say what a rejected file is.
    static func otherFormat(_ b: [UInt8]) -> String? {
        func starts(_ s: String) -> Bool { b.starts(with: Array(s.utf8)) }
        if starts("GIF87a") || starts("GIF89a") { return "a GIF image" }
        if starts("BM") && b.count >= 14 { return "a BMP image" }
        if starts("RIFF") && b.count >= 12 && Array(b[8..<12]) == Array("WEBP".utf8) { return "a WebP image" }
        if b.starts(with: [0x49, 0x49, 0x2A, 0x00]) || b.starts(with: [0x4D, 0x4D, 0x00, 0x2A]) {
            return "a TIFF image"
        }
        if b.count >= 12 && Array(b[4..<8]) == Array("ftyp".utf8) { return "an HEIF/AVIF/MP4 file" }
        if b.count >= 2 && b[0] == 0xFF && b[1] == 0xD8 { return "a damaged JPEG (FF D8 not followed by a marker)" }
        if b.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return "a damaged PNG signature" }
        if starts("%PDF") { return "a PDF document" }
        if b.starts(with: [0x1F, 0x8B]) { return "a gzip file" }
        if b.starts(with: [0x50, 0x4B, 0x03, 0x04]) { return "a zip file" }
        return nil
    }

    static func checkSize(_ width: Int, _ height: Int, _ name: String, _ format: String) throws {
        guard width > 0, height > 0 else {
            throw ImageError(
                name: name, kind: .corrupt, detail: "corrupt \(format): header gives size \(width)×\(height)")
        }
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, pixels <= maxPixels else {
            throw ImageError(
                name: name, kind: .tooLarge,
                detail: "\(format) header gives \(width)×\(height) pixels, more than the \(maxPixels) allowed")
        }
    }

    // MARK: JPEG

    /// libjpeg warnings after which the image is complete and usable; Pillow ignores them too.
    /// Any other failure (including libjpeg's "Premature end of JPEG file") is an error.
    static let benignJPEGWarnings = [
        "Corrupt JPEG data:", "Warning: unknown JFIF revision", "Unknown Adobe color transform",
        "Inconsistent progression sequence", "Invalid SOS parameters for sequential JPEG",
        "Application transferred too many scanlines",
    ]

    static func decodeJPEG(_ bytes: [UInt8], name: String) throws -> Image {
        guard let handle = tjInitDecompress() else {
            throw ImageError(
                name: name, kind: .corrupt,
                detail: "cannot start the JPEG decoder: " + String(cString: tjGetErrorStr2(nil)))
        }
        defer { tjDestroy(handle) }
        // TurboJPEG's error code is unreliable once a warning was issued (a later fatal error
        // still reports "warning"), so failures are told apart by message and by the file's structure.
        func failure(_ message: String) -> ImageError {
            if message.contains("Premature end") || jpegEndsEarly(bytes) {
                return ImageError(
                    name: name, kind: .truncated,
                    detail: "truncated JPEG: the data ends early (\(message)); \(bytes.count) bytes")
            }
            return ImageError(name: name, kind: .corrupt, detail: "corrupt JPEG: \(message)")
        }
        return try bytes.withUnsafeBufferPointer { buf -> Image in
            var width: Int32 = 0
            var height: Int32 = 0
            var subsampling: Int32 = 0
            var colorspace: Int32 = -1
            if tjDecompressHeader3(handle, buf.baseAddress, UInt(buf.count), &width, &height, &subsampling, &colorspace)
                != 0
            {
                throw failure(String(cString: tjGetErrorStr2(handle)))
            }
            // A stream with tables but no frame header "succeeds" and leaves the size untouched.
            if width == 0 || height == 0 { throw failure("no frame header (image size \(width)×\(height))") }
            try checkSize(Int(width), Int(height), name, "JPEG")
            let w = Int(width)
            let h = Int(height)
            let cmyk = colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue)
            let gray = colorspace == Int32(TJCS_GRAY.rawValue)
            let (pixelFormat, samples) = cmyk ? (TJPF_CMYK, 4) : gray ? (TJPF_GRAY, 1) : (TJPF_RGB, 3)
            var out = [UInt8](repeating: 0, count: w * h * samples)
            let rc = out.withUnsafeMutableBufferPointer { dst in
                tjDecompress2(
                    handle, buf.baseAddress, UInt(buf.count), dst.baseAddress, width, 0, height,
                    Int32(pixelFormat.rawValue), 0)
            }
            if rc != 0 {
                let message = String(cString: tjGetErrorStr2(handle))
                let benign =
                    tjGetErrorCode(handle) == Int32(TJERR_WARNING.rawValue)
                    && benignJPEGWarnings.contains { message.hasPrefix($0) } && !jpegEndsEarly(bytes)
                if !benign { throw failure(message) }
            }
            if cmyk { return Image(width: w, height: h, channels: 3, pixels: cmykToRGB(out, count: w * h)) }
            return Image(width: w, height: h, channels: samples, pixels: out)
        }
    }

    /// Whether a JPEG's marker structure runs past the end of the data before the EOI marker:
    /// segments are skipped by their lengths, entropy-coded data up to the next marker.
    /// False when the structure is complete or broken in a way that is not truncation.
    static func jpegEndsEarly(_ b: [UInt8]) -> Bool {
        let n = b.count
        var i = 2
        while true {
            guard i < n else { return true }
            guard b[i] == 0xFF else { return false }
            var j = i + 1
            while j < n && b[j] == 0xFF { j += 1 } // fill bytes
            guard j < n else { return true }
            let marker = b[j]
            if marker == 0xD9 { return false } // EOI: complete
            if marker == 0x01 || (0xD0...0xD7).contains(marker) {
                i = j + 1
                continue
            }
            guard marker >= 0xC0 else { return false }
            guard j + 2 < n else { return true }
            let length = Int(b[j + 1]) << 8 | Int(b[j + 2])
            guard length >= 2 else { return false }
            i = j + 1 + length
            if marker == 0xDA { // SOS: entropy-coded data up to the next non-RST marker
                while i + 1 < n
                    && !(b[i] == 0xFF && b[i + 1] != 0 && b[i + 1] != 0xFF && !(0xD0...0xD7).contains(b[i + 1]))
                {
                    i += 1
                }
                guard i + 1 < n else { return true }
            }
        }
    }

    /// PIL's CMYK → RGB for an Adobe (inverted) CMYK JPEG: R = C'·K'/255 rounded, where
    /// C', K' are the stored (inverted) samples libjpeg returns.
    static func cmykToRGB(_ cmyk: [UInt8], count n: Int) -> [UInt8] {
        var rgb = [UInt8](repeating: 0, count: n * 3)
        @inline(__always) func muldiv255(_ a: UInt8, _ b: UInt8) -> UInt8 {
            let t = Int(a) * Int(b) + 128
            return UInt8(truncatingIfNeeded: ((t >> 8) + t) >> 8)
        }
        for i in 0..<n {
            let k = cmyk[4 * i + 3]
            rgb[3 * i] = muldiv255(cmyk[4 * i], k)
            rgb[3 * i + 1] = muldiv255(cmyk[4 * i + 1], k)
            rgb[3 * i + 2] = muldiv255(cmyk[4 * i + 2], k)
        }
        return rgb
    }

    // MARK: PNG

    static func decodePNG(_ bytes: [UInt8], name: String) throws -> Image {
        var image = strata_png_image_init()
        func failure(_ what: String) -> ImageError {
            let message = String(cString: strata_png_image_message(&image))
            let truncated =
                message.contains("Not enough image data") || message.contains("read beyond end")
                || message.contains("end of data") || message.contains("unexpected end")
                || message.contains("Read Error")
            return ImageError(
                name: name, kind: truncated ? .truncated : .corrupt,
                detail: "\(truncated ? "truncated" : "corrupt") PNG (\(what)): \(message)")
        }
        return try bytes.withUnsafeBufferPointer { buf -> Image in
            guard png_image_begin_read_from_memory(&image, buf.baseAddress, buf.count) != 0 else {
                throw failure("header")
            }
            // `image.opaque` now holds libpng's state. finish_read releases it; freeing again is a no-op.
            defer { png_image_free(&image) }
            let w = Int(image.width)
            let h = Int(image.height)
            try checkSize(w, h, name, "PNG")
            let native = image.format
            let color = native & UInt32(PNG_FORMAT_FLAG_COLOR) != 0
            let alpha = native & UInt32(PNG_FORMAT_FLAG_ALPHA) != 0
            // 8 bits a sample in the file's own layout (palette expanded); alpha dropped below.
            image.format = (color ? UInt32(PNG_FORMAT_FLAG_COLOR) : 0) | (alpha ? UInt32(PNG_FORMAT_FLAG_ALPHA) : 0)
            // 16-bit samples without gamma information: take them as sRGB, like PIL, not linear.
            image.flags |= UInt32(PNG_IMAGE_FLAG_16BIT_sRGB)
            let samples = (color ? 3 : 1) + (alpha ? 1 : 0)
            var out = [UInt8](repeating: 0, count: w * h * samples)
            let ok = out.withUnsafeMutableBufferPointer { dst in
                png_image_finish_read(&image, nil, dst.baseAddress, 0, nil)
            }
            guard ok != 0 else { throw failure("data") }
            let channels = color ? 3 : 1
            if !alpha { return Image(width: w, height: h, channels: channels, pixels: out) }
            var stripped = [UInt8](repeating: 0, count: w * h * channels)
            for i in 0..<(w * h) {
                for c in 0..<channels { stripped[i * channels + c] = out[i * samples + c] }
            }
            return Image(width: w, height: h, channels: channels, pixels: stripped)
        }
    }

    // MARK: Files

    /// Reads a whole file, turning every failure into an ``ImageError`` (`unreadable`).
    static func readFile(_ path: String) throws -> [UInt8] {
        func fail(_ what: String, _ code: Int32) -> ImageError {
            ImageError(
                name: path, kind: .unreadable,
                detail: "cannot read the file: \(what): \(String(cString: strerror(code)))")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw fail("open", errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw fail("stat", errno) }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            throw ImageError(name: path, kind: .unreadable, detail: "cannot read the file: it is a directory")
        }
        let size = Int(st.st_size)
        guard size <= maxFileBytes else {
            throw ImageError(
                name: path, kind: .tooLarge, detail: "file of \(size) bytes is larger than the \(maxFileBytes) allowed")
        }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, size - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw fail("read", errno)
            }
            if n == 0 { break } // the file shrank while being read
            done += n
        }
        if done < size { bytes.removeLast(size - done) }
        return bytes
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
