// The reference elementwise kernels: binary ops with NumPy broadcasting, unary maps and the
// constant power (the defaults of Backend.elementwise and Backend.power).

struct BinaryKernel: ScalarKernel {
    let a: Tensor, b: Tensor, op: BinaryOp, outShape: [Int]

    func run<T: TensorScalar>(_: T.Type) -> Tensor {
        let out = Tensor.empty(outShape, T.dtype)
        let o = out.storage.typed(T.self)
        let pa = a.storage.typed(T.self)
        let pb = b.storage.typed(T.self)
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
                let sa = inner[0]
                let sb = inner[1]
                var ia = offs[0]
                var ib = offs[1]
                for j in 0..<n {
                    o[off + j] = op.apply(pa[ia], pb[ib])
                    ia += sa
                    ib += sb
                }
            }
        }
        return out
    }
}

/// The reference binary op (``Backend/elementwise(_:_:_:)``'s default); `a` and `b` are already
/// checked: one dtype, broadcast-compatible shapes.
func referenceBinary(_ a: Tensor, _ b: Tensor, _ op: BinaryOp) -> Tensor {
    // bfloat16/float16 storage: computed in float32, the result rounded back once.
    if a.dtype.isReducedPrecisionFloat { return referenceBinary(widen(a), widen(b), op).converted(to: a.dtype) }
    if let kept = layoutPreservingBinary(a, b, op) { return kept }
    let outShape = broadcastShape(a.shape, b.shape)!
    return a.dtype.dispatch(BinaryKernel(a: a, b: b, op: op, outShape: outShape), op: "\(op)")
}

// MARK: Backend layouts (see TensorLayout)

/// `op` applied to the physical elements of operands a backend keeps in one layout, giving a
/// result in that layout; nil where the row-major path must run. Requires equal shapes (or a
/// one-element operand) and an op that keeps zeros zero, so that padding stays zero.
func layoutPreservingBinary(_ a: Tensor, _ b: Tensor, _ op: BinaryOp) -> Tensor? {
    let (da, la) = a.representation
    let (db, lb) = b.representation
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
        let pa = a.typed(T.self)
        let pb = b.typed(T.self)
        let zeroA: T = scalarA ? pa[0] : 0
        let zeroB: T = scalarB ? pb[0] : 0
        guard op.apply(zeroA, zeroB) == 0 else { return nil }
        let n = scalarA ? b.count : a.count
        let out = TensorStorage(dtype: T.dtype, count: n)
        let o = out.typed(T.self)
        let op = self.op
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

// MARK: Unary maps

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
        case .relu: for i in 0..<n { o[i] = p[i] < 0 ? 0 : p[i] } // NaN stays NaN, as in PyTorch
        case .sigmoid: for i in 0..<n { o[i] = 1 / (1 + T.exp(-p[i])) }
        case .tanh: for i in 0..<n { o[i] = T.tanh(p[i]) }
        case .square: for i in 0..<n { o[i] = p[i] * p[i] }
        case .reciprocal: for i in 0..<n { o[i] = 1 / p[i] }
        }
    }
}

/// The reference unary map (``Backend/elementwise(_:_:)``'s default).
func referenceUnary(_ x: Tensor, _ op: UnaryOp) -> Tensor {
    if x.dtype.isReducedPrecisionFloat { return x.widened { referenceUnary($0, op) } }
    return x.dtype.dispatch(UnaryKernel(x: x, op: op), op: "\(op)")
}

/// `x` raised to a constant power, elementwise, through Double (``Backend/power(_:exponent:)``'s default).
func referencePower(_ x: Tensor, exponent: Double) -> Tensor {
    let xs = x.doubles
    return Tensor.fromFunction(x.shape, dtype: x.dtype) { Double.pow(xs[$0], exponent) }
}
