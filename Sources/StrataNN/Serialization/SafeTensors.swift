import StrataTensor

// File layout (https://github.com/huggingface/safetensors):
//
//   bytes 0..<8        N, the header length, UInt64 little-endian
//   bytes 8..<8+N      UTF-8 JSON object, padded with trailing spaces:
//                        {"__metadata__": {"key": "value", ...},        (optional, strings only)
//                         "name": {"dtype": "F32", "shape": [2, 3],
//                                  "data_offsets": [begin, end]}, ...}
//   bytes 8+N..<EOF    the byte buffer; each tensor occupies [begin, end) relative to
//                      its start, row-major, little-endian. The tensors tile the buffer
//                      exactly: no overlaps, no holes.

/// A safetensors file opened for reading.
///
/// The file is memory-mapped and its header fully validated by ``init(path:)``; tensors
/// are copied (and converted) out of the mapping only when asked for, so opening a large
/// checkpoint to read a few tensors is cheap. The mapping is released when the object is.
///
/// Stored dtypes F32, F64, F16, BF16, F8_E5M2, F8_E4M3, I64, I32, I16, I8, U64, U32, U16,
/// U8 and BOOL are read and converted to a Float32 or Float64 tensor.
///
/// ```swift
/// let file = try SafeTensorsFile(path: "resnet18.safetensors")
/// print(file.metadata["format"] ?? "-", file.names.count)
/// let w = try file.tensor("conv1.weight")          // Float32, shape [64, 3, 7, 7]
/// ```
///
/// Instances are immutable and the mapping is read-only, so one file can be read from
/// several threads at once.
public final class SafeTensorsFile: @unchecked Sendable {
    /// The path the file was opened from.
    public let path: String
    /// The `__metadata__` string map (empty when the file has none).
    public let metadata: [String: String]
    /// The tensor names, sorted.
    public let names: [String]

    private struct Entry {
        var dtypeName: String
        var type: StoredElement
        var shape: [Int]
        var count: Int
        /// Absolute file offsets.
        var begin: Int, end: Int
    }

    private let file: MappedFile
    private let entries: [String: Entry]

    /// Largest header accepted, as in the reference implementation: a bigger one is
    /// a corrupt length field, not a real header.
    public static let maxHeaderLength = 100_000_000

    /// Maps the file and validates its header: lengths, JSON syntax and field types, dtypes,
    /// shapes and that the tensors' byte ranges exactly tile the data buffer.
    ///
    /// - Throws: ``FileFormatError`` for malformed content, ``FileSystemError`` if the file
    ///   cannot be opened or mapped.
    public init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        func fail(_ offset: Int?, _ found: String, _ expected: String) -> FileFormatError {
            FileFormatError(path: path, offset: offset, found: found, expected: expected)
        }

        guard file.count >= 8 else {
            throw fail(nil, "a file of \(file.count) bytes", "at least 8 bytes (the header length)")
        }
        let rawLength = file.littleEndian(at: 0, width: 8)
        let limit = min(file.count - 8, Self.maxHeaderLength)
        guard rawLength <= UInt64(limit) else {
            let bound =
                limit == Self.maxHeaderLength
                ? "at most \(limit) bytes" : "at most \(limit) bytes (the file size minus 8)"
            throw fail(0, "header length \(rawLength)", bound)
        }
        let headerLength = Int(rawLength)
        let dataStart = 8 + headerLength
        let bufferSize = file.count - dataStart
        let headerBytes = UnsafeRawBufferPointer(rebasing: file.bytes[8..<dataStart])

        let json: JSON
        do {
            json = try JSON.parse(headerBytes)
        } catch let e as JSON.SyntaxError {
            throw fail(8 + e.offset, "invalid JSON header: \(e.found)", e.expected)
        }
        guard case .object(let fields) = json else {
            throw fail(8, "a header that is \(json.kindDescription)", "a JSON object")
        }

