import Foundation
import StrataTensor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes files so that readers see either the old contents or the complete new
/// contents, never a partial file, even if the process or machine dies mid-write.
///
/// The sequence is the usual one for crash-safe replacement on POSIX:
///
/// 1. create `.<name>.tmp-<pid>-<random>` in the target's directory (same file system,
///    so the rename below is atomic), with `O_EXCL` so nothing else is clobbered;
/// 2. write everything, retrying short writes and `EINTR`;
/// 3. `fsync` the temporary file (its data is on disk before it gets the name);
/// 4. `rename` it over the target (atomic replacement);
/// 5. `fsync` the directory (the rename itself is on disk).
///
/// If any step before the rename fails (`ENOSPC`, `EACCES`, a throwing `body`…), the
/// temporary file is removed, the previous file at `path` is left untouched, and a
/// ``FileSystemError`` naming `path` and the `errno` text is thrown (or `body`'s own
/// error is rethrown). Every file Strata writes goes through this type.
///
/// The new file gets mode `0666` minus the umask, like `fopen`. What is at `path` decides the rest:
///
/// - nothing or a regular file: the sequence above;
/// - a symbolic link: followed (through every link) and the file it names is replaced as above,
///   so the link stays a link (as `cp` and editors do);
/// - a character device, FIFO or socket (`/dev/null`, `/dev/stdout`, a named pipe): written in place,
///   never replaced by a regular file (replacing `/dev/null` as root would break the system);
///   write errors such as `ENOSPC` from `/dev/full` are thrown;
/// - a directory or a block device: an error naming `path`.
///
/// Temporary files left by a writer that was killed (`.<name>.tmp-<pid>-…` whose process no longer
/// exists) are removed the next time that file is written.
public enum AtomicFile {
    /// Writes `bytes` to `path`, atomically replacing any existing file.
    public static func write(_ bytes: UnsafeRawBufferPointer, to path: String) throws {
        try write(to: path) { try $0.write(bytes) }
    }

