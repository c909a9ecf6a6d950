import StrataTensor
import _CImage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension ImageDecoder {
    /// What a JPEG or PNG header says about the image, read without decoding any pixels.
    public struct Header: Equatable, Sendable, CustomStringConvertible {
        public var format: Format
        public var width: Int
        public var height: Int
        /// The channels ``ImageDecoder/decode(path:channels:)`` gives with `channels: nil`:
        /// 1 for grayscale files (with or without alpha), else 3.
        public var channels: Int

        public init(format: Format, width: Int, height: Int, channels: Int) {
            self.format = format
            self.width = width
            self.height = height
            self.channels = channels
        }

        /// `JPEG 640×480×3`.
        public var description: String { "\(format.rawValue) \(width)×\(height)×\(channels)" }
    }

    /// Reads only the header of the JPEG or PNG file at `path`: its format, size and channels.
    ///
    /// Cheap (a few kilobytes are read, nothing is decoded), so a dataset can learn the size of
    /// every image, and reject unreadable files, without decoding them:
    /// - JPEG: the marker segments are followed up to the first scan (SOS), reading more of the
    ///   file only as far as they reach (large EXIF or ICC segments), then libjpeg-turbo reads
    ///   that header (`tjDecompressHeader3`), as ``decode(path:channels:)`` does first.
    /// - PNG: the signature and the IHDR chunk (length, type, CRC, size, a valid bit depth and
    ///   color type, compression, filter and interlace methods).
    ///
    /// A file that passes can still fail to decode (damaged image data further on); one that
    /// fails here fails ``decode(path:channels:)`` too. Errors are the ``ImageError``s
    /// ``decode(path:channels:)`` throws, naming the file.
    public static func header(path: String) throws -> Header {
        let file = try HeaderReader(path: path)
        defer { file.close() }
        return try header(file, name: path)
    }

    /// The size of the JPEG or PNG file at `path` from its header (see ``header(path:)``).
    public static func dimensions(path: String) throws -> (width: Int, height: Int) {
        let h = try header(path: path)
        return (h.width, h.height)
    }

    /// ``header(path:)`` for a file held in memory; `name` is used in error messages.
    public static func header(bytes: [UInt8], name: String) throws -> Header {
        try header(HeaderReader(bytes: bytes), name: name)
    }

    static func header(_ file: HeaderReader, name: String) throws -> Header {
        guard file.size > 0 else { throw ImageError(name: name, kind: .empty, detail: "empty file (0 bytes)") }
        try file.ensure(Swift.min(file.size, 33))
        switch format(of: file.bytes) {
        case .png?: return try pngHeader(file, name: name)
        case .jpeg?: return try jpegHeader(file, name: name)
        case nil:
            let head = file.bytes.prefix(8).map { String($0, radix: 16).leftPadded(2) }.joined(separator: " ")
            try file.ensure(Swift.min(file.size, 64))
            let hint = otherFormat(file.bytes).map { "it looks like \($0)" } ?? "it starts with \(head)"
            throw ImageError(
                name: name, kind: .unsupportedFormat,
                detail: "not a JPEG or PNG image (\(hint)); \(file.size) bytes")
        }
    }

    // MARK: PNG

    static func pngHeader(_ file: HeaderReader, name: String) throws -> Header {
        let b = file.bytes
        func corrupt(_ what: String) -> ImageError {
            ImageError(name: name, kind: .corrupt, detail: "corrupt PNG header: \(what)")
        }
        guard b.count >= 33 else {
            throw ImageError(
                name: name, kind: .truncated,
                detail:
                    "truncated PNG: the file ends at byte \(b.count), inside its header (33 bytes: signature and IHDR chunk)"
            )
        }
        func be32(_ i: Int) -> UInt32 {
            UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
        }
        guard Array(b[12..<16]) == Array("IHDR".utf8) else {
            let type = String(
                decoding: b[12..<16].map { (0x20...0x7E).contains($0) ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
            throw corrupt("the first chunk is '\(type)', not IHDR")
        }
        guard be32(8) == 13 else { throw corrupt("IHDR chunk of \(be32(8)) bytes, not 13") }
        let stored = be32(29)
        let computed = pngCRC(b[12..<29])
        guard stored == computed else {
            throw corrupt(
                "IHDR CRC mismatch (stored \(String(stored, radix: 16)), computed \(String(computed, radix: 16)))")
        }
        let width = be32(16)
        let height = be32(20)
        guard width > 0, height > 0, width <= 0x7FFF_FFFF, height <= 0x7FFF_FFFF else {
            throw corrupt("image size \(width)×\(height)")
        }
        let depth = b[24]
        let colorType = b[25]
        let depths: [UInt8]
        switch colorType {
        case 0: depths = [1, 2, 4, 8, 16] // gray
        case 3: depths = [1, 2, 4, 8] // palette
        case 2, 4, 6: depths = [8, 16] // RGB, gray + alpha, RGBA
        default: throw corrupt("color type \(colorType)")
        }
        guard depths.contains(depth) else { throw corrupt("bit depth \(depth) for color type \(colorType)") }
        guard b[26] == 0 else { throw corrupt("compression method \(b[26])") }
        guard b[27] == 0 else { throw corrupt("filter method \(b[27])") }
        guard b[28] <= 1 else { throw corrupt("interlace method \(b[28])") }
        try checkSize(Int(width), Int(height), name, "PNG")
        return Header(
            format: .png, width: Int(width), height: Int(height), channels: colorType == 0 || colorType == 4 ? 1 : 3)
    }

    static let crcTable: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// The CRC-32 PNG chunks carry (over the chunk type and data).
    static func pngCRC(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for v in bytes { crc = crcTable[Int((crc ^ UInt32(v)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    // MARK: JPEG

    static func jpegHeader(_ file: HeaderReader, name: String) throws -> Header {
        // Follow the marker segments to the end of the first SOS header (what libjpeg's
        // jpeg_read_header consumes), reading more of the file only when a segment needs it.
        var i = 2
        var complete = false // reached the end of the first SOS header, or an EOI marker
        scan: while true {
            // Like libjpeg's next_marker: skip stray bytes, then fill bytes, to a marker.
            while true {
                try file.ensure(i + 2)
                guard i + 1 < file.bytes.count else { break scan }
                if file.bytes[i] == 0xFF && file.bytes[i + 1] != 0xFF && file.bytes[i + 1] != 0 { break }
                i += 1
            }
            let marker = file.bytes[i + 1]
            if marker == 0xD9 {
                complete = true
                break
            } // EOI before any scan: libjpeg says what is wrong
            if marker == 0x01 || (0xD0...0xD8).contains(marker) {
                i += 2
                continue
            }
            try file.ensure(i + 4)
            guard i + 3 < file.bytes.count else { break }
            let end = i + 2 + (Int(file.bytes[i + 2]) << 8 | Int(file.bytes[i + 3]))
            try file.ensure(end)
            guard end <= file.bytes.count else { break }
            if marker == 0xDA {
                complete = true
                break
            }
            i = end
        }
        if !complete {
            throw ImageError(
                name: name, kind: .truncated,
                detail:
                    "truncated JPEG: the file ends at byte \(file.bytes.count), inside its header (before the image data)"
            )
        }
        guard let handle = tjInitDecompress() else {
            throw ImageError(
                name: name, kind: .corrupt,
                detail: "cannot start the JPEG decoder: " + String(cString: tjGetErrorStr2(nil)))
        }
        defer { tjDestroy(handle) }
        var width: Int32 = 0
        var height: Int32 = 0
        var subsampling: Int32 = 0
        var colorspace: Int32 = -1
        let rc = file.bytes.withUnsafeBufferPointer { buf in
            tjDecompressHeader3(handle, buf.baseAddress, UInt(buf.count), &width, &height, &subsampling, &colorspace)
        }
        if rc != 0 {
            let message = String(cString: tjGetErrorStr2(handle))
            let truncated = message.contains("Premature end")
            throw ImageError(
                name: name, kind: truncated ? .truncated : .corrupt,
                detail: "\(truncated ? "truncated" : "corrupt") JPEG: \(message)")
        }
        if width == 0 || height == 0 {
            throw ImageError(
                name: name, kind: .corrupt, detail: "corrupt JPEG: no frame header (image size \(width)×\(height))")
        }
        try checkSize(Int(width), Int(height), name, "JPEG")
        return Header(
            format: .jpeg, width: Int(width), height: Int(height),
            channels: colorspace == Int32(TJCS_GRAY.rawValue) ? 1 : 3)
    }
}

/// The first bytes of a file (or of bytes in memory), read in growing chunks.
final class HeaderReader {
    /// The bytes read so far (a prefix of the file).
    private(set) var bytes: [UInt8]
    /// The file's size.
    let size: Int
    private var fd: Int32 = -1
    private let path: String

    /// Reads at least this much at a time.
    static let chunk = 8192

    init(bytes: [UInt8]) {
        self.bytes = bytes
        size = bytes.count
        path = ""
    }

    init(path: String) throws {
        self.path = path
        func fail(_ what: String, _ code: Int32) -> ImageError {
            ImageError(
                name: path, kind: .unreadable,
                detail: "cannot read the file: \(what): \(String(cString: strerror(code)))")
        }
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw fail("open", errno) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let code = errno
            _ = Glibc_close(fd)
            throw fail("stat", code)
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            _ = Glibc_close(fd)
            throw ImageError(name: path, kind: .unreadable, detail: "cannot read the file: it is a directory")
        }
        size = Int(st.st_size)
        guard size <= ImageDecoder.maxFileBytes else {
            _ = Glibc_close(fd)
            throw ImageError(
                name: path, kind: .tooLarge,
                detail: "file of \(size) bytes is larger than the \(ImageDecoder.maxFileBytes) allowed")
        }
        bytes = []
    }

    /// Makes at least the first `count` bytes available (fewer when the file is shorter).
    func ensure(_ count: Int) throws {
        guard fd >= 0, bytes.count < count, bytes.count < size else { return }
        let target = Swift.min(size, Swift.max(count, bytes.count + HeaderReader.chunk))
        var buffer = [UInt8](repeating: 0, count: target - bytes.count)
        var done = 0
        while done < buffer.count {
            let n = buffer.withUnsafeMutableBytes {
                pread(fd, $0.baseAddress! + done, $0.count - done, off_t(bytes.count + done))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw ImageError(
                    name: path, kind: .unreadable,
                    detail: "cannot read the file: read: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break } // the file shrank
            done += n
        }
        bytes += buffer[0..<done]
    }

    func close() {
        if fd >= 0 {
            _ = Glibc_close(fd)
            fd = -1
        }
    }

    deinit { close() }
}

@inline(__always) private func Glibc_close(_ fd: Int32) -> Int32 { Platform.close(fd) }