        var metadata: [String: String] = [:]
        var entries: [String: Entry] = [:]
        for (name, value) in fields {
            if name == "__metadata__" {
                if case .null = value { continue }
                guard case .object(let map) = value else {
                    throw fail(8, "__metadata__ is \(value.kindDescription)", "an object of strings")
                }
                for (key, v) in map {
                    guard case .string(let s) = v else {
                        throw fail(8, "__metadata__[\"\(key)\"] is \(v.kindDescription)", "a string")
                    }
                    metadata[key] = s
                }
                continue
            }
            func field(_ f: String) -> String { "tensor \"\(name)\": \(f)" }
            guard case .object = value else {
                throw fail(
                    8, field("entry is \(value.kindDescription)"), "an object with dtype, shape and data_offsets")
            }
            guard case .string(let dtypeName)? = value["dtype"] else {
                throw fail(
                    8, field("dtype is \(value["dtype"]?.kindDescription ?? "missing")"),
                    "a dtype string such as \"F32\"")
            }
            guard let type = StoredElement.safetensorsNames[dtypeName] else {
                throw fail(
                    8, field("unknown dtype \"\(dtypeName)\""),
                    "one of " + StoredElement.safetensorsNames.keys.sorted().joined(separator: ", "))
            }
            guard case .array(let dims)? = value["shape"] else {
                throw fail(8, field("shape is \(value["shape"]?.kindDescription ?? "missing")"), "an array of integers")
            }
            var shape: [Int] = []
            for d in dims {
                guard case .int(let n) = d, n >= 0 else {
                    throw fail(8, field("shape has \(d.kindDescription)"), "non-negative integer dimensions")
                }
                shape.append(n)
            }
            guard let count = checkedElementCount(shape) else {
                throw fail(8, field("shape \(shape) has more elements than fit in 64 bits"), "a realistic shape")
            }
            guard case .array(let offsets)? = value["data_offsets"], offsets.count == 2,
                case .int(let begin) = offsets[0], case .int(let end) = offsets[1]
            else {
                throw fail(
                    8, field("data_offsets is \(value["data_offsets"]?.kindDescription ?? "missing")"),
                    "[begin, end], two integers")
            }
            guard begin >= 0, begin <= end else {
                throw fail(8, field("data_offsets [\(begin), \(end)]"), "0 <= begin <= end")
            }
            guard end <= bufferSize else {
                throw fail(
                    8, field("data_offsets end \(end) beyond the data buffer of \(bufferSize) bytes"),
                    "offsets within the buffer")
            }
            let (byteCount, overflow) = count.multipliedReportingOverflow(by: type.size)
            guard !overflow, byteCount == end - begin else {
                throw fail(
                    8, field("\(end - begin) bytes for shape \(shape) of \(dtypeName)"),
                    overflow ? "a realistic shape" : "\(byteCount) bytes (\(count) × \(type.size))")
            }
            entries[name] = Entry(
                dtypeName: dtypeName, type: type, shape: shape, count: count,
                begin: dataStart + begin, end: dataStart + end)
        }

        // The spec requires the tensors to tile the buffer: sort by range and walk it.
        let ordered = entries.sorted { ($0.value.begin, $0.value.end) < ($1.value.begin, $1.value.end) }
        var cursor = dataStart
        for (name, e) in ordered {
            if e.begin < cursor {
                throw fail(
                    e.begin, "tensor \"\(name)\" overlaps the previous tensor (which ends at byte \(cursor))",
                    "non-overlapping tensors")
            }
            if e.begin > cursor {
                throw fail(
                    cursor, "a hole of \(e.begin - cursor) bytes before tensor \"\(name)\"",
                    "tensors covering the data buffer without gaps")
            }
            cursor = e.end
        }
        if cursor != file.count {
            throw fail(
                cursor, "\(file.count - cursor) trailing bytes not covered by any tensor",
                "tensors covering the data buffer without gaps")
        }