    /// Writes `bytes` to `path`, atomically replacing any existing file.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        try bytes.withUnsafeBytes { try write($0, to: path) }
    }

    /// Streams a file's contents through `body`, then atomically puts it at `path`.
    ///
    /// Use this to write large files piece by piece (e.g. a header, then each
    /// tensor's storage) without first assembling them in memory.
    public static func write(to requestedPath: String, _ body: (inout Writer) throws -> Void) throws {
        let path: String
        switch try Target(requestedPath) {
        case .replaceable(let resolved): path = resolved
        case .inPlace: return try writeInPlace(requestedPath, body)
        }
        let (directory, name) = split(path)
        removeStaleTemporaries(of: name, in: directory)
        var fd: Int32 = -1
        var tempPath = ""
        // A random name; O_EXCL makes a collision an error (EEXIST) rather than an overwrite.
        for _ in 0..<16 {
            tempPath =
                directory + "/." + name + ".tmp-\(getpid())-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
            fd = open(tempPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else {
            throw FileSystemError(path: path, operation: "create temporary file in \(directory)", code: errno)
        }

        var renamed = false
        defer {
            if fd >= 0 { close(fd) }
            if !renamed { unlink(tempPath) }
        }
        var writer = Writer(fd: fd, path: path)
        try body(&writer)
        guard fsync(fd) == 0 else {
            throw FileSystemError(path: path, operation: "fsync (temporary file)", code: errno)
        }
        // close can report a deferred write error (e.g. on NFS); the fd is gone either way.
        let closed = close(fd)
        fd = -1
        guard closed == 0 else { throw FileSystemError(path: path, operation: "close (temporary file)", code: errno) }
        guard rename(tempPath, path) == 0 else {
            throw FileSystemError(path: path, operation: "rename over target", code: errno)
        }
        renamed = true
        try syncDirectory(directory, for: path)
    }

    /// What a write to a path does, from what is there now.
    enum Target: Equatable {
        /// Write a temporary file and rename it to this path (the requested one, or the end of its symlinks).
        case replaceable(String)
        /// A device, FIFO or socket: open it and write.
        case inPlace

        init(_ path: String) throws {
            var resolved = path
            for _ in 0..<40 { // Linux's own limit on links followed (ELOOP)
                var st = stat()
                guard lstat(resolved, &st) == 0 else {
                    if errno == ENOENT {
                        self = .replaceable(resolved)
                        return
                    }
                    throw FileSystemError(path: path, operation: "inspect target", code: errno)
                }
                switch st.st_mode & S_IFMT {
                case S_IFREG:
                    self = .replaceable(resolved)
                    return
                case S_IFLNK: resolved = try Self.readLink(resolved, for: path)
                case S_IFCHR, S_IFIFO, S_IFSOCK:
                    self = .inPlace
                    return
                case S_IFDIR:
                    throw FileSystemError(path: path, operation: "write (the path is a directory)", code: EISDIR)
                default:
                    throw FileSystemError(
                        path: path, operation: "write (the path is a block device or special file)", code: EINVAL)
                }
            }
            throw FileSystemError(path: path, operation: "follow symbolic links", code: ELOOP)
        }

        /// The path a symbolic link names, relative to the link's directory when not absolute.
        private static func readLink(_ link: String, for path: String) throws -> String {
            var buffer = [CChar](repeating: 0, count: 4097)
            let n = readlink(link, &buffer, 4096)
            guard n >= 0 else {
                throw FileSystemError(path: path, operation: "read symbolic link \(link)", code: errno)
            }
            let target = String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return target.hasPrefix("/") ? target : AtomicFile.split(link).directory + "/" + target
        }
    }

    /// Writes straight into a device, FIFO or socket (no temporary file, no rename).
    private static func writeInPlace(_ path: String, _ body: (inout Writer) throws -> Void) throws {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileSystemError(path: path, operation: "open for writing", code: errno) }
        defer { close(fd) }
        var writer = Writer(fd: fd, path: path)
        try body(&writer)
    }

    /// Removes `.<name>.tmp-<pid>-*` files in `directory` whose writing process is gone (killed
    /// mid-write); those of live processes (another writer now) stay.
    static func removeStaleTemporaries(of name: String, in directory: String) {
        let prefix = "." + name + ".tmp-"
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for entry in entries where entry.hasPrefix(prefix) {
            let rest = entry.dropFirst(prefix.count)
            guard let dash = rest.firstIndex(of: "-"), let pid = Int32(rest[..<dash]), pid > 0 else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { unlink(directory + "/" + entry) }
        }
    }

    /// Appends bytes to the temporary file of an ``AtomicFile/write(to:_:)`` call.
    public struct Writer {
        let fd: Int32
        let path: String
        /// Bytes written so far.
        public private(set) var byteCount = 0

        /// Writes all of `bytes`, retrying short writes and interrupted calls.
        public mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
            guard var p = bytes.baseAddress else { return }
            var left = bytes.count
            while left > 0 {
                let n = AtomicFile.systemWrite(fd, p, left)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw FileSystemError(path: path, operation: "write (temporary file)", code: errno)
                }
                p += n
                left -= n
                byteCount += n
            }
        }

        /// Writes `bytes`.
        public mutating func write(_ bytes: [UInt8]) throws {
            try bytes.withUnsafeBytes { try write($0) }
        }

        /// Writes `count` copies of `byte` (padding).
        public mutating func write(repeating byte: UInt8, count: Int) throws {
            guard count > 0 else { return }
            try write([UInt8](repeating: byte, count: count))
        }
    }

    private static let systemWrite = Platform.write

    /// Directory and last component of `path` ("." for a bare name).
    static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let dir = String(path[..<slash])
        return (dir.isEmpty ? "/" : dir, String(path[path.index(after: slash)...]))
    }

    /// Makes the rename durable. File systems that cannot fsync a directory say EINVAL;
    /// that is not a failure of the write.
    private static func syncDirectory(_ directory: String, for path: String) throws {
        let dfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dfd >= 0 else { throw FileSystemError(path: path, operation: "open directory for fsync", code: errno) }
        defer { close(dfd) }
        if fsync(dfd) != 0 && errno != EINVAL {
            throw FileSystemError(path: path, operation: "fsync directory", code: errno)
        }
    }
}
