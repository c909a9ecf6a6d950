// Elementwise arithmetic with NumPy broadcasting, and the unary maps.
// Each op's backward sits next to its forward; gradients of broadcast operands
// are summed back to the operand's shape.

enum BinaryOp {
    case add, sub, mul, div, maximum, minimum
    case equal, less, greater, lessEqual, greaterEqual, notEqual

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

struct BinaryKernel: ScalarKernel {
    let a: Tensor, b: Tensor, op: BinaryOp, outShape: [Int]

    func run<T: TensorScalar>(_: T.Type) -> Tensor {
        let out = Tensor.empty(outShape, T.dtype)
        let o = out.storage.typed(T.self), pa = a.storage.typed(T.self), pb = b.storage.typed(T.self)
        let op = self.op
        if a.shape == b.shape {
            for i in 0..<out.count { o[i] = op.apply(pa[i], pb[i]) }
        } else if b.count == 1 && a.shape == outShape {
            let y = pb[0]
            for i in 0..<out.count { o[i] = op.apply(pa[i], y) }
        } else if a.count == 1 && b.shape == outShape {
            let x = pa[0]
            for i in 0..<out.count { o[i] = op.apply(x, pb[i]) }
        } else {
            let strides = [broadcastStrides(a.shape, to: outShape), broadcastStrides(b.shape, to: outShape)]
            forEachBroadcastRow(outShape: outShape, operandStrides: strides) { off, offs, n, inner in
                let sa = inner[0], sb = inner[1]
                var ia = offs[0], ib = offs[1]
                for j in 0..<n {
                    o[off + j] = op.apply(pa[ia], pb[ib])
                    ia += sa; ib += sb
                }
            }
        }
        return out
    }
}

func binary(_ a: Tensor, _ b: Tensor, _ op: BinaryOp, name: String) -> Tensor {
    shapeCheck(a.dtype == b.dtype, name, got: "dtypes \(a.dtype) and \(b.dtype)", expected: "equal dtypes")
    guard let outShape = broadcastShape(a.shape, b.shape) else {
        shapeCheck(false, name, got: "shapes \(a.shape) and \(b.shape)", expected: "broadcast-compatible shapes")
        fatalError()
    }
    // bfloat16/float16 storage: computed in float32, the result rounded back once.
    if a.dtype.isReducedPrecisionFloat { return binary(widen(a), widen(b), op, name: name).converted(to: a.dtype) }
    if let kept = layoutPreservingBinary(a, b, op) { return kept }
    return a.dtype.dispatch(BinaryKernel(a: a, b: b, op: op, outShape: outShape), op: name)
}

// MARK: Backend layouts (see TensorLayout)

/// `op` applied to the physical elements of operands a backend keeps in one layout, giving a
/// result in that layout; nil where the row-major path must run. Requires equal shapes (or a
/// one-element operand) and an op that keeps zeros zero, so that padding stays zero.
func layoutPreservingBinary(_ a: Tensor, _ b: Tensor, _ op: BinaryOp) -> Tensor? {
    let (da, la) = a.representation, (db, lb) = b.representation
    guard la != nil || lb != nil else { return nil }
    if a.shape == b.shape, let layout = la ?? lb {
        // An operand in row-major order is rearranged into the other's layout, so that the
        // chain of activations stays in the backend's layout.
        let pa = la == nil ? layout.physical(fromRowMajor: da, shape: a.shape) : (la!.isSame(as: layout) ? da : nil)
        let pb = lb == nil ? layout.physical(fromRowMajor: db, shape: b.shape) : (lb!.isSame(as: layout) ? db : nil)
        guard let pa, let pb, pa.count == pb.count else { return nil }
        return a.dtype.dispatch(PhysicalBinaryKernel(a: pa, b: pb, scalarA: false, scalarB: false, op: op))
            .map { Tensor(shape: a.shape, physical: $0, layout: layout) }
    }
    if b.count == 1, b.rank <= a.rank, lb == nil, let la {
        return a.dtype.dispatch(PhysicalBinaryKernel(a: da, b: db, scalarA: false, scalarB: true, op: op))
            .map { Tensor(shape: a.shape, physical: $0, layout: la) }
    }
    if a.count == 1, a.rank <= b.rank, la == nil, let lb {
        return a.dtype.dispatch(PhysicalBinaryKernel(a: da, b: db, scalarA: true, scalarB: false, op: op))
            .map { Tensor(shape: b.shape, physical: $0, layout: lb) }
    }
    return nil
}

/// A binary op over physical storages (one of them may be a single scalar); nil when the op
/// would turn zero padding into non-zeros.
struct PhysicalBinaryKernel: ScalarKernel {
    let a: TensorStorage, b: TensorStorage, scalarA: Bool, scalarB: Bool, op: BinaryOp
    func run<T: TensorScalar>(_: T.Type) -> TensorStorage? {
        let pa = a.typed(T.self), pb = b.typed(T.self)
        let zeroA: T = scalarA ? pa[0] : 0, zeroB: T = scalarB ? pb[0] : 0
        guard op.apply(zeroA, zeroB) == 0 else { return nil }
        let n = scalarA ? b.count : a.count
        let out = TensorStorage(dtype: T.dtype, count: n)
        let o = out.typed(T.self), op = self.op
        if scalarB {
            let y = pb[0]
            for i in 0..<n { o[i] = op.apply(pa[i], y) }
        } else if scalarA {
            let x = pa[0]
            for i in 0..<n { o[i] = op.apply(x, pb[i]) }
        } else {
            for i in 0..<n { o[i] = op.apply(pa[i], pb[i]) }
        }
        return out
    }
}

extension Tensor {
    func scalarLike(_ v: Double) -> Tensor { Tensor(scalar: v, dtype: dtype) }

