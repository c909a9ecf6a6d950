/// The package's one JSON (RFC 8259) value type, with a strict reader and a writer.
///
/// Used by the safetensors header reader and writer here, and by StrataTraining for the run
/// directory's files (checkpoint state, metrics lines, the report). `package`, not `public`:
/// it is shared between the package's targets but is not user API.
///
/// Hand-written rather than Foundation's `JSONSerialization` so that integers stay exact
/// `Int`s (not `NSNumber`s that blur 3, 3.0 and `true`), duplicate keys and bad UTF-8 are
/// errors, nesting depth is bounded (no stack overflow on hostile input), and neither
/// StrataNN nor StrataTraining needs Foundation.
///
/// Objects keep their keys in insertion order, so written files read in a stable, logical
/// order (and errors about a parsed file name its first bad entry, not a hash-order one).
/// Integers that fit `Int` stay exact (``int(_:)``); other numbers are `Double`s, written in
/// Swift's shortest round-tripping form, so a value read back is bit-identical. Non-finite
/// doubles are written as `null` (JSON has no NaN or infinity).
package enum JSON: Equatable, Sendable {
    case null
    case bool(Bool)
    /// A number written without fraction or exponent that fits in `Int`.
    case int(Int)
    /// Any other number.
    case number(Double)
    case string(String)
    case array([JSON])
    /// Keys in document (or insertion) order; the reader rejects duplicates.
    case object([(String, JSON)])

    package static func == (a: JSON, b: JSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y || (x.isNaN && y.isNaN)
        case (.int(let x), .number(let y)), (.number(let y), .int(let x)): return Double(x) == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    // MARK: Access

    /// The value under `key` when this is an object (objects are small: a linear search).
    package subscript(key: String) -> JSON? {
        if case .object(let items) = self { return items.first { $0.0 == key }?.1 }
        return nil
    }

    package var intValue: Int? {
        switch self {
        case .int(let i): return i
        case .number(let d) where d == d.rounded() && Swift.abs(d) < 9e15: return Int(d)
        default: return nil
        }
    }

    package var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .number(let d): return d
        case .null: return .nan // how non-finite values are written
        default: return nil
        }
    }

    package var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }
    package var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }
    package var arrayValue: [JSON]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// A short name for error messages ("an array", "the string \"F32\"").
    package var kindDescription: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return "\(b)"
        case .int(let i): return "the integer \(i)"
        case .number(let d): return "the number \(d)"
        case .string(let s): return "the string \"\(s.prefix(40))\""
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    // MARK: Writing

    /// Compact single-line text (`pretty: false`) or indented text.
    package func serialized(pretty: Bool = false) -> String {
        var out = ""
        write(into: &out, pretty: pretty, indent: 0)
        return out
    }

    private func write(into out: inout String, pretty: Bool, indent: Int) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .number(let d): out += JSON.format(d)
        case .string(let s): out += JSON.quoted(s)
        case .array(let items):
            // Arrays of scalars stay on one line even when pretty.
            let flat =
                !pretty
                || items.allSatisfy {
                    if case .array = $0 { return false }
                    if case .object = $0 { return false }
                    return true
                }
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += flat && pretty ? ", " : "," }
                if !flat { out += "\n" + String(repeating: "  ", count: indent + 1) }
                item.write(into: &out, pretty: pretty, indent: indent + 1)
            }
            if !flat && !items.isEmpty { out += "\n" + String(repeating: "  ", count: indent) }
            out += "]"
        case .object(let items):
            out += "{"
            for (i, (key, value)) in items.enumerated() {
                if i > 0 { out += "," }
                if pretty { out += "\n" + String(repeating: "  ", count: indent + 1) }
                out += JSON.quoted(key) + (pretty ? ": " : ":")
                value.write(into: &out, pretty: pretty, indent: indent + 1)
            }
            if pretty && !items.isEmpty { out += "\n" + String(repeating: "  ", count: indent) }
            out += "}"
        }
    }

    /// Swift's shortest round-tripping decimal form; `null` for NaN and infinities.
    /// Integral values keep a ".0" so they read back as `.number`, not `.int`.
    package static func format(_ d: Double) -> String {
        guard d.isFinite else { return "null" }
        if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
        if d == d.rounded() && Swift.abs(d) < 1e15 { return String(Int(d)) + ".0" }
        return "\(d)"
    }

    /// `s` as a JSON string literal, quotes included. Non-ASCII text is written as UTF-8
    /// (as serde_json does); `"`, `\` and control characters are escaped.
    package static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    // MARK: Reading

    /// A syntax error at a byte offset within the parsed text.
    package struct SyntaxError: Error, CustomStringConvertible {
        package var offset: Int
        package var found: String
        package var expected: String

        package init(offset: Int, found: String, expected: String) {
            (self.offset, self.found, self.expected) = (offset, found, expected)
        }

        package var description: String { "invalid JSON at byte \(offset): \(found); expected \(expected)" }
    }

    /// Parses one JSON value filling `bytes`; only whitespace may follow it.
    package static func parse(_ bytes: UnsafeRawBufferPointer) throws -> JSON {
        var p = Parser(bytes: bytes)
        let value = try p.value(depth: 0)
        p.skipWhitespace()
        if p.i < bytes.count { throw p.error("\(p.describeByte()) after the JSON value", "nothing but whitespace") }
        return value
    }

    /// Parses a complete JSON text.
    package static func parse(_ text: String) throws -> JSON {
        var text = text
        return try text.withUTF8 { try parse(UnsafeRawBufferPointer($0)) }
    }
}

