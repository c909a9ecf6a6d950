/// Copies a `shape`-sized block between two tensors, each addressed by an element
/// offset and per-dimension strides. Serves permute, slice, pad, concat and their backwards.
/// Bits are moved as unsigned integers of the element's width, so every dtype (bfloat16 and
/// the integer ones included) copies exactly.
struct StridedCopy {
    let src: Tensor, srcOffset: Int, srcStrides: [Int]
    let dst: Tensor, dstOffset: Int, dstStrides: [Int]
    let shape: [Int]

    func run<T>(_: T.Type) {
        let s = src.storage.pointer.assumingMemoryBound(to: T.self) + srcOffset
        let d = dst.storage.pointer.assumingMemoryBound(to: T.self) + dstOffset
        forEachBroadcastRow(outShape: shape, operandStrides: [dstStrides, srcStrides]) { _, offs, n, inner in
            let ds = inner[0]
            let ss = inner[1]
            var di = offs[0]
            var si = offs[1]
            if ds == 1 && ss == 1 {
                (d + di).update(from: s + si, count: n)
            } else {
                for _ in 0..<n {
                    d[di] = s[si]
                    di += ds
                    si += ss
                }
            }
        }
    }
}

func stridedCopy(
    from src: Tensor, srcOffset so: Int = 0, srcStrides ss: [Int],
    to dst: Tensor, dstOffset dOff: Int = 0, dstStrides ds: [Int], shape: [Int]
) {
    precondition(src.dtype == dst.dtype, "stridedCopy: dtype mismatch")
    if elementCount(shape) == 0 { return }
    let copy = StridedCopy(
        src: src, srcOffset: so, srcStrides: ss, dst: dst, dstOffset: dOff, dstStrides: ds, shape: shape)
    switch src.dtype.byteCount {
    case 2: copy.run(UInt16.self)
    case 4: copy.run(UInt32.self)
    default: copy.run(UInt64.self)
    }
}

/// A new row-major tensor of `shape` read from `x` at `offset` with `strides`
/// (``Backend/gatherStrided(_:offset:strides:shape:)``'s default).
func referenceGatherStrided(_ x: Tensor, offset: Int, strides: [Int], shape: [Int]) -> Tensor {
    let out = Tensor.empty(shape, x.dtype)
    stridedCopy(from: x, srcOffset: offset, srcStrides: strides, to: out, dstStrides: out.strides, shape: shape)
    return out
}

/// A tensor of `shape` filled with `fill`, `x` written into it at `offset` with `strides`
/// (``Backend/scatterStrided(_:into:offset:strides:fill:)``'s default).
func referenceScatterStrided(_ x: Tensor, into shape: [Int], offset: Int, strides: [Int], fill: Double) -> Tensor {
    let out = Tensor.full(shape, fill, dtype: x.dtype)
    stridedCopy(from: x, srcStrides: x.strides, to: out, dstOffset: offset, dstStrides: strides, shape: x.shape)
    return out
}

/// The portable concatenation (``Backend/concatenate(_:axis:)``'s default): strided copies.
func concatenateKernel(_ tensors: [Tensor], axis a: Int) -> Tensor {
    var outShape = tensors[0].shape
    outShape[a] = tensors.reduce(0) { $0 + $1.shape[a] }
    let out = Tensor.empty(outShape, tensors[0].dtype)
    let outStrides = out.strides
    var pos = 0
    for t in tensors {
        stridedCopy(
            from: t, srcStrides: t.strides, to: out, dstOffset: pos * outStrides[a], dstStrides: outStrides,
            shape: t.shape)
        pos += t.shape[a]
    }
    return out
}

/// The portable split (``Backend/split(_:axis:sizes:)``'s default): strided copies.
func splitKernel(_ x: Tensor, axis a: Int, sizes: [Int]) -> [Tensor] {
    var start = 0
    return sizes.map { size in
        var shape = x.shape
        shape[a] = size
        let out = Tensor.empty(shape, x.dtype)
        stridedCopy(
            from: x, srcOffset: start * x.strides[a], srcStrides: x.strides, to: out, dstStrides: out.strides,
            shape: shape)
        start += size
        return out
    }
}
