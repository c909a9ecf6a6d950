import StrataTensor

/// An element type as stored in a file (safetensors dtype or NumPy descr), which the
/// readers convert to a Float32 or Float64 tensor.
enum StoredElement: Sendable {
    case bool, uint8, int8, uint16, int16, uint32, int32, uint64, int64
    case float16, bfloat16, float32, float64
    /// OCP FP8: 5 exponent bits (IEEE-like, has inf) and 4 exponent bits ("fn": no inf, one NaN).
    case float8E5M2, float8E4M3

    /// Bytes per element.
    var size: Int {
        switch self {
        case .bool, .uint8, .int8, .float8E5M2, .float8E4M3: return 1
        case .uint16, .int16, .float16, .bfloat16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        }
    }

    /// The safetensors spelling of each type ("F32", "BF16", …).
    static let safetensorsNames: [String: StoredElement] = [
        "BOOL": .bool, "U8": .uint8, "I8": .int8, "U16": .uint16, "I16": .int16,
        "U32": .uint32, "I32": .int32, "U64": .uint64, "I64": .int64,
        "F16": .float16, "BF16": .bfloat16, "F32": .float32, "F64": .float64,
        "F8_E5M2": .float8E5M2, "F8_E4M3": .float8E4M3,
    ]

    /// The tensor dtype that holds this stored type without conversion, if there is one.
    var storageDType: DType? {
        switch self {
        case .float32: return .float32
        case .float64: return .float64
        case .bfloat16: return .bfloat16
        case .float16: return .float16
        case .int32: return .int32
        case .int64: return .int64
        default: return nil
        }
    }

    /// The safetensors spelling of the stored type of `dtype` ("F32", "BF16", "I64", …).
    static func safetensorsName(_ dtype: DType) -> String {
        switch dtype {
        case .float32: return "F32"
        case .float64: return "F64"
        case .bfloat16: return "BF16"
        case .float16: return "F16"
        case .int32: return "I32"
        case .int64: return "I64"
        }
    }
}

/// True on little-endian hosts (every platform Swift ships on today); file data is
/// byte-swapped on the fly when its byte order differs from the host's.
let hostIsLittleEndian = UInt16(1).littleEndian == 1

/// Decodes `count` elements of `type` at `source` (any alignment) into new storage of `dtype`.
///
/// Same type and byte order is one memcpy; everything else is one pass that loads each
/// element unaligned, swaps bytes if needed and converts (integers and F64→F32 round to
/// nearest; F16/BF16/FP8 → float is exact).
func decodeElements(
    _ source: UnsafeRawPointer, count: Int, type: StoredElement, littleEndian: Bool,
    to dtype: DType
) -> TensorStorage {
    let storage = TensorStorage(dtype: dtype, count: count)
    let swap = type.size > 1 && littleEndian != hostIsLittleEndian
    switch dtype {
    case .float32: decode(source, count, type, swap, into: storage.typed(Float.self))
    case .float64: decode(source, count, type, swap, into: storage.typed(Double.self))
    case .bfloat16, .float16, .int32, .int64:
        if type.storageDType == dtype && !swap {
            storage.pointer.copyMemory(from: source, byteCount: count * type.size)
        } else if type.storageDType == dtype {
            let src = source
            let dst = storage.pointer.assumingMemoryBound(to: UInt8.self)
            let w = type.size
            for e in stride(from: 0, to: count * w, by: w) {
                for k in 0..<w { dst[e + k] = src.load(fromByteOffset: e + w - 1 - k, as: UInt8.self) }
            }
        } else {
            // Decoded into the compute dtype (exact for every stored type but 64-bit integers
            // beyond 2⁵³), then converted, rounding once to bfloat16/float16 as PyTorch's `.to`.
            let wide = decodeElements(
                source, count: count, type: type, littleEndian: littleEndian, to: dtype.computeDType)
            return Tensor(shape: [count], storage: wide).to(dtype).storage
        }
    }
    return storage
}

