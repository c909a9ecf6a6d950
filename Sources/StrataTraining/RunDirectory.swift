import Foundation
import StrataNN
import StrataTensor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The folder a training run writes: checkpoints (`last.safetensors` + `last.json`,
/// `best.safetensors` + `best.json`), `metrics.jsonl` (one JSON object per epoch, and every N
/// steps), TensorBoard event files and `report.html`. Every file except the append-only logs is
/// replaced atomically (`AtomicFile`: temporary file, fsync, rename).
public final class RunDirectory {
    public let path: String

    /// How safetensors files are written (default `SafeTensors.write(_:metadata:to:)`, atomic).
    /// Tests replace it to simulate a full disk.
    public var writeSafeTensors: ([String: Tensor], [String: String], String) throws -> Void = {
        tensors, metadata, path in
        try SafeTensors.write(tensors, metadata: metadata, to: path)
    }
    /// How whole small files (JSON, the report) are written (default `AtomicFile`).
    public var writeFile: ([UInt8], String) throws -> Void = { bytes, path in try AtomicFile.write(bytes, to: path) }

    /// Opens (creating, with parents) the run directory at `path`.
    public init(_ path: String) throws {
        precondition(!path.isEmpty, "RunDirectory: empty path")
        self.path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        try makeDirectories(self.path)
    }

    public var lastCheckpointPath: String { path + "/" + Checkpoint.lastName }
    public var lastStatePath: String { path + "/last.json" }
    public var bestCheckpointPath: String { path + "/" + Checkpoint.bestName }
    public var bestStatePath: String { path + "/best.json" }
    public var metricsPath: String { path + "/metrics.jsonl" }
    public var reportPath: String { path + "/report.html" }

    /// Whether the directory already holds a training checkpoint.
    public var hasCheckpoint: Bool { access(lastCheckpointPath, F_OK) == 0 }

    /// The event files TensorBoard reads, oldest first.
    public var eventFiles: [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var out: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(cString: $0.bindMemory(to: CChar.self).baseAddress!)
            }
            if name.hasPrefix("events.out.tfevents.") { out.append(path + "/" + name) }
        }
        return out.sorted()
    }

    /// Appends one line to `metrics.jsonl`.
    func appendMetrics(_ record: JSON) throws {
        let fd = open(metricsPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o666)
        guard fd >= 0 else { throw FileSystemError(path: metricsPath, operation: "open for appending", code: errno) }
        defer { close(fd) }
        try appendAll(fd: fd, bytes: Array((record.serialized() + "\n").utf8), path: metricsPath)
    }

    /// On resume: drops metric lines written after the checkpoint (steps beyond `step`, or an
    /// epoch beyond `epoch`), so the file reads as one continuous run.
    func truncateMetrics(step: Int, epoch: Int) throws {
        guard let text = readTextFile(metricsPath) else { return }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        let kept = lines.filter { line in
            guard let j = try? JSON.parse(String(line)) else { return false }
            if let s = j["step"]?.intValue, s > step { return false }
            if j["type"]?.stringValue == "epoch", let e = j["epoch"]?.intValue, e > epoch { return false }
            return true
        }
        if kept.count != lines.count {
            try writeFile(Array(kept.map { $0 + "\n" }.joined().utf8), metricsPath)
        }
    }

    /// The records of `metrics.jsonl` (for tests and tools).
    public func metricRecords() throws -> [[String: String]] {
        guard let text = readTextFile(metricsPath) else { return [] }
        return try text.split(separator: "\n").map { line in
            guard case .object(let items) = try JSON.parse(String(line)) else { return [:] }
            var out: [String: String] = [:]
            for (k, v) in items { out[k] = v.stringValue ?? v.serialized() }
            return out
        }
    }
}

/// An exclusive lock on a run directory, held for the life of this object (and released by the
/// kernel if the process dies): one writer per run. `flock` on `DIR/.strata.lock`, which holds the
/// holder's PID so that a second writer can say who has it.
public final class RunLock {
    public let directory: String
    private let fd: Int32

    /// The lock file's name inside the run directory.
    public static let fileName = ".strata.lock"

    /// Takes the lock, creating the directory if needed; throws ``RunLockedError`` naming the
    /// holder's PID when another process (or another `RunLock` in this one) has it.
    public init(directory: String) throws {
        try makeDirectories(directory)
        let path = directory + "/" + Self.fileName
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileSystemError(path: path, operation: "open lock file", code: errno) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            let holder = readTextFile(path).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            close(fd)
            if code == EWOULDBLOCK { throw RunLockedError(directory: directory, holder: holder) }
            throw FileSystemError(path: path, operation: "lock", code: code)
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        self.directory = directory
        self.fd = fd
    }

    deinit { close(fd) } // releases the lock
}

/// Another process is writing the run directory.
public struct RunLockedError: Error, CustomStringConvertible {
    public let directory: String
    /// The PID written by the holder (nil if it could not be read).
    public let holder: Int32?
    public var description: String {
        "\(directory) is in use by another strata process\(holder.map { " (PID \($0))" } ?? ""): "
            + "wait for it to finish, stop it, or choose another --out"
    }
}

/// mkdir -p.
func makeDirectories(_ path: String) throws {
    var prefix = path.hasPrefix("/") ? "/" : ""
    for part in path.split(separator: "/") {
        prefix += part
        if mkdir(prefix, 0o777) != 0 && errno != EEXIST {
            throw FileSystemError(path: prefix, operation: "create directory", code: errno)
        }
        prefix += "/"
    }
    guard isDirectory(path) else { throw FileSystemError(path: path, operation: "create directory", code: ENOTDIR) }
}

/// The whole file as UTF-8 text, or nil if it cannot be read.
func readTextFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            return nil
        }
        if n == 0 { break }
        bytes += chunk[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}
