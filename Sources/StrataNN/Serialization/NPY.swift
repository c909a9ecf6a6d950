import StrataTensor

// File layout (numpy.lib.format):
//
//   bytes 0..<6     magic "\x93NUMPY"
//   byte  6, 7      major, minor version: 1.0, 2.0 or 3.0
//   then            header length H: UInt16 LE (version 1) or UInt32 LE (versions 2, 3)
//   then H bytes    a Python dict literal, ASCII (v1, v2) or UTF-8 (v3), padded with spaces
//                   and ended by '\n' so the data starts at a multiple of 64:
//                     {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
//   then            the elements, count × itemsize bytes, row-major (C order) unless
//                   fortran_order is True (column-major).

/// Reading and writing NumPy `.npy` array files.
///
/// ```swift
/// let x = try NPY.read(path: "activations.npy")           // Float32 tensor
/// try NPY.write(x, to: "copy.npy")                        // '<f4', version 1.0
/// ```
public enum NPY {
    /// Reads an array, converted to a `dtype` tensor.
    ///
    /// Versions 1.0, 2.0 and 3.0 are read. Element types (`descr`): floats `f2`, `f4`, `f8`,
    /// signed `i1`…`i8`, unsigned `u1`…`u8` and bool `b1`, little- or big-endian (`<`, `>`,
    /// `|`, `=`). Fortran-order arrays are transposed into Strata's row-major layout, so the
    /// tensor has the array's shape and values. Structured and object (pickled) arrays are
    /// rejected.
    ///
    /// - Throws: ``FileFormatError`` for malformed content, ``FileSystemError`` if the file
    ///   cannot be opened or mapped.
    public static func read(path: String, as dtype: DType = .float32) throws -> Tensor {
        let file = try MappedFile(path: path)
        func fail(_ offset: Int?, _ found: String, _ expected: String) -> FileFormatError {
            FileFormatError(path: path, offset: offset, found: found, expected: expected)
        }
        let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
        guard file.count >= 10 else {
            throw fail(nil, "a file of \(file.count) bytes", "an .npy file (at least 10 bytes)")
        }
        guard file.bytes[0..<6].elementsEqual(magic) else {
            throw fail(0, "no NumPy magic", "a file starting with \\x93NUMPY")
        }
        let major = file.bytes[6]
        let minor = file.bytes[7]
        let lengthWidth: Int
        switch (major, minor) {
        case (1, 0): lengthWidth = 2
        case (2, 0), (3, 0): lengthWidth = 4
        default: throw fail(6, "format version \(major).\(minor)", "version 1.0, 2.0 or 3.0")
        }
        let headerStart = 8 + lengthWidth
        guard file.count >= headerStart else {
            throw fail(8, "a file that ends in the header length", "a complete header length")
        }
        let headerLength = file.littleEndian(at: 8, width: lengthWidth)
        guard headerLength <= UInt64(file.count - headerStart) else {
            throw fail(
                8, "header length \(headerLength)", "at most \(file.count - headerStart) bytes (the rest of the file)")
        }
        let dataStart = headerStart + Int(headerLength)
        let headerBytes = file.bytes[headerStart..<dataStart]
        // v1/v2 headers are latin-1 but only ever ASCII in practice; v3 is UTF-8.
        guard isValidUTF8(headerBytes) else {
            throw fail(headerStart, "a header that is not text", "an ASCII/UTF-8 dict literal")
        }

        let header: PyValue
        do {
            header = try PyLiteralParser.parse(UnsafeRawBufferPointer(rebasing: headerBytes))
        } catch let e as JSON.SyntaxError {
            throw fail(headerStart + e.offset, "malformed header: \(e.found)", e.expected)
        }
        guard case .dict(let fields) = header else {
            throw fail(headerStart, "a header that is not a dict", "a Python dict literal")
        }
        guard Set(fields.keys) == ["descr", "fortran_order", "shape"] else {
            throw fail(headerStart, "header keys \(fields.keys.sorted())", "exactly descr, fortran_order and shape")
        }
        guard case .string(let descr)? = fields["descr"] else {
            throw fail(
                headerStart, "a descr that is not a string (a structured array?)", "a simple descr such as '<f4'")
        }
        guard let (type, littleEndian) = parseDescr(descr) else {
            throw fail(
                headerStart, "descr '\(descr)'", "one of f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1 with byte order < > | =")
        }
        guard case .bool(let fortranOrder)? = fields["fortran_order"] else {
            throw fail(headerStart, "fortran_order that is not True or False", "a bool")
        }
        guard case .tuple(let dims)? = fields["shape"] else {
            throw fail(headerStart, "shape that is not a tuple", "a tuple of ints")
        }
        var shape: [Int] = []
        for d in dims {
            guard case .int(let n) = d, n >= 0 else {
                throw fail(
                    headerStart, "shape with an entry that is not a non-negative int", "a tuple of non-negative ints")
            }
            shape.append(n)
        }
        guard let count = checkedElementCount(shape) else {
            throw fail(headerStart, "shape \(shape) with more elements than fit in 64 bits", "a realistic shape")
        }
        let available = file.count - dataStart
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: type.size)
        guard !overflow, byteCount == available else {
            let need = overflow ? "more than 2^63" : "\(byteCount)"
            throw fail(dataStart, "\(available) data bytes", "\(need) bytes for shape \(shape) of '\(descr)'")
        }