extension JSON {
    package init(_ values: [Double]) { self = .array(values.map { .number($0) }) }
    package init(_ values: [Int]) { self = .array(values.map { .int($0) }) }
    package init(_ values: [String]) { self = .array(values.map { .string($0) }) }
}

/// The strict reader behind `JSON.parse`: files from other
/// tools (safetensors headers) are untrusted, so it rejects what RFC 8259 leaves open.
private struct Parser {
    let bytes: UnsafeRawBufferPointer
    var i = 0
    /// Far deeper than any file we read or write (3 levels); bounds recursion on hostile input.
    let maxDepth = 64

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    func error(_ found: String, _ expected: String) -> JSON.SyntaxError {
        JSON.SyntaxError(offset: i, found: found, expected: expected)
    }

    func describeByte() -> String {
        guard i < bytes.count else { return "end of text" }
        let b = bytes[i]
        return b >= 0x20 && b < 0x7F ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x\(String(b, radix: 16))"
    }

    mutating func skipWhitespace() {
        while i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: return
            }
        }
    }

    mutating func expect(_ literal: StaticString) throws {
        let n = literal.utf8CodeUnitCount
        let lit = UnsafeRawBufferPointer(start: literal.utf8Start, count: n)
        guard i + n <= bytes.count, bytes[i..<(i + n)].elementsEqual(lit) else {
            throw error(describeByte(), "\(literal)")
        }
        i += n
    }

    mutating func value(depth: Int) throws -> JSON {
        guard depth < maxDepth else { throw error("nesting deeper than \(maxDepth)", "a shallower document") }
        skipWhitespace()
        guard i < bytes.count else { throw error("end of text", "a JSON value") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"):
            try expect("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expect("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expect("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw error(describeByte(), "a JSON value")
        }
    }

    mutating func object(depth: Int) throws -> JSON {
        i += 1 // {
        var items: [(String, JSON)] = []
        var seen: Set<String> = [] // duplicate keys are ambiguous (which one wins?): an error
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
            i += 1
            return .object(items)
        }
        while true {
            skipWhitespace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw error(describeByte(), "a string key") }
            let keyOffset = i
            let key = try string()
            skipWhitespace()
            try expect(":")
            let v = try value(depth: depth + 1)
            guard seen.insert(key).inserted else {
                throw JSON.SyntaxError(offset: keyOffset, found: "duplicate key \"\(key)\"", expected: "unique keys")
            }
            items.append((key, v))
            skipWhitespace()
            guard i < bytes.count else { throw error("end of text", "',' or '}'") }
            if bytes[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            if bytes[i] == UInt8(ascii: "}") {
                i += 1
                return .object(items)
            }
            throw error(describeByte(), "',' or '}'")
        }
    }

    mutating func array(depth: Int) throws -> JSON {
        i += 1 // [
        var result: [JSON] = []
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
            i += 1
            return .array(result)
        }
        while true {
            result.append(try value(depth: depth + 1))
            skipWhitespace()
            guard i < bytes.count else { throw error("end of text", "',' or ']'") }
            if bytes[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            if bytes[i] == UInt8(ascii: "]") {
                i += 1
                return .array(result)
            }
            throw error(describeByte(), "',' or ']'")
        }
    }

    /// A string; the caller has checked the opening quote. UTF-8 is validated at the end.
    mutating func string() throws -> String {
        let start = i
        i += 1
        var utf8: [UInt8] = []
        while true {
            guard i < bytes.count else {
                throw JSON.SyntaxError(offset: start, found: "unterminated string", expected: "a closing '\"'")
            }
            let b = bytes[i]
            switch b {
            case UInt8(ascii: "\""):
                i += 1
                guard isValidUTF8(utf8) else {
                    throw JSON.SyntaxError(
                        offset: start, found: "a string that is not valid UTF-8", expected: "UTF-8 text")
                }
                return String(decoding: utf8, as: UTF8.self)
            case UInt8(ascii: "\\"):
                i += 1
                guard i < bytes.count else { throw error("end of text", "an escape sequence") }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(e)
                case UInt8(ascii: "b"): utf8.append(0x08)
                case UInt8(ascii: "f"): utf8.append(0x0C)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "r"): utf8.append(0x0D)
                case UInt8(ascii: "t"): utf8.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar) { // high surrogate: a low one must follow
                        try expect("\\u")
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else {
                            throw error("unpaired surrogate", "a low surrogate")
                        }
                        scalar = 0x10000 + (scalar - 0xD800) << 10 + (low - 0xDC00)
                    }
                    guard let u = Unicode.Scalar(scalar) else {
                        throw error("unpaired surrogate", "a valid code point")
                    }
                    utf8.append(contentsOf: String(Character(u)).utf8)
                default:
                    i -= 1
                    throw error(describeByte(), "a valid escape character")
                }
            case 0..<0x20:
                throw error("an unescaped control character in a string", "\\u escapes for control characters")
            default:
                utf8.append(b)
                i += 1
            }
        }
    }

    mutating func hex4() throws -> UInt32 {
        guard i + 4 <= bytes.count else { throw error("end of text", "4 hex digits") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard let d = hexDigit(bytes[i]) else { throw error(describeByte(), "a hex digit") }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    func hexDigit(_ b: UInt8) -> UInt32? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(b - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(b - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(b - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }

    /// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    mutating func number() throws -> JSON {
        let start = i
        func isDigit(_ k: Int) -> Bool {
            k < bytes.count && bytes[k] >= UInt8(ascii: "0") && bytes[k] <= UInt8(ascii: "9")
        }
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard isDigit(i) else { throw error(describeByte(), "a digit") }
        if bytes[i] == UInt8(ascii: "0") { i += 1 } else { while isDigit(i) { i += 1 } }
        var integral = true
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            integral = false
            i += 1
            guard isDigit(i) else { throw error(describeByte(), "a digit after '.'") }
            while isDigit(i) { i += 1 }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            integral = false
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard isDigit(i) else { throw error(describeByte(), "a digit in the exponent") }
            while isDigit(i) { i += 1 }
        }
        let text = String(decoding: bytes[start..<i], as: UTF8.self)
        if integral {
            // An error rather than a silently rounded Double: an offset or a dimension that
            // does not fit is a corrupt file, not an approximately right one.
            guard let v = Int(text) else {
                throw JSON.SyntaxError(
                    offset: start, found: "the integer \(text.prefix(40)), which overflows 64 bits",
                    expected: "an integer in the 64-bit range")
            }
            return .int(v)
        }
        return .number(Double(text) ?? .nan)
    }
}

/// Whether `bytes` is well-formed UTF-8 (`String(validating:)` needs macOS 15).
func isValidUTF8<C: Collection>(_ bytes: C) -> Bool where C.Element == UInt8 {
    var iterator = bytes.makeIterator()
    var decoder = UTF8()
    while true {
        switch decoder.decode(&iterator) {
        case .scalarValue: continue
        case .emptyInput: return true
        case .error: return false
        }
    }
}
