// Reductions over axes: sum, mean, max (with its argmax-routed backward), argmax. The kernels
// are the backend's reduceSum and reduceMax (reference: Reference/ReductionKernels.swift).

extension Tensor {
    /// Sum over `axes` (all axes when nil).
    public func sum(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let axesN = Set((axes ?? Array(0..<rank)).map { normalizeAxis($0, rank: rank, op: "sum") })
        let backend = Backends.current
        // bfloat16/float16: summed in float32 over every axis, rounded back once.
        let widens = dtype.isReducedPrecisionFloat
        var y = widens ? converted(to: dtype.computeDType) : self.detached()
        for axis in axesN.sorted(by: >) { y = backend.reduceSum(y, axis: axis) }
        if widens { y = y.converted(to: dtype) }
        let keptShape = shape.enumerated().map { axesN.contains($0.offset) ? 1 : $0.element }
        let outShape = keepDims ? keptShape : shape.enumerated().filter { !axesN.contains($0.offset) }.map(\.element)
        let out = y.viewed(as: outShape)
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
        shapeCheck(shape[a] > 0, "max", got: "shape \(shape)", expected: "a non-empty axis \(axis)")
        let (values, indices) = Backends.current.reduceMax(self, axis: a)
        var outShape = shape
        if keepDims { outShape[a] = 1 } else { outShape.remove(at: a) }
        let out = values.viewed(as: outShape)
        let source = shape
        return record("max", out, inputs: [self]) { g in
            // Host access: the gradient scattered to the argmax positions.
            let (outer, n, inner) = splitAround(source, axis: a)
            let gv = g.doubles
            let arg = indices.withHostBuffer(as: Int64.self) { Array($0) }
            var dx = [Double](repeating: 0, count: outer * n * inner)
            for o in 0..<outer {
                for j in 0..<inner { dx[(o * n + Int(arg[o * inner + j])) * inner + j] = gv[o * inner + j] }
            }
            return [Tensor(dx, shape: source).to(g.dtype)]
        }
    }

    /// Maximum over all elements.
    public func max() -> Tensor { reshaped([count]).max(axis: 0) }

    /// Indices of the maxima along `axis` (first one on ties), as integers.
    public func argmax(axis: Int) -> [Int] {
        let a = normalizeAxis(axis, rank: rank, op: "argmax")
        let indices = withNoGrad { Backends.current.reduceMax(self, axis: a).indices }
        return indices.withHostBuffer(as: Int64.self) { $0.map { Int($0) } }
    }
}