        let source = file.bytes.baseAddress.map { UnsafeRawPointer($0) + dataStart }!
        // Column-major data of shape S is the row-major data of reversed(S); reverse the axes back.
        let storedShape = fortranOrder ? shape.reversed() : shape
        let stored = Tensor(
            shape: storedShape,
            storage: decodeElements(source, count: count, type: type, littleEndian: littleEndian, to: dtype))
        guard fortranOrder, shape.count > 1 else { return stored }
        return withNoGrad { stored.permuted(Array((0..<shape.count).reversed())) }
    }

    /// Writes `tensor` as a version 1.0 `.npy` file (`'<f4'`, `'<f8'`, `'<f2'`, `'<i4'` or `'<i8'` by its
    /// dtype; bfloat16, which NumPy lacks, as `'<f4'`; C order), atomically
    /// (see ``AtomicFile``). As NumPy does, the header is padded so the data starts at a
    /// multiple of 64 bytes. (Version 2.0 is used only if the header would exceed 65535 bytes.)
    ///
    /// - Throws: ``FileSystemError`` if the file cannot be written (the previous file is kept).
    public static func write(_ tensor: Tensor, to path: String) throws {
        // NumPy has no bfloat16: such a tensor is written widened to float32 (exact).
        let tensor = tensor.dtype == .bfloat16 ? withNoGrad { tensor.to(.float32) } : tensor
        let descr: String
        switch tensor.dtype {
        case .float32: descr = "<f4"
        case .float64: descr = "<f8"
        case .float16: descr = "<f2"
        case .int32: descr = "<i4"
        case .int64: descr = "<i8"
        case .bfloat16: descr = "<f4"
        }
        let shape =
            tensor.shape.count == 1
            ? "(\(tensor.shape[0]),)" : "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
        var dict = Array("{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }".utf8)
        var version: UInt8 = 1
        var prefix = 10
        if dict.count + 1 + 63 > Int(UInt16.max) {
            version = 2
            prefix = 12
        }
        // Spaces, then '\n', so that prefix + header length ≡ 0 (mod 64).
        let padding = (64 - (prefix + dict.count + 1) % 64) % 64
        dict.append(contentsOf: repeatElement(UInt8(ascii: " "), count: padding))
        dict.append(UInt8(ascii: "\n"))

        var head: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
        let n = dict.count
        head += version == 1 ? [UInt8(n & 0xFF), UInt8(n >> 8)] : (0..<4).map { UInt8((n >> (8 * $0)) & 0xFF) }
        try AtomicFile.write(to: path) { out in
            try out.write(head)
            try out.write(dict)
            try withLittleEndianBytes(of: tensor) { try out.write($0) }
        }
    }

    /// (element type, little-endian?) for a simple descr such as '<f4' or '|u1'.
    static func parseDescr(_ descr: String) -> (StoredElement, Bool)? {
        let chars = Array(descr.utf8)
        guard chars.count >= 3 else { return nil }
        let little: Bool
        switch chars[0] {
        case UInt8(ascii: "<"), UInt8(ascii: "|"): little = true
        case UInt8(ascii: ">"): little = false
        case UInt8(ascii: "="): little = hostIsLittleEndian
        default: return nil
        }
        let types: [String: StoredElement] = [
            "f2": .float16, "f4": .float32, "f8": .float64,
            "i1": .int8, "i2": .int16, "i4": .int32, "i8": .int64,
            "u1": .uint8, "u2": .uint16, "u4": .uint32, "u8": .uint64, "b1": .bool,
        ]
        guard let type = types[String(decoding: chars[1...], as: UTF8.self)] else { return nil }
        return (type, little)
    }
}

/// The subset of Python literals that `.npy` headers use.
indirect enum PyValue {
    case string(String)
    case int(Int)
    case bool(Bool)
    case pyNone
    case tuple([PyValue])
    case list([PyValue])
    case dict([String: PyValue])
}

