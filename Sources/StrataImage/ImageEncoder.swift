import StrataTensor
import _CImage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Encodes ``Image``s as PNG (libpng's simplified API), in memory or to a file.
///
/// Gray images (1 channel) become 8-bit grayscale PNGs, RGB images (3 channels) 8-bit RGB PNGs,
/// without gamma or colour-profile chunks, so ``ImageDecoder`` reads back exactly the same pixels.
///
/// ```swift
/// try ImageEncoder.writePNG(image, to: "out.png")
/// let same = try ImageDecoder.decode(path: "out.png")   // == image
/// ```
public enum ImageEncoder {
    /// The PNG file of `image`, as bytes.
    ///
    /// - Throws: ``ImageError`` (kind `corrupt`) when libpng refuses the image (for example an empty
    ///   0 × 0 image, which PNG cannot represent).
    public static func pngBytes(_ image: Image) throws -> [UInt8] {
        try pngBytes(image, name: "PNG image")
    }

    /// Writes `image` as a PNG file at `path`, atomically: a reader sees either the previous file or
    /// the complete new one (a temporary file in the same directory, synced, then renamed).
    ///
    /// - Throws: ``ImageError`` naming `path` when the image cannot be encoded or the file cannot be written.
    public static func writePNG(_ image: Image, to path: String) throws {
        let bytes = try pngBytes(image, name: path)
        try writeAtomically(bytes, to: path)
    }

    static func pngBytes(_ image: Image, name: String) throws -> [UInt8] {
        guard image.width > 0, image.height > 0 else {
            throw ImageError(
                name: name, kind: .corrupt,
                detail: "cannot encode a \(image.width)×\(image.height) image as PNG (PNG needs at least 1×1 pixels)")
        }
        guard image.width < Int(Int32.max) / image.channels, image.height < Int(Int32.max) else {
            throw ImageError(
                name: name, kind: .tooLarge,
                detail: "cannot encode a \(image.width)×\(image.height) image as PNG (too large)")
        }
        var png = strata_png_image_init()
        png.width = UInt32(image.width)
        png.height = UInt32(image.height)
        png.format = image.channels == 3 ? UInt32(PNG_FORMAT_RGB) : UInt32(PNG_FORMAT_GRAY)
        func failure(_ what: String) -> ImageError {
            ImageError(
                name: name, kind: .corrupt,
                detail: "cannot encode PNG (\(what)): " + String(cString: strata_png_image_message(&png)))
        }
        let stride = Int32(image.width * image.channels)
        // First call sizes the output, the second fills it (libpng's documented two-pass use).
        var size: png_alloc_size_t = 0
        let sized = image.pixels.withUnsafeBytes { src in
            png_image_write_to_memory(&png, nil, &size, 0, src.baseAddress, stride, nil)
        }
        guard sized != 0, size > 0 else { throw failure("sizing") }
        var out = [UInt8](repeating: 0, count: Int(size))
        let ok = out.withUnsafeMutableBytes { dst in
            image.pixels.withUnsafeBytes { src in
                png_image_write_to_memory(&png, dst.baseAddress, &size, 0, src.baseAddress, stride, nil)
            }
        }
        guard ok != 0 else { throw failure("writing") }
        if Int(size) < out.count { out.removeLast(out.count - Int(size)) }
        return out
    }

    /// Temporary file beside `path` (same file system), written in full, fsynced, renamed over `path`.
    /// (StrataNN's `AtomicFile` does the same with more cases; StrataImage sits below StrataNN.)
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        func fail(_ what: String, _ code: Int32) -> ImageError {
            ImageError(
                name: path, kind: .unreadable,
                detail: "cannot write the PNG file: \(what): \(String(cString: strerror(code)))")
        }
        var st = stat()
        if stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
            throw ImageError(
                name: path, kind: .unreadable, detail: "cannot write the PNG file: the path is a directory")
        }
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { path[..<$0].isEmpty ? "/" : String(path[..<$0]) } ?? "."
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        var temp = ""
        var fd: Int32 = -1
        for _ in 0..<16 {
            temp = directory + "/." + base + ".tmp-\(getpid())-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
            fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else { throw fail("create a temporary file in \(directory)", errno) }
        var renamed = false
        defer {
            if fd >= 0 { _ = Platform.close(fd) }
            if !renamed { unlink(temp) }
        }
        try bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = Platform.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw fail("write", errno)
                }
                done += n
            }
        }
        guard fsync(fd) == 0 else { throw fail("fsync", errno) }
        let closed = Platform.close(fd)
        fd = -1
        guard closed == 0 else { throw fail("close", errno) }
        guard rename(temp, path) == 0 else { throw fail("rename over the target", errno) }
        renamed = true
    }
}
