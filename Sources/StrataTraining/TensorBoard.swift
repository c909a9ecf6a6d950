import StrataNN
import StrataTensor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// CRC-32C (Castagnoli polynomial, reflected 0x82F63B78), as TFRecord files use it.
public enum CRC32C {
    static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    /// The CRC-32C of `bytes` (e.g. 0xE3069283 for the ASCII digits "123456789").
    public static func checksum<S: Sequence>(_ bytes: S) -> UInt32 where S.Element == UInt8 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    /// TFRecord's masked CRC: rotate right by 15 bits and add 0xa282ead8.
    public static func masked<S: Sequence>(_ bytes: S) -> UInt32 where S.Element == UInt8 {
        let crc = checksum(bytes)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }
}

/// TFRecord framing: uint64 length (little-endian), masked CRC-32C of those 8 bytes,
/// the data, masked CRC-32C of the data.
public enum TFRecord {
    public static func frame(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + 16)
        let length = littleEndianBytes(UInt64(data.count))
        out += length
        out += littleEndianBytes(CRC32C.masked(length))
        out += data
        out += littleEndianBytes(CRC32C.masked(data))
        return out
    }

    /// Splits framed records, checking every length and CRC; nil if the bytes are not valid records.
    public static func records(in bytes: [UInt8]) -> [[UInt8]]? {
        var out: [[UInt8]] = []
        var i = 0
        func u32(_ at: Int) -> UInt32 { (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * UInt32($1)) } }
        while i < bytes.count {
            guard i + 12 <= bytes.count else { return nil }
            let lengthBytes = Array(bytes[i..<i + 8])
            let n = (0..<8).reduce(UInt64(0)) { $0 | UInt64(lengthBytes[$1]) << (8 * UInt64($1)) }
            guard CRC32C.masked(lengthBytes) == u32(i + 8), n <= UInt64(bytes.count - i - 16) else { return nil }
            let start = i + 12
            let end = start + Int(n)
            let data = Array(bytes[start..<end])
            guard CRC32C.masked(data) == u32(end) else { return nil }
            out.append(data)
            i = end + 4
        }
        return out
    }

    static func littleEndianBytes<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
        (0..<(T.bitWidth / 8)).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) }
    }
}

/// Hand-encoded protocol buffers for TensorBoard's `Event` (tensorflow/core/util/event.proto):
/// `Event { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; SessionLog session_log = 6 }`,
/// `Summary { repeated Value value = 1 }`, `Value { string tag = 1; float simple_value = 2 }`,
/// `SessionLog { SessionStatus status = 1 }` (START = 1).
public enum TensorBoardEvent {
    static func varint(_ v: UInt64) -> [UInt8] {
        var v = v
        var out: [UInt8] = []
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
        return out
    }

    static func key(_ field: Int, _ wireType: Int) -> [UInt8] { varint(UInt64(field << 3 | wireType)) }

    static func lengthDelimited(_ field: Int, _ bytes: [UInt8]) -> [UInt8] {
        key(field, 2) + varint(UInt64(bytes.count)) + bytes
    }

    static func header(wallTime: Double, step: Int) -> [UInt8] {
        var out = key(1, 1) + TFRecord.littleEndianBytes(wallTime.bitPattern)
        if step != 0 { out += key(2, 0) + varint(UInt64(bitPattern: Int64(step))) }
        return out
    }

    /// The first event of every file: `file_version: "brain.Event:2"`.
    public static func fileVersion(wallTime: Double) -> [UInt8] {
        header(wallTime: wallTime, step: 0) + lengthDelimited(3, Array("brain.Event:2".utf8))
    }

    /// Scalars at `step`: one `Summary.Value` per (tag, value).
    public static func scalars(_ values: [(tag: String, value: Float)], step: Int, wallTime: Double) -> [UInt8] {
        var summary: [UInt8] = []
        for (tag, value) in values {
            let v = lengthDelimited(1, Array(tag.utf8)) + key(2, 5) + TFRecord.littleEndianBytes(value.bitPattern)
            summary += lengthDelimited(1, v)
        }
        return header(wallTime: wallTime, step: step) + lengthDelimited(5, summary)
    }

    /// Histograms at `step`: one `Summary.Value { tag = 1; HistogramProto histo = 5 }` per (tag,
    /// histogram), with `HistogramProto { double min = 1; max = 2; num = 3; sum = 4; sum_squares = 5;
    /// repeated double bucket_limit = 6 [packed]; repeated double bucket = 7 [packed] }`
    /// (tensorflow/core/framework/summary.proto, tsl/protobuf/histogram.proto).
    public static func histograms(
        _ values: [(tag: String, histogram: TensorBoardHistogram)], step: Int, wallTime: Double
    ) -> [UInt8] {
        var summary: [UInt8] = []
        for (tag, h) in values {
            func double(_ field: Int, _ v: Double) -> [UInt8] {
                key(field, 1) + TFRecord.littleEndianBytes(v.bitPattern)
            }
            func packed(_ field: Int, _ list: [Double]) -> [UInt8] {
                lengthDelimited(field, list.flatMap { TFRecord.littleEndianBytes($0.bitPattern) })
            }
            let histo =
                double(1, h.min) + double(2, h.max) + double(3, h.count) + double(4, h.sum) + double(5, h.sumSquares)
                + packed(6, h.bucketLimits) + packed(7, h.bucketCounts)
            summary += lengthDelimited(1, lengthDelimited(1, Array(tag.utf8)) + lengthDelimited(5, histo))
        }
        return header(wallTime: wallTime, step: step) + lengthDelimited(5, summary)
    }

