// Reductions over axes: sum, mean, max (with its argmax-routed backward), argmax.

enum ReduceOp { case sum, max }

/// Reduces the middle dimension of a (outer, n, inner) view.
struct AxisReduceKernel: ScalarKernel {
    let x: Tensor, axis: Int, op: ReduceOp
    func run<T: TensorScalar>(_: T.Type) -> (values: Tensor, argmax: [Int]) {
        let (outer, n, inner) = splitAround(x.shape, axis: axis)
        var outShape = x.shape
        outShape[axis] = 1
        let out = Tensor.empty(outShape, T.dtype)
        let o = out.storage.typed(T.self), p = x.storage.typed(T.self)
        var arg = [Int]()
        switch op {
        case .sum:
            for i in 0..<(outer * inner) { o[i] = 0 }
            for a in 0..<outer {
                for k in 0..<n {
                    let src = p + (a * n + k) * inner, dst = o + a * inner
                    for j in 0..<inner { dst[j] += src[j] }
                }
            }
        case .max:
            precondition(n > 0, "max: cannot reduce an empty axis")
            arg = [Int](repeating: 0, count: outer * inner)
            for a in 0..<outer {
                for j in 0..<inner {
                    var best = p[a * n * inner + j], bi = 0
                    for k in 1..<max(n, 1) {
                        let v = p[(a * n + k) * inner + j]
                        if v > best || (v.isNaN && !best.isNaN) { best = v; bi = k }
                    }
                    o[a * inner + j] = best
                    arg[a * inner + j] = bi
                }
            }
        }
        return (out, arg)
    }
}

extension Tensor {
    /// Sum over `axes` (all axes when nil).
    public func sum(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let axesN = Set((axes ?? Array(0..<rank)).map { normalizeAxis($0, rank: rank, op: "sum") })
        // bfloat16/float16: summed in float32, rounded back once.
        let widens = dtype.isReducedPrecisionFloat
        var y = widens ? converted(to: dtype.computeDType) : self.detached()
        for axis in axesN.sorted(by: >) {
            y = y.dtype.dispatch(AxisReduceKernel(x: y, axis: axis, op: .sum), op: "sum").values
        }
        if widens { y = y.converted(to: dtype) }
        let keptShape = shape.enumerated().map { axesN.contains($0.offset) ? 1 : $0.element }
        let outShape = keepDims ? keptShape : shape.enumerated().filter { !axesN.contains($0.offset) }.map(\.element)
        let out = Tensor(shape: outShape, storage: y.storage)
        let source = shape
        return record("sum", out, inputs: [self]) { g in [g.reshaped(keptShape).expanded(to: source)] }
    }

    /// Sum over one axis.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor { sum(axes: [axis], keepDims: keepDims) }

    /// Mean over `axes` (all axes when nil).
    public func mean(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let axesN = (axes ?? Array(0..<rank)).map { normalizeAxis($0, rank: rank, op: "mean") }
        let n = Set(axesN).reduce(1) { $0 * shape[$1] }
        return sum(axes: axesN, keepDims: keepDims) / Double(n)
    }

    public func mean(axis: Int, keepDims: Bool = false) -> Tensor { mean(axes: [axis], keepDims: keepDims) }

    /// Maximum along `axis`; the gradient flows to the first maximal element.
    public func max(axis: Int, keepDims: Bool = false) -> Tensor {
        let a = normalizeAxis(axis, rank: rank, op: "max")
        let (values, arg) = dtype.dispatch(AxisReduceKernel(x: self, axis: a, op: .max), op: "max")
        var outShape = shape
        if keepDims { outShape[a] = 1 } else { outShape.remove(at: a) }
        let out = Tensor(shape: outShape, storage: values.storage)
        let source = shape
        return record("max", out, inputs: [self]) { g in
            let (outer, n, inner) = splitAround(source, axis: a)
            let gv = g.doubles
            var dx = [Double](repeating: 0, count: outer * n * inner)
            for o in 0..<outer { for j in 0..<inner { dx[(o * n + arg[o * inner + j]) * inner + j] = gv[o * inner + j] } }
            return [Tensor(dx, shape: source).to(g.dtype)]
        }
    }

    /// Maximum over all elements.
    public func max() -> Tensor { reshaped([count]).max(axis: 0) }

    /// Indices of the maxima along `axis` (first one on ties), as integers.
    public func argmax(axis: Int) -> [Int] {
        let a = normalizeAxis(axis, rank: rank, op: "argmax")
        return withNoGrad { dtype.dispatch(AxisReduceKernel(x: self, axis: a, op: .max)).argmax }
    }
}
