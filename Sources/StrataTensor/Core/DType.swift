/// The element type of a tensor, chosen at run time.
///
/// Kernels are generic over ``TensorScalar`` and every op dispatches once on the
/// dtype (see `dispatch(_:_:)`), so adding a storage type such as bfloat16 means
/// adding a case here and a conversion, not touching every op.
public enum DType: String, Sendable, CaseIterable, CustomStringConvertible {
    case float32
    case float64

    /// Bytes per element.
    public var byteCount: Int {
        switch self {
        case .float32: return 4
        case .float64: return 8
        }
    }

    public var description: String { rawValue }
}

/// A floating-point type a tensor can hold.
public protocol TensorScalar: BinaryFloatingPoint, Sendable where Self.RawSignificand: FixedWidthInteger {
    static var dtype: DType { get }
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

/// Generic code that runs for whichever scalar type a dtype names.
///
/// Swift has no generic closures, so each op that computes on raw elements
/// implements this protocol once; ``DType/dispatch(_:)`` picks the type.
public protocol ScalarKernel {
    associatedtype Result
    func run<T: TensorScalar>(_ type: T.Type) -> Result
}

extension DType {
    /// Runs `kernel` with the Swift type that stores this dtype.
    @inline(__always)
    public func dispatch<K: ScalarKernel>(_ kernel: K) -> K.Result {
        switch self {
        case .float32: return kernel.run(Float.self)
        case .float64: return kernel.run(Double.self)
        }
    }
}
