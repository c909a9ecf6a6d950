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
            let ds = inner[0], ss = inner[1]
            var di = offs[0], si = offs[1]
            if ds == 1 && ss == 1 {
                (d + di).update(from: s + si, count: n)
            } else {
                for _ in 0..<n { d[di] = s[si]; di += ds; si += ss }
            }
        }
    }
}

func stridedCopy(from src: Tensor, srcOffset so: Int = 0, srcStrides ss: [Int],
                 to dst: Tensor, dstOffset dOff: Int = 0, dstStrides ds: [Int], shape: [Int]) {
    precondition(src.dtype == dst.dtype, "stridedCopy: dtype mismatch")
    if elementCount(shape) == 0 { return }
    let copy = StridedCopy(src: src, srcOffset: so, srcStrides: ss, dst: dst, dstOffset: dOff, dstStrides: ds, shape: shape)
    switch src.dtype.byteCount {
    case 2: copy.run(UInt16.self)
    case 4: copy.run(UInt32.self)
    default: copy.run(UInt64.self)
    }
}
