#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file's contents do not follow its format (safetensors, `.npy`).
///
/// Every reader in Strata validates what it reads and throws this error instead of
/// trapping, so a truncated download or a corrupt checkpoint is reported, not a crash.
///
/// ```
/// model.safetensors: at byte 8: header length 4294967296 bytes; expected at most 1024 (the file size minus 8)
/// ```
public struct FileFormatError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file being read.
    public var path: String
    /// The byte offset in the file where the problem is, when there is one.
    public var offset: Int?
    /// What the reader found.
    public var found: String
    /// What the format requires instead.
    public var expected: String

    /// Creates an error for `path`; `offset` is the byte where the problem was found, if any.
    public init(path: String, offset: Int? = nil, found: String, expected: String) {
        self.path = path
        self.offset = offset
        self.found = found
        self.expected = expected
    }

    /// `path: at byte N: found; expected …`.
    public var description: String {
        let at = offset.map { "at byte \($0): " } ?? ""
        return "\(path): \(at)\(found); expected \(expected)"
    }
}

/// A system call on a file failed (open, write, fsync, rename, mmap…).
///
/// Carries the `errno` value and its text, e.g.
/// `/data/ckpt.safetensors: write (temporary file) failed: No space left on device (errno 28)`.
public struct FileSystemError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file the operation was for (the user-visible target, not a temporary name).
    public var path: String
    /// What Strata was doing, e.g. "open", "fsync", "rename over target".
    public var operation: String
    /// The `errno` value.
    public var code: Int32

    /// Creates an error for `path` from the `errno` value `code`.
    public init(path: String, operation: String, code: Int32) {
        self.path = path
        self.operation = operation
        self.code = code
    }

    /// The C library's text for ``code`` (`strerror`).
    public var message: String { String(cString: strerror(code)) }

    /// `path: operation failed: message (errno N)`.
    public var description: String { "\(path): \(operation) failed: \(message) (errno \(code))" }
}
