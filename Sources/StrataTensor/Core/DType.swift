/// The element type a tensor *stores*, chosen at run time.
///
/// What a tensor stores and what a kernel computes in are separate: `float32` and `float64`
/// are computed in themselves (``isComputable``), while `bfloat16` and `float16` are
/// storage-only floating-point types whose reference kernels widen to float32
/// (``computeDType``), accumulate there, and round the result back; `int32` and `int64` hold
/// indices and labels and have no arithmetic kernels. Kernels are generic over ``TensorScalar``
/// and every op dispatches once on the dtype (see ``dispatch(_:op:)``); dispatching a
/// storage-only dtype stops with a message naming the op and the dtype instead of reading
/// its memory as another type.
public enum DType: String, Sendable, CaseIterable, CustomStringConvertible {
    case float32
    case float64
    /// Brain floating point: float32's 8-bit exponent with 8 significant bits (7 stored).
    case bfloat16
    /// IEEE 754 binary16: 5-bit exponent, 11 significant bits.
    case float16
    case int32
    case int64

    /// Bytes per element.
    public var byteCount: Int {
        switch self {
        case .float32, .int32: return 4
        case .float64, .int64: return 8
        case .bfloat16, .float16: return 2
        }
    }

    /// Whether reference kernels compute in this type directly (float32, float64).
    public var isComputable: Bool { self == .float32 || self == .float64 }

    /// Whether this is a reduced-precision storage type (bfloat16, float16) that ops compute in
    /// ``computeDType`` with float32 accumulation.
    public var isReducedPrecisionFloat: Bool { self == .bfloat16 || self == .float16 }

    /// Whether this is an integer type (indices, labels).
    public var isInteger: Bool { self == .int32 || self == .int64 }

    /// The dtype kernels compute in for tensors that store this one: itself for float32 and
    /// float64, float32 for bfloat16 and float16 and int32, float64 for int64 (exact for |v| ≤ 2⁵³).
    public var computeDType: DType {
        switch self {
        case .float32, .float64: return self
        case .bfloat16, .float16, .int32: return .float32
        case .int64: return .float64
        }
    }

    /// The dtypes reference kernels compute in directly: float32 and float64.
    public static var computableCases: [DType] { allCases.filter(\.isComputable) }

    public var description: String { rawValue }
}

/// A Swift type whose values a ``TensorStorage`` can hold (the element type of its memory).
public protocol StorageElement {
    /// The dtype whose storage holds values of this type.
    static var dtype: DType { get }
}