    /// `SessionLog { status: START }` at `step`: TensorBoard discards events of earlier files at
    /// or after this step (what a resumed run writes, so re-done steps do not show twice).
    public static func sessionStart(step: Int, wallTime: Double) -> [UInt8] {
        header(wallTime: wallTime, step: step) + lengthDelimited(6, key(1, 0) + varint(1))
    }
}

/// Appends TensorBoard events to `events.out.tfevents.<seconds>.<host>` in a directory, so that
/// `tensorboard --logdir DIR` shows the scalars. Each event is written with one `write` call.
public final class TensorBoardWriter {
    public let path: String
    private var fd: Int32

    /// Creates a new event file in `directory`, writing the file-version event (and, when
    /// `resumingAt` is given, a session-start event at that step).
    public init(directory: String, resumingAt step: Int? = nil) throws {
        let now = wallClock()
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        let hostName = String(cString: host).isEmpty ? "localhost" : String(cString: host)
        var name = "events.out.tfevents.\(Int(now)).\(hostName)"
        var candidate = directory + "/" + name
        var suffix = 1
        while access(candidate, F_OK) == 0 {
            suffix += 1
            name = "events.out.tfevents.\(Int(now)).\(hostName).\(suffix)"
            candidate = directory + "/" + name
        }
        path = candidate
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o666)
        guard fd >= 0 else {
            throw FileSystemError(path: path, operation: "create TensorBoard event file", code: errno)
        }
        try write(TensorBoardEvent.fileVersion(wallTime: now))
        if let step { try write(TensorBoardEvent.sessionStart(step: step, wallTime: now)) }
    }

    deinit { if fd >= 0 { _ = systemClose(fd) } }

    /// Writes scalar values at `step`.
    public func add(_ values: [(tag: String, value: Double)], step: Int) throws {
        try write(TensorBoardEvent.scalars(values.map { ($0.tag, Float($0.value)) }, step: step, wallTime: wallClock()))
    }

    /// Writes histograms at `step` (TensorBoard's Histograms and Distributions tabs).
    public func addHistograms(_ values: [(tag: String, histogram: TensorBoardHistogram)], step: Int) throws {
        try write(TensorBoardEvent.histograms(values, step: step, wallTime: wallClock()))
    }

    private func write(_ event: [UInt8]) throws {
        try appendAll(fd: fd, bytes: TFRecord.frame(event), path: path)
    }

    public func close() {
        if fd >= 0 {
            _ = systemClose(fd)
            fd = -1
        }
    }
}

/// The summary of a set of values TensorBoard draws as a histogram: their range, count, sum and
/// sum of squares, and counts in buckets (bucket `i` holds values above `bucketLimits[i - 1]` up
/// to `bucketLimits[i]`).
public struct TensorBoardHistogram: Sendable, Equatable {
    public var min: Double, max: Double, count: Double, sum: Double, sumSquares: Double
    /// Right edges, ascending.
    public var bucketLimits: [Double]
    /// Values per bucket.
    public var bucketCounts: [Double]

    /// The histogram of `values` (non-finite ones left out) in `buckets` equal-width buckets
    /// between their minimum and maximum (one bucket when they are all equal).
    public init(_ values: some Sequence<Double>, buckets: Int = 30) {
        let finite = values.filter(\.isFinite)
        let lo = finite.min() ?? 0
        let hi = finite.max() ?? 0
        (min, max, count) = (lo, hi, Double(finite.count))
        sum = finite.reduce(0, +)
        sumSquares = finite.reduce(0) { $0 + $1 * $1 }
        let n = hi > lo ? Swift.max(1, buckets) : 1
        let width = (hi - lo) / Double(n)
        bucketLimits = (1...n).map { $0 == n ? hi : lo + width * Double($0) }
        bucketCounts = [Double](repeating: 0, count: n)
        for v in finite {
            let i = width > 0 ? Swift.min(n - 1, Int((v - lo) / width)) : 0
            bucketCounts[i] += 1
        }
    }

    /// The histogram of a tensor's elements.
    public init(_ tensor: Tensor, buckets: Int = 30) {
        switch tensor.dtype {
        case .float32: self.init(tensor.floats.lazy.map(Double.init), buckets: buckets)
        case .float64: self.init(tensor.doubles, buckets: buckets)
        default: self.init(tensor.doubles, buckets: buckets)
        }
    }
}

private let systemClose: (Int32) -> Int32 = { fd in Platform.close(fd) }

/// Writes all of `bytes` to `fd`, retrying short writes and EINTR.
func appendAll(fd: Int32, bytes: [UInt8], path: String) throws {
    try bytes.withUnsafeBytes { buf in
        guard var p = buf.baseAddress else { return }
        var left = buf.count
        while left > 0 {
            let n = Platform.write(fd, p, left)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileSystemError(path: path, operation: "write", code: errno)
            }
            p += n
            left -= n
        }
    }
}

/// Seconds since 1970 (wall clock).
public func wallClock() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
