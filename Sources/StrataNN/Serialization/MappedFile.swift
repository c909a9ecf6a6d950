#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A whole file mapped read-only into memory; unmapped when the last reference goes.
///
/// Readers take slices of ``bytes`` after checking offsets against ``count``, so nothing
/// is read or allocated based on a size that has not been checked against the file.
/// (As with any mapping, a file truncated by another process *while* mapped can still
/// raise SIGBUS; files Strata writes are replaced by rename, never truncated.)
final class MappedFile {
    let path: String
    /// The file's bytes (empty, with no mapping, for an empty file: mmap rejects length 0).
    let bytes: UnsafeRawBufferPointer

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileSystemError(path: path, operation: "open", code: errno) }
        defer { close(fd) } // the mapping outlives the descriptor
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FileSystemError(path: path, operation: "fstat", code: errno) }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw FileFormatError(path: path, found: "not a regular file", expected: "a regular file")
        }
        let size = Int(st.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw FileSystemError(path: path, operation: "mmap", code: errno) }
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    var count: Int { bytes.count }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }

    /// Little-endian unsigned integer of `width` bytes at `offset` (caller checked bounds).
    func littleEndian(at offset: Int, width: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in stride(from: width - 1, through: 0, by: -1) { v = v << 8 | UInt64(bytes[offset + i]) }
        return v
    }
}