    public static func + (a: Tensor, b: Tensor) -> Tensor {
        // Equal shapes (residual additions, gradient accumulation) go to the backend.
        let out = a.shape == b.shape && a.dtype == b.dtype ? Backends.current.add(a, b) : binary(a, b, .add, name: "add")
        // Saved: only the shapes (a residual add keeps neither operand alive).
        let (sa, sb) = (a.shape, b.shape)
        return record("add", out, inputs: [a, b]) { g in [g.sumTo(sa), g.sumTo(sb)] }
    }

    public static func - (a: Tensor, b: Tensor) -> Tensor {
        let out = binary(a, b, .sub, name: "sub")
        let (sa, sb) = (a.shape, b.shape)
        return record("sub", out, inputs: [a, b]) { g in [g.sumTo(sa), (-g).sumTo(sb)] }
    }

    public static func * (a: Tensor, b: Tensor) -> Tensor {
        let out = binary(a, b, .mul, name: "mul")
        // Saved for backward: both operands.
        return record("mul", out, inputs: [a, b]) { g in
            [a.requiresGrad ? (g * b).sumTo(a.shape) : nil, b.requiresGrad ? (g * a).sumTo(b.shape) : nil]
        }
    }

    public static func / (a: Tensor, b: Tensor) -> Tensor {
        let out = binary(a, b, .div, name: "div")
        return record("div", out, inputs: [a, b]) { g in
            [a.requiresGrad ? (g / b).sumTo(a.shape) : nil,
             b.requiresGrad ? (-(g * a) / (b * b)).sumTo(b.shape) : nil]
        }
    }

    public static prefix func - (a: Tensor) -> Tensor {
        let out = binary(a, a.scalarLike(-1), .mul, name: "neg")
        return record("neg", out, inputs: [a]) { g in [-g] }
    }

    public static func + (a: Tensor, s: Double) -> Tensor { a + a.scalarLike(s) }
    public static func + (s: Double, a: Tensor) -> Tensor { a.scalarLike(s) + a }
    public static func - (a: Tensor, s: Double) -> Tensor { a - a.scalarLike(s) }
    public static func - (s: Double, a: Tensor) -> Tensor { a.scalarLike(s) - a }
    public static func * (a: Tensor, s: Double) -> Tensor { a * a.scalarLike(s) }
    public static func * (s: Double, a: Tensor) -> Tensor { a.scalarLike(s) * a }
    public static func / (a: Tensor, s: Double) -> Tensor { a / a.scalarLike(s) }
    public static func / (s: Double, a: Tensor) -> Tensor { a.scalarLike(s) / a }

