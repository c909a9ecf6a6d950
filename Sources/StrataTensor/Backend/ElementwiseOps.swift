// The elementwise operations a backend computes (Backend.elementwise), with their definitions
// on one value.

/// A binary elementwise operation (``Backend/elementwise(_:_:_:)``); comparisons give 1 where true, else 0.
public enum BinaryOp: Sendable {
    /// Arithmetic; `maximum` and `minimum` pick `a` on ties.
    case add, sub, mul, div, maximum, minimum
    /// Comparisons: 1 where `a == b`, `a < b`, `a > b`, `a <= b`, `a >= b`, `a != b`; else 0.
    case equal, less, greater, lessEqual, greaterEqual, notEqual

    /// The op on one pair of values (the definition every backend computes).
    @inline(__always)
    func apply<T: TensorScalar>(_ x: T, _ y: T) -> T {
        switch self {
        case .add: return x + y
        case .sub: return x - y
        case .mul: return x * y
        case .div: return x / y
        case .maximum: return x >= y ? x : y
        case .minimum: return x <= y ? x : y
        case .equal: return x == y ? 1 : 0
        case .less: return x < y ? 1 : 0
        case .greater: return x > y ? 1 : 0
        case .lessEqual: return x <= y ? 1 : 0
        case .greaterEqual: return x >= y ? 1 : 0
        case .notEqual: return x != y ? 1 : 0
        }
    }
}

/// A unary elementwise operation (``Backend/elementwise(_:_:)``).
public enum UnaryOp: Sendable {
    /// eˣ, ln x, √x, |x|, max(x, 0) (NaN stays NaN), 1/(1 + e⁻ˣ), tanh x, x², 1/x.
    case exp, log, sqrt, abs, relu, sigmoid, tanh, square, reciprocal
}

extension UnaryOp {
    /// The op on one value (the definition; the reference kernels test with it whether it keeps zeros zero).
    func apply<T: TensorScalar>(_ v: T) -> T {
        switch self {
        case .exp: return T.exp(v)
        case .log: return T.log(v)
        case .sqrt: return T.sqrt(v)
        case .abs: return Swift.abs(v)
        case .relu: return v < 0 ? 0 : v
        case .sigmoid: return 1 / (1 + T.exp(-v))
        case .tanh: return T.tanh(v)
        case .square: return v * v
        case .reciprocal: return 1 / v
        }
    }
}