/// Parses a Python literal (dicts with string keys, tuples, lists, quoted strings, ints,
/// True/False/None) — what `numpy.lib.format` writes and `ast.literal_eval` reads back.
struct PyLiteralParser {
    private let bytes: UnsafeRawBufferPointer
    private var i = 0

    static func parse(_ bytes: UnsafeRawBufferPointer) throws -> PyValue {
        var p = PyLiteralParser(bytes: bytes)
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.i == bytes.count else { throw p.error("text after the literal", "only whitespace") }
        return v
    }

    private init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    private func error(_ found: String, _ expected: String) -> JSON.SyntaxError {
        JSON.SyntaxError(offset: i, found: found, expected: expected)
    }

    private var current: UInt8? { i < bytes.count ? bytes[i] : nil }

    private mutating func skipSpace() {
        while let c = current, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { i += 1 }
    }

    private mutating func value(depth: Int) throws -> PyValue {
        guard depth < 32 else { throw error("nesting deeper than 32", "a simple header") }
        skipSpace()
        guard let c = current else { throw error("end of header", "a value") }
        switch c {
        case UInt8(ascii: "{"):
            i += 1
            var d: [String: PyValue] = [:]
            for item in try sequence(close: "}", depth: depth, keyed: true) {
                guard d.updateValue(item.1, forKey: item.0!) == nil else {
                    throw error("duplicate key '\(item.0!)'", "unique keys")
                }
            }
            return .dict(d)
        case UInt8(ascii: "("):
            i += 1
            let items = try sequence(close: ")", depth: depth, keyed: false).map(\.1)
            return .tuple(items)
        case UInt8(ascii: "["):
            i += 1
            return .list(try sequence(close: "]", depth: depth, keyed: false).map(\.1))
        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .int(try integer())
        default:
            if let word = identifier() {
                switch word {
                case "True": return .bool(true)
                case "False": return .bool(false)
                case "None": return .pyNone
                default: throw error("name \(word)", "True, False or None")
                }
            }
            throw error("'\(Character(Unicode.Scalar(c)))'", "a value")
        }
    }

    /// Comma-separated items up to `close` (a trailing comma allowed); `keyed` reads `key: value`.
    /// The tuple `(x)` without a comma is just `x` in Python, but never appears for shapes.
    private mutating func sequence(close: Unicode.Scalar, depth: Int, keyed: Bool) throws -> [(String?, PyValue)] {
        var items: [(String?, PyValue)] = []
        while true {
            skipSpace()
            guard let c = current else { throw error("end of header", "'\(close)'") }
            if c == UInt8(ascii: close) {
                i += 1
                return items
            }
            var key: String?
            if keyed {
                guard case .string(let k) = try value(depth: depth + 1) else {
                    throw error("a non-string key", "a quoted key")
                }
                key = k
                skipSpace()
                guard current == UInt8(ascii: ":") else { throw error("no ':' after key '\(k)'", "':'") }
                i += 1
            }
            items.append((key, try value(depth: depth + 1)))
            skipSpace()
            if current == UInt8(ascii: ",") {
                i += 1
                continue
            }
            guard current == UInt8(ascii: close) else {
                throw error("a missing ',' or '\(close)'", "',' or '\(close)'")
            }
        }
    }

    private mutating func string() throws -> String {
        let quote = bytes[i]
        let start = i
        i += 1
        var out: [UInt8] = []
        while true {
            guard let c = current, c != 0x0A else {
                throw JSON.SyntaxError(offset: start, found: "unterminated string", expected: "a closing quote")
            }
            i += 1
            if c == quote { return String(decoding: out, as: UTF8.self) }
            if c == UInt8(ascii: "\\") { // simple escapes only; descr and keys never need more
                guard let e = current else { continue }
                i += 1
                out.append(e == UInt8(ascii: "n") ? 0x0A : e == UInt8(ascii: "t") ? 0x09 : e)
            } else {
                out.append(c)
            }
        }
    }

    private mutating func integer() throws -> Int {
        let start = i
        if current == UInt8(ascii: "-") || current == UInt8(ascii: "+") { i += 1 }
        while let c = current, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") { i += 1 }
        let text = String(decoding: bytes[start..<i], as: UTF8.self)
        if current == UInt8(ascii: "L") { i += 1 } // Python 2 long, e.g. (3L, 4L)
        guard let v = Int(text) else {
            throw JSON.SyntaxError(
                offset: start, found: "integer \(text.prefix(40))", expected: "an integer in the 64-bit range")
        }
        return v
    }

    private mutating func identifier() -> String? {
        let start = i
        while let c = current,
            (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z"))
        { i += 1 }
        return i > start ? String(decoding: bytes[start..<i], as: UTF8.self) : nil
    }
}