    /// Elementwise maximum; the gradient goes to `self` where it is the larger (ties: `self`).
    public func maximum(_ other: Tensor) -> Tensor {
        let out = binary(self, other, .maximum, name: "maximum")
        let a = self
        return record("maximum", out, inputs: [a, other]) { g in
            let mask = binary(a, other, .greaterEqual, name: "maximum")
            return [(g * mask).sumTo(a.shape), (g * (1 - mask)).sumTo(other.shape)]
        }
    }

    /// Elementwise minimum; the gradient goes to `self` where it is the smaller (ties: `self`).
    public func minimum(_ other: Tensor) -> Tensor {
        let out = binary(self, other, .minimum, name: "minimum")
        let a = self
        return record("minimum", out, inputs: [a, other]) { g in
            let mask = binary(a, other, .lessEqual, name: "minimum")
            return [(g * mask).sumTo(a.shape), (g * (1 - mask)).sumTo(other.shape)]
        }
    }

    // Comparisons give 1 where true and 0 elsewhere; they are not differentiable.
    public func eq(_ other: Tensor) -> Tensor { binary(self, other, .equal, name: "eq") }
    public func ne(_ other: Tensor) -> Tensor { binary(self, other, .notEqual, name: "ne") }
    public func lt(_ other: Tensor) -> Tensor { binary(self, other, .less, name: "lt") }
    public func gt(_ other: Tensor) -> Tensor { binary(self, other, .greater, name: "gt") }
    public func le(_ other: Tensor) -> Tensor { binary(self, other, .lessEqual, name: "le") }
    public func ge(_ other: Tensor) -> Tensor { binary(self, other, .greaterEqual, name: "ge") }
    public func eq(_ s: Double) -> Tensor { eq(scalarLike(s)) }
    public func lt(_ s: Double) -> Tensor { lt(scalarLike(s)) }
    public func gt(_ s: Double) -> Tensor { gt(scalarLike(s)) }

    /// Sums a broadcast gradient back down to `target` (the inverse of broadcasting).
    public func sumTo(_ target: [Int]) -> Tensor {
        if shape == target { return self }
        let lead = rank - target.count
        precondition(lead >= 0, "sumTo: cannot reduce \(shape) to \(target)")
        var axes = Array(0..<lead)
        for i in 0..<target.count where target[i] == 1 && shape[lead + i] != 1 { axes.append(lead + i) }
        return sum(axes: axes, keepDims: true).reshaped(target)
    }

    /// Broadcasts to `target` (a copy; the backward sums back).
    public func expanded(to target: [Int]) -> Tensor {
        if shape == target { return self }
        guard broadcastShape(shape, target) == target else {
            shapeCheck(false, "expand", got: "\(shape)", expected: "a shape broadcastable to \(target)"); fatalError()
        }
        let out = binary(self, Tensor.zeros(target, dtype: dtype), .add, name: "expand")
        let source = shape
        return record("expand", out, inputs: [self]) { g in [g.sumTo(source)] }
    }
}

// MARK: Unary maps

enum UnaryOp {
    case exp, log, sqrt, abs, relu, sigmoid, tanh, square, reciprocal
}

struct UnaryKernel: ScalarKernel {
    let x: Tensor, op: UnaryOp
    func run<T: TensorScalar>(_: T.Type) -> Tensor {
        // A tensor in a backend layout stays in it when the op keeps zero padding zero.
        let (data, layout) = x.representation
        if let layout, op.apply(T(0)) == 0 {
            let out = TensorStorage(dtype: T.dtype, count: data.count)
            apply(data.typed(T.self), out.typed(T.self), data.count)
            return Tensor(shape: x.shape, physical: out, layout: layout)
        }
        let out = Tensor.empty(x.shape, T.dtype)
        apply(x.storage.typed(T.self), out.storage.typed(T.self), x.count)
        return out
    }