private func decode<T: TensorScalar>(
    _ src: UnsafeRawPointer, _ count: Int, _ type: StoredElement, _ swap: Bool,
    into dst: UnsafeMutablePointer<T>
) {
    if !swap && ((type == .float32 && T.self == Float.self) || (type == .float64 && T.self == Double.self)) {
        UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: count * type.size)
        return
    }
    switch type {
    case .bool: convert(src, count, false, dst) { (b: UInt8) in b != 0 ? 1 : 0 }
    case .uint8: convert(src, count, false, dst) { (v: UInt8) in T(v) }
    case .int8: convert(src, count, false, dst) { (v: Int8) in T(v) }
    case .uint16: convert(src, count, swap, dst) { (v: UInt16) in T(v) }
    case .int16: convert(src, count, swap, dst) { (v: Int16) in T(v) }
    case .uint32: convert(src, count, swap, dst) { (v: UInt32) in T(v) }
    case .int32: convert(src, count, swap, dst) { (v: Int32) in T(v) }
    case .uint64: convert(src, count, swap, dst) { (v: UInt64) in T(v) }
    case .int64: convert(src, count, swap, dst) { (v: Int64) in T(v) }
    case .float16: convert(src, count, swap, dst) { (h: UInt16) in T(halfToFloat(h)) }
    case .bfloat16: convert(src, count, swap, dst) { (h: UInt16) in T(Float(bitPattern: UInt32(h) << 16)) }
    case .float32: convert(src, count, swap, dst) { (v: UInt32) in T(Float(bitPattern: v)) }
    case .float64: convert(src, count, swap, dst) { (v: UInt64) in T(Double(bitPattern: v)) }
    // E5M2 is the top byte of an IEEE half.
    case .float8E5M2: convert(src, count, false, dst) { (b: UInt8) in T(halfToFloat(UInt16(b) << 8)) }
    case .float8E4M3: convert(src, count, false, dst) { (b: UInt8) in T(float8E4M3ToFloat(b)) }
    }
}

@inline(__always)
private func convert<S: FixedWidthInteger, T>(
    _ src: UnsafeRawPointer, _ count: Int, _ swap: Bool,
    _ dst: UnsafeMutablePointer<T>, _ f: (S) -> T
) {
    let stride = MemoryLayout<S>.size
    if swap {
        for i in 0..<count { dst[i] = f(src.loadUnaligned(fromByteOffset: i * stride, as: S.self).byteSwapped) }
    } else {
        for i in 0..<count { dst[i] = f(src.loadUnaligned(fromByteOffset: i * stride, as: S.self)) }
    }
}

/// IEEE 754 binary16 → binary32, exact. Layout: sign(1) exponent(5, bias 15) mantissa(10).
/// Written out rather than using `Float16`, which macOS on Intel lacks.
@inline(__always)
func halfToFloat(_ h: UInt16) -> Float {
    let sign: UInt32 = UInt32(h & 0x8000) << 16
    let exponent = UInt32(h >> 10) & 0x1F
    let mantissa = UInt32(h & 0x3FF)
    switch exponent {
    case 0: // zero or subnormal: mantissa × 2^-24
        let magnitude = Float(mantissa) * 0x1p-24
        return sign != 0 ? -magnitude : magnitude
    case 0x1F: // inf / NaN (payload kept)
        return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
    default: // rebias 15 → 127
        return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
    }
}

/// FP8 E4M3FN → binary32, exact. Layout: sign(1) exponent(4, bias 7) mantissa(3);
/// no infinities, S.1111.111 is NaN.
@inline(__always)
func float8E4M3ToFloat(_ b: UInt8) -> Float {
    let exponent = Int((b >> 3) & 0xF)
    let mantissa = Float(b & 0x7)
    let magnitude: Float
    if exponent == 0xF && b & 0x7 == 0x7 {
        magnitude = .nan
    } else if exponent == 0 {
        magnitude = mantissa * 0x1p-9 // subnormal: m/8 × 2^-6
    } else {
        magnitude = (1 + mantissa / 8) * Float(sign: .plus, exponent: exponent - 7, significand: 1)
    }
    return b & 0x80 != 0 ? -magnitude : magnitude
}

/// Multiplies dimensions, returning nil for a negative dimension or on overflow.
func checkedElementCount(_ shape: [Int]) -> Int? {
    var n = 1
    for d in shape {
        guard d >= 0 else { return nil }
        let (p, overflow) = n.multipliedReportingOverflow(by: d)
        if overflow { return nil }
        n = p
    }
    return n
}

/// The raw little-endian bytes of a Float32/Float64 tensor, for writers. On little-endian
/// hosts this is the storage itself (no copy).
func withLittleEndianBytes<R>(of tensor: Tensor, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    let byteCount = tensor.count * tensor.dtype.byteCount
    if hostIsLittleEndian {
        return try body(UnsafeRawBufferPointer(start: tensor.storage.pointer, count: byteCount))
    }
    var swapped = [UInt8](repeating: 0, count: byteCount)
    let width = tensor.dtype.byteCount
    swapped.withUnsafeMutableBytes { dst in
        let src = UnsafeRawBufferPointer(start: tensor.storage.pointer, count: byteCount)
        for e in stride(from: 0, to: byteCount, by: width) {
            for k in 0..<width { dst[e + k] = src[e + width - 1 - k] }
        }
    }
    return try swapped.withUnsafeBytes { try body($0) }
}