/// A floating-point type reference kernels compute in (Float, Double).
public protocol TensorScalar: BinaryFloatingPoint, StorageElement, Sendable
where Self.RawSignificand: FixedWidthInteger {
    /// `exp`, `log`, `pow` and `sqrt` without Foundation's overload ambiguity.
    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    static func pow(_ x: Self, _ y: Self) -> Self
    static func sqrt(_ x: Self) -> Self
    static func tanh(_ x: Self) -> Self
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension Float: TensorScalar {
    public static var dtype: DType { .float32 }
    @inline(__always) public static func exp(_ x: Float) -> Float { expf(x) }
    @inline(__always) public static func log(_ x: Float) -> Float { logf(x) }
    @inline(__always) public static func pow(_ x: Float, _ y: Float) -> Float { powf(x, y) }
    @inline(__always) public static func sqrt(_ x: Float) -> Float { x.squareRoot() }
    @inline(__always) public static func tanh(_ x: Float) -> Float { tanhf(x) }
}

extension Double: TensorScalar {
    public static var dtype: DType { .float64 }
    @inline(__always) public static func exp(_ x: Double) -> Double { Platform.exp(x) }
    @inline(__always) public static func log(_ x: Double) -> Double { Platform.log(x) }
    @inline(__always) public static func pow(_ x: Double, _ y: Double) -> Double { Platform.pow(x, y) }
    @inline(__always) public static func sqrt(_ x: Double) -> Double { x.squareRoot() }
    @inline(__always) public static func tanh(_ x: Double) -> Double { Platform.tanh(x) }
}

extension Int32: StorageElement {
    public static var dtype: DType { .int32 }
}

extension Int64: StorageElement {
    public static var dtype: DType { .int64 }
}

/// A bfloat16 value as stored: the upper 16 bits of a float32.
///
/// Storage only: convert with ``init(_:)`` (round to nearest even, as PyTorch's
/// `.to(torch.bfloat16)`) and ``float``.
public struct BFloat16: StorageElement, Hashable, Sendable, CustomStringConvertible {
    public static var dtype: DType { .bfloat16 }
    /// The 16 stored bits.
    public var bitPattern: UInt16

    public init(bitPattern: UInt16) { self.bitPattern = bitPattern }

    /// `value` rounded to the nearest bfloat16, ties to even; NaN stays NaN (the quiet NaN
    /// 0x7FC0, as PyTorch's `c10::BFloat16`); overflow rounds to ±infinity.
    @inline(__always)
    public init(_ value: Float) {
        if value.isNaN {
            bitPattern = 0x7FC0
            return
        }
        let bits = value.bitPattern
        // Adding 0x7FFF plus the lowest kept bit rounds to nearest, ties to even.
        let bias: UInt32 = 0x7FFF &+ ((bits >> 16) & 1)
        bitPattern = UInt16(truncatingIfNeeded: (bits &+ bias) >> 16)
    }

    /// The exact float32 value.
    @inline(__always)
    public var float: Float { Float(bitPattern: UInt32(bitPattern) << 16) }

    public var description: String { "\(float)" }
}

/// A float16 value as stored (IEEE 754 binary16 bits).
public struct Half: StorageElement, Hashable, Sendable, CustomStringConvertible {
    public static var dtype: DType { .float16 }
    /// The 16 stored bits.
    public var bitPattern: UInt16

    public init(bitPattern: UInt16) { self.bitPattern = bitPattern }

    /// `value` rounded to the nearest float16, ties to even; overflow gives ±infinity.
    @inline(__always)
    public init(_ value: Float) {
        #if !(os(macOS) && arch(x86_64))
            bitPattern = Float16(value).bitPattern
        #else
            bitPattern = Half.softwareBits(value)
        #endif
    }

    /// The exact float32 value.
    @inline(__always)
    public var float: Float {
        #if !(os(macOS) && arch(x86_64))
            return Float(Float16(bitPattern: bitPattern))
        #else
            return Half.softwareFloat(bitPattern)
        #endif
    }

    public var description: String { "\(float)" }

    /// Binary16 bits of `value` without the `Float16` type (macOS on x86-64 lacks it):
    /// round to nearest even through float32 arithmetic.
    static func softwareBits(_ value: Float) -> UInt16 {
        let sign: UInt16 = value.sign == .minus ? 0x8000 : 0
        let a = abs(value)
        if a.isNaN { return 0x7E00 }
        if a >= 65520 { return sign | 0x7C00 } // rounds to infinity
        if a < 0x1p-14 { // subnormal: multiples of 2⁻²⁴
            return sign | UInt16((a * 0x1p24).rounded(.toNearestOrEven))
        }
        let e = Int(a.exponent) // -14…15
        let m = (a * Float(sign: .plus, exponent: 10 - e, significand: 1)).rounded(.toNearestOrEven) // 1024…2048
        return sign | UInt16((e + 15) << 10) &+ UInt16(m - 1024) // m = 2048 carries into the exponent
    }

    /// The float32 value of binary16 bits without the `Float16` type.
    static func softwareFloat(_ bits: UInt16) -> Float {
        let sign: Float = bits & 0x8000 != 0 ? -1 : 1
        let e = Int((bits >> 10) & 0x1F)
        let m = Float(bits & 0x3FF)
        if e == 0 { return sign * m * 0x1p-24 }
        if e == 31 { return m == 0 ? sign * .infinity : .nan }
        return sign * (1 + m / 1024) * Float(sign: .plus, exponent: e - 15, significand: 1)
    }
}

/// Generic code that runs for whichever scalar type a dtype names.
///
/// Swift has no generic closures, so each op that computes on raw elements
/// implements this protocol once; ``DType/dispatch(_:op:)`` picks the type.
public protocol ScalarKernel {
    associatedtype Result
    func run<T: TensorScalar>(_ type: T.Type) -> Result
}

extension DType {
    /// Runs `kernel` with the Swift type that stores this dtype. A storage-only dtype
    /// (bfloat16, float16, int32, int64) has no such type: an op that reaches here with one
    /// was not taught it (ops that support it widen to ``computeDType`` first), which is a
    /// programming error reported with the op (`op`, the caller by default) and the kernel.
    @inline(__always)
    public func dispatch<K: ScalarKernel>(_ kernel: K, op: String = #function) -> K.Result {
        switch self {
        case .float32: return kernel.run(Float.self)
        case .float64: return kernel.run(Double.self)
        case .bfloat16, .float16, .int32, .int64:
            preconditionFailure(
                "\(op) (\(K.self)): no kernel for storage-only dtype \(self); "
                    + "convert with .to(.\(computeDType)) first")
        }
    }
}