        self.metadata = metadata
        self.entries = entries
        names = entries.keys.sorted()
    }

    /// The stored dtype name (e.g. "BF16") and shape of the tensor `name`, or nil if absent.
    public func info(_ name: String) -> (dtype: String, shape: [Int])? {
        entries[name].map { ($0.dtypeName, $0.shape) }
    }

    /// Reads the tensor `name`, converted to `dtype`.
    ///
    /// F32 read as `.float32` and F64 read as `.float64` are exact copies; other stored
    /// types are converted (see the type documentation).
    /// - Throws: ``FileFormatError`` if there is no tensor of that name.
    public func tensor(_ name: String, as dtype: DType = .float32) throws -> Tensor {
        guard let e = entries[name] else {
            throw FileFormatError(
                path: path, found: "no tensor named \"\(name)\"",
                expected: "one of the \(names.count) tensors in the file")
        }
        let base = file.bytes.baseAddress.map { UnsafeRawPointer($0) + e.begin }
        // Only an empty tensor in an empty buffer has no base address; any pointer will do.
        let source = base ?? UnsafeRawPointer(bitPattern: 64)!
        let storage = decodeElements(source, count: e.count, type: e.type, littleEndian: true, to: dtype)
        return Tensor(shape: e.shape, storage: storage)
    }

    /// The bytes tensor `name` is stored as (little-endian, in its stored dtype), valid while this
    /// file is alive; nil if there is no such tensor. For checksums.
    public func storedBytes(_ name: String) -> UnsafeRawBufferPointer? {
        guard let e = entries[name] else { return nil }
        guard let base = file.bytes.baseAddress else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: UnsafeRawPointer(base) + e.begin, count: e.end - e.begin)
    }

    /// The dtype that holds tensor `name` as stored, without conversion (BF16 → `.bfloat16`,
    /// F16 → `.float16`, F32, F64, I32, I64 likewise), or nil for a stored type with no such
    /// dtype (BOOL, 8- and 16-bit integers, unsigned integers, FP8) or an absent tensor.
    public func storedDType(_ name: String) -> DType? { entries[name]?.type.storageDType }

    /// Reads the tensor `name` in the dtype it is stored in (see ``storedDType(_:)``): a BF16
    /// tensor stays bfloat16 storage, bit for bit, instead of being widened to float32 as
    /// ``tensor(_:as:)`` does by default. Stored types without a matching dtype are read as float32.
    /// - Throws: ``FileFormatError`` if there is no tensor of that name.
    public func tensorInStoredDType(_ name: String) throws -> Tensor {
        try tensor(name, as: storedDType(name) ?? .float32)
    }

    /// Reads every tensor, converted to `dtype`.
    public func tensors(as dtype: DType = .float32) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        out.reserveCapacity(names.count)
        for name in names { out[name] = try tensor(name, as: dtype) }
        return out
    }
}

/// Writing safetensors files.
public enum SafeTensors {
    /// Writes `tensors` (float32 as F32, float64 as F64, bfloat16 as BF16, float16 as F16, int32 as
    /// I32, int64 as I64: each in its own dtype, bit for bit) and `metadata` to `path`, atomically
    /// (see ``AtomicFile``).
    ///
    /// The output matches what the Python `safetensors` library writes: `__metadata__` first,
    /// then the tensors with keys sorted, the header padded with spaces to a multiple of 8
    /// bytes. In the data buffer wider elements come first (each width sorted by name),
    /// so every tensor starts at a multiple of its element size and the buffer has no holes.
    ///
    /// - Throws: ``FileFormatError`` for a tensor named `__metadata__`; ``FileSystemError``
    ///   if the file cannot be written (the previous file, if any, is kept).
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to path: String) throws {
        if tensors["__metadata__"] != nil {
            throw FileFormatError(
                path: path, found: "a tensor named \"__metadata__\"",
                expected: "tensor names other than the reserved \"__metadata__\"")
        }
        let layout = tensors.sorted { a, b in
            a.value.dtype.byteCount != b.value.dtype.byteCount
                ? a.value.dtype.byteCount > b.value.dtype.byteCount : a.key < b.key
        }
        var offsets: [String: (Int, Int)] = [:]
        var cursor = 0
        for (name, t) in layout {
            let n = t.count * t.dtype.byteCount
            offsets[name] = (cursor, cursor + n)
            cursor += n
        }

        var parts: [String] = []
        if !metadata.isEmpty {
            let items = metadata.sorted { $0.key < $1.key }.map { JSON.quoted($0.key) + ":" + JSON.quoted($0.value) }
            parts.append("\"__metadata__\":{" + items.joined(separator: ",") + "}")
        }
        for name in tensors.keys.sorted() {
            let t = tensors[name]!
            let (begin, end) = offsets[name]!
            let dtype = StoredElement.safetensorsName(t.dtype)
            let shape = t.shape.map(String.init).joined(separator: ",")
            parts.append(
                JSON.quoted(name) + ":{\"dtype\":\"\(dtype)\",\"shape\":[\(shape)],\"data_offsets\":[\(begin),\(end)]}")
        }
        var header = Array(("{" + parts.joined(separator: ",") + "}").utf8)
        header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8))

        try AtomicFile.write(to: path) { out in
            var length = UInt64(header.count).littleEndian
            try withUnsafeBytes(of: &length) { try out.write($0) }
            try out.write(header)
            for (_, t) in layout { try withLittleEndianBytes(of: t) { try out.write($0) } }
        }
    }
}
