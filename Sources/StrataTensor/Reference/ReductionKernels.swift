// The reference reductions over one axis (the defaults of Backend.reduceSum and Backend.reduceMax).

enum ReduceOp { case sum, max }

/// Reduces the middle dimension of a (outer, n, inner) view.
struct AxisReduceKernel: ScalarKernel {
    let x: Tensor, axis: Int, op: ReduceOp
    func run<T: TensorScalar>(_: T.Type) -> (values: Tensor, argmax: [Int]) {
        let (outer, n, inner) = splitAround(x.shape, axis: axis)
        var outShape = x.shape
        outShape[axis] = 1
        let out = Tensor.empty(outShape, T.dtype)
        let o = out.storage.typed(T.self)
        let p = x.storage.typed(T.self)
        var arg = [Int]()
        switch op {
        case .sum:
            for i in 0..<(outer * inner) { o[i] = 0 }
            for a in 0..<outer {
                for k in 0..<n {
                    let src = p + (a * n + k) * inner
                    let dst = o + a * inner
                    for j in 0..<inner { dst[j] += src[j] }
                }
            }
        case .max:
            precondition(n > 0, "max: cannot reduce an empty axis")
            arg = [Int](repeating: 0, count: outer * inner)
            for a in 0..<outer {
                for j in 0..<inner {
                    var best = p[a * n * inner + j]
                    var bi = 0
                    for k in 1..<max(n, 1) {
                        let v = p[(a * n + k) * inner + j]
                        if v > best || (v.isNaN && !best.isNaN) {
                            best = v
                            bi = k
                        }
                    }
                    o[a * inner + j] = best
                    arg[a * inner + j] = bi
                }
            }
        }
        return (out, arg)
    }
}

/// Sum over `axis`, kept with size 1 (``Backend/reduceSum(_:axis:)``'s default).
func referenceReduceSum(_ x: Tensor, axis: Int) -> Tensor {
    // bfloat16/float16: summed in float32, rounded back once.
    if x.dtype.isReducedPrecisionFloat { return x.widened { referenceReduceSum($0, axis: axis) } }
    return x.dtype.dispatch(AxisReduceKernel(x: x, axis: axis, op: .sum), op: "sum").values
}

/// Maximum over `axis` (kept with size 1) and the int64 index of the first maximum
/// (``Backend/reduceMax(_:axis:)``'s default).
func referenceReduceMax(_ x: Tensor, axis: Int) -> (values: Tensor, indices: Tensor) {
    if x.dtype.isReducedPrecisionFloat {
        // Widening is exact and monotonic: the same maxima, exactly representable back.
        let (values, indices) = referenceReduceMax(widen(x), axis: axis)
        return (values.converted(to: x.dtype), indices)
    }
    let (values, argmax) = x.dtype.dispatch(AxisReduceKernel(x: x, axis: axis, op: .max), op: "max")
    let indices = TensorStorage(dtype: .int64, count: argmax.count)
    let ip = indices.typed(Int64.self)
    for (i, k) in argmax.enumerated() { ip[i] = Int64(k) }
    return (values, Tensor(shape: values.shape, storage: indices))
}