    func apply<T: TensorScalar>(_ p: UnsafeMutablePointer<T>, _ o: UnsafeMutablePointer<T>, _ n: Int) {
        switch op {
        case .exp: for i in 0..<n { o[i] = T.exp(p[i]) }
        case .log: for i in 0..<n { o[i] = T.log(p[i]) }
        case .sqrt: for i in 0..<n { o[i] = T.sqrt(p[i]) }
        case .abs: for i in 0..<n { o[i] = Swift.abs(p[i]) }
        case .relu: for i in 0..<n { o[i] = p[i] < 0 ? 0 : p[i] }   // NaN stays NaN, as in PyTorch
        case .sigmoid: for i in 0..<n { o[i] = 1 / (1 + T.exp(-p[i])) }
        case .tanh: for i in 0..<n { o[i] = T.tanh(p[i]) }
        case .square: for i in 0..<n { o[i] = p[i] * p[i] }
        case .reciprocal: for i in 0..<n { o[i] = 1 / p[i] }
        }
    }
}

extension UnaryOp {
    /// The op on one value (to test whether it keeps zeros zero).
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

// Ops whose backward reads their output save `y.detached()` (same storage, no gradFn):
// the closure lives in y.gradFn, so capturing y itself would be a retain cycle that keeps
// y and its whole graph alive until a backward pass happens to reach it.
extension Tensor {
    func unary(_ op: UnaryOp) -> Tensor {
        if dtype.isReducedPrecisionFloat { return widened { $0.unary(op) } }
        return dtype.dispatch(UnaryKernel(x: self, op: op), op: "\(op)")
    }

    public func exp() -> Tensor {
        let y = unary(.exp), saved = y.detached()
        return record("exp", y, inputs: [self]) { g in [g * saved] }   // saved: the output
    }

    public func log() -> Tensor {
        let y = unary(.log), x = self
        return record("log", y, inputs: [x]) { g in [g / x] }
    }

    public func sqrt() -> Tensor {
        let y = unary(.sqrt), saved = y.detached()
        return record("sqrt", y, inputs: [self]) { g in [g / (2 * saved)] }
    }

    public func abs() -> Tensor {
        let y = unary(.abs), x = self
        return record("abs", y, inputs: [x]) { g in [g * (x.gt(0) - x.lt(0))] }
    }

    public func squared() -> Tensor {
        let y = unary(.square), x = self
        return record("square", y, inputs: [x]) { g in [g * x * 2] }
    }

    public func sigmoid() -> Tensor {
        let y = unary(.sigmoid), saved = y.detached()
        return record("sigmoid", y, inputs: [self]) { g in [g * saved * (1 - saved)] }
    }

    public func tanh() -> Tensor {
        let y = unary(.tanh), saved = y.detached()
        return record("tanh", y, inputs: [self]) { g in [g * (1 - saved * saved)] }
    }

    /// `self` raised to a constant power.
    public func pow(_ exponent: Double) -> Tensor {
        let x = self
        let xs = x.doubles
        let y = Tensor.fromFunction(shape, dtype: dtype) { Double.pow(xs[$0], exponent) }
        return record("pow", y, inputs: [x]) { g in [g * x.pow(exponent - 1) * exponent] }
    }

    /// max(x, 0). The backward passes the gradient where the output is positive.
    /// Saved: the output, or, when the input can be rebuilt (a batch norm's output, see
    /// ``Rematerialization``), the recipe for the output, which the output also carries.
    public func relu() -> Tensor {
        let y = Backends.current.relu(self)
        guard let source = rematerialization, Tensor.needsGrad(self) else {
            let saved = y.detached()   // the output
            return record("relu", y, inputs: [self]) { g in [Backends.current.reluBackward(g, output: saved)] }
        }
        let output = Rematerialization(keepsValue: true) { Backends.current.relu(source.tensor()) }
        let out = record("relu", y, inputs: [self]) { g in [Backends.current.reluBackward(g, output: output.tensor())] }
        out.rematerialization = output
        return out
    }
}
