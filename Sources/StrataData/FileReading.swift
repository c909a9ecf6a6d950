import StrataNN
import StrataTensor
import _CZlib

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Small file helpers for the dataset readers. Every size used to allocate comes from the
/// file system (`fstat`) or from bytes actually produced by the decompressor, never from a
/// header inside the file.
enum DataFiles {
    /// Whether `path` names an existing regular file (following links).
    static func isFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    /// Whether `path` names an existing directory (following links).
    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// `directory/name`, without doubling a trailing slash.
    static func join(_ directory: String, _ name: String) -> String {
        if directory.isEmpty { return name }
        return directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// The whole file's bytes.
    static func read(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileSystemError(path: path, operation: "open", code: errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FileSystemError(path: path, operation: "fstat", code: errno) }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw FileFormatError(path: path, found: "not a regular file", expected: "a regular file")
        }
        let size = Int(st.st_size)
        var failure: Error?
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            var done = 0
            while done < size {
                let n = Glibc_read(fd, buffer.baseAddress! + done, size - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = FileSystemError(path: path, operation: "read", code: errno)
                    break
                }
                if n == 0 {
                    failure = FileFormatError(
                        path: path, offset: done, found: "end of file (the file shrank while being read)",
                        expected: "\(size) bytes")
                    break
                }
                done += n
            }
            initialized = done
        }
        if let failure { throw failure }
        return bytes
    }

    /// The file's bytes, decompressed when they are gzip (magic 1f 8b). A file whose name
    /// ends in `.gz` must be gzip.
    /// `expectedSize`, given the decompressed bytes so far, says how many the whole file may have
    /// (nil: not known yet); decompression stops with an error as soon as the output passes it, so
    /// a small gzip "bomb" never costs more memory than the header it claims.
    static func readMaybeGzipped(_ path: String, expectedSize: (([UInt8]) -> Int?)? = nil) throws -> (
        bytes: [UInt8], wasCompressed: Bool
    ) {
        let raw = try read(path)
        let isGzip = raw.count >= 2 && raw[0] == 0x1F && raw[1] == 0x8B
        if isGzip { return (try gunzip(raw, path: path, expectedSize: expectedSize), true) }
        if path.hasSuffix(".gz") {
            let found =
                raw.count < 2
                ? "a file of \(raw.count) byte\(raw.count == 1 ? "" : "s")"
                : "first bytes \(hex(raw[0])) \(hex(raw[1]))"
            throw FileFormatError(path: path, offset: 0, found: found, expected: "the gzip magic bytes 1f 8b")
        }
        return (raw, false)
    }

    static func hex(_ b: UInt8) -> String {
        let s = String(b, radix: 16)
        return s.count == 1 ? "0" + s : s
    }

    /// Decompresses one or more concatenated gzip members. Corrupt or truncated streams
    /// throw ``FileFormatError`` with the offset (in the compressed file) where zlib stopped.
    static func gunzip(_ input: [UInt8], path: String, expectedSize: (([UInt8]) -> Int?)? = nil) throws -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(Swift.min(input.count * 4, 1 << 28))
        let chunk = 1 << 20
        var scratch = [UInt8](repeating: 0, count: chunk)
        var memberStart = 0
        try input.withUnsafeBufferPointer { inBuf in
            try scratch.withUnsafeMutableBufferPointer { outBuf in
                while memberStart < input.count {
                    var stream = z_stream()
                    // 15 + 16: a gzip wrapper (header and CRC-32/size trailer checked).
                    guard inflateInit2_(&stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK
                    else {
                        throw FileFormatError(
                            path: path, offset: memberStart, found: "zlib failed to initialise",
                            expected: "a gzip stream")
                    }
                    defer { inflateEnd(&stream) }
                    stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress! + memberStart)
                    stream.avail_in = UInt32(Swift.min(input.count - memberStart, Int(UInt32.max)))
                    var fed = Int(stream.avail_in)
                    while true {
                        if stream.avail_in == 0 && memberStart + fed < input.count {
                            let more = Swift.min(input.count - memberStart - fed, Int(UInt32.max))
                            stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress! + memberStart + fed)
                            stream.avail_in = UInt32(more)
                            fed += more
                        }
                        stream.next_out = outBuf.baseAddress
                        stream.avail_out = UInt32(chunk)
                        let rc = inflate(&stream, Z_NO_FLUSH)
                        let produced = chunk - Int(stream.avail_out)
                        if produced > 0 { output.append(contentsOf: outBuf[0..<produced]) }
                        if produced > 0, let expectedSize, let allowed = expectedSize(output), output.count > allowed {
                            throw FileFormatError(
                                path: path, offset: memberStart + Int(stream.total_in),
                                found: "more than \(allowed) decompressed bytes (stopped at \(output.count))",
                                expected: "the \(allowed) bytes its header describes")
                        }
                        let consumed = memberStart + Int(stream.total_in)
                        if rc == Z_STREAM_END {
                            memberStart = consumed
                            break
                        }
                        if rc == Z_OK { continue }
                        if rc == Z_BUF_ERROR && stream.avail_in == 0 && consumed >= input.count {
                            throw FileFormatError(
                                path: path, offset: input.count,
                                found:
                                    "the gzip stream ends early (truncated file, \(output.count) bytes decompressed so far)",
                                expected: "the rest of the compressed data and the 8-byte gzip trailer")
                        }
                        let message = stream.msg.map { String(cString: $0) } ?? "zlib error \(rc)"
                        throw FileFormatError(
                            path: path, offset: consumed, found: "corrupt gzip data (\(message))",
                            expected: "a valid gzip stream")
                    }
                    // Another member may follow; anything else must be zero padding.
                    if memberStart < input.count {
                        if input.count - memberStart >= 2 && input[memberStart] == 0x1F
                            && input[memberStart + 1] == 0x8B
                        {
                            continue
                        }
                        if input[memberStart...].allSatisfy({ $0 == 0 }) { break }
                        throw FileFormatError(
                            path: path, offset: memberStart,
                            found: "\(input.count - memberStart) bytes of trailing data after the gzip stream",
                            expected: "end of file or another gzip member")
                    }
                }
            }
        }
        return output
    }
}

@inline(__always) private func Glibc_read(_ fd: Int32, _ p: UnsafeMutablePointer<UInt8>, _ n: Int) -> Int {
    Platform.read(fd, p, n)
}
