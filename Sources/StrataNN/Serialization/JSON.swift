/// A minimal, strict JSON (RFC 8259) reader and string escaper for safetensors headers.
///
/// Hand-written rather than Foundation's `JSONSerialization` so that integers stay exact
/// `Int`s (not `NSNumber`s that blur 3, 3.0 and `true`), duplicate keys and bad UTF-8 are
/// errors, nesting depth is bounded (no stack overflow on hostile input), and StrataNN
/// does not need Foundation.
indirect enum JSONValue {
    case null
    case bool(Bool)
    /// A number written without fraction or exponent that fits in `Int`.
    case int(Int)
    /// Any other number.
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// A short name for error messages ("an array", "the string \"F32\"").
    var kindDescription: String {
        switch self {
        case .null: return "null"
        case let .bool(b): return "\(b)"
        case let .int(i): return "the integer \(i)"
        case let .number(d): return "the number \(d)"
        case let .string(s): return "the string \"\(s.prefix(40))\""
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

/// A syntax error at a byte offset within the parsed text.
struct JSONSyntaxError: Error {
    var offset: Int
    var found: String
    var expected: String
}

struct JSONParser {
    private let bytes: UnsafeRawBufferPointer
    private var i = 0
    private let maxDepth = 64

    /// Parses one JSON value filling `bytes`; only whitespace may follow it.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws -> JSONValue {
        var p = JSONParser(bytes: bytes)
        let value = try p.value(depth: 0)
        p.skipWhitespace()
        if p.i < bytes.count { throw p.error("\(p.describeByte()) after the JSON value", "nothing but whitespace") }
        return value
    }

    private init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    private func error(_ found: String, _ expected: String) -> JSONSyntaxError {
        JSONSyntaxError(offset: i, found: found, expected: expected)
    }

    private func describeByte() -> String {
        guard i < bytes.count else { return "end of text" }
        let b = bytes[i]
        return b >= 0x20 && b < 0x7F ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x\(String(b, radix: 16))"
    }

    private mutating func skipWhitespace() {
        while i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: return
            }
        }
    }

    private mutating func expect(_ literal: StaticString) throws {
        let n = literal.utf8CodeUnitCount
        let lit = UnsafeRawBufferPointer(start: literal.utf8Start, count: n)
        guard i + n <= bytes.count, bytes[i..<(i + n)].elementsEqual(lit) else {
            throw error(describeByte(), "\(literal)")
        }
        i += n
    }

    private mutating func value(depth: Int) throws -> JSONValue {
        guard depth < maxDepth else { throw error("nesting deeper than \(maxDepth)", "a shallower document") }
        skipWhitespace()
        guard i < bytes.count else { throw error("end of text", "a JSON value") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try expect("true"); return .bool(true)
        case UInt8(ascii: "f"): try expect("false"); return .bool(false)
        case UInt8(ascii: "n"): try expect("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw error(describeByte(), "a JSON value")
        }
    }

    private mutating func object(depth: Int) throws -> JSONValue {
        i += 1  // {
        var result: [String: JSONValue] = [:]
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(result) }
        while true {
            skipWhitespace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw error(describeByte(), "a string key") }
            let keyOffset = i
            let key = try string()
            skipWhitespace()
            try expect(":")
            let v = try value(depth: depth + 1)
            guard result.updateValue(v, forKey: key) == nil else {
                throw JSONSyntaxError(offset: keyOffset, found: "duplicate key \"\(key)\"", expected: "unique keys")
            }
            skipWhitespace()
            guard i < bytes.count else { throw error("end of text", "',' or '}'") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(result) }
            throw error(describeByte(), "',' or '}'")
        }
    }

    private mutating func array(depth: Int) throws -> JSONValue {
        i += 1  // [
        var result: [JSONValue] = []
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(result) }
        while true {
            result.append(try value(depth: depth + 1))
            skipWhitespace()
            guard i < bytes.count else { throw error("end of text", "',' or ']'") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(result) }
            throw error(describeByte(), "',' or ']'")
        }
    }

    /// A string; the caller has checked the opening quote. UTF-8 is validated at the end.
    private mutating func string() throws -> String {
        let start = i
        i += 1
        var utf8: [UInt8] = []
        while true {
            guard i < bytes.count else { throw JSONSyntaxError(offset: start, found: "unterminated string", expected: "a closing '\"'") }
            let b = bytes[i]
            switch b {
            case UInt8(ascii: "\""):
                i += 1
                guard isValidUTF8(utf8) else {
                    throw JSONSyntaxError(offset: start, found: "a string that is not valid UTF-8", expected: "UTF-8 text")
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
                    if (0xD800..<0xDC00).contains(scalar) {  // high surrogate: a low one must follow
                        try expect("\\u")
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate", "a low surrogate") }
                        scalar = 0x10000 + (scalar - 0xD800) << 10 + (low - 0xDC00)
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw error("unpaired surrogate", "a valid code point") }
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

    private mutating func hex4() throws -> UInt32 {
        guard i + 4 <= bytes.count else { throw error("end of text", "4 hex digits") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard let d = hexDigit(bytes[i]) else { throw error(describeByte(), "a hex digit") }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    private func hexDigit(_ b: UInt8) -> UInt32? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(b - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(b - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(b - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }

    /// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    private mutating func number() throws -> JSONValue {
        let start = i
        func isDigit(_ k: Int) -> Bool { k < bytes.count && bytes[k] >= UInt8(ascii: "0") && bytes[k] <= UInt8(ascii: "9") }
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
            guard let v = Int(text) else {
                throw JSONSyntaxError(offset: start, found: "the integer \(text.prefix(40)), which overflows 64 bits",
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

/// `s` as a JSON string literal, quotes included. Non-ASCII text is written as UTF-8
/// (as serde_json does); `"`, `\` and control characters are escaped.
func jsonQuoted(_ s: String) -> String {
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
