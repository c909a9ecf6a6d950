// Element conversion between every pair of dtypes (Tensor.to), and per-element access for
// the few host paths that read or write storage-only dtypes without a kernel.

/// Element `i` of `s` as a Double (exact for every dtype except int64 beyond 2⁵³).
@inline(__always)
func loadDouble(_ s: TensorStorage, _ i: Int) -> Double {
    switch s.dtype {
    case .float32: return Double(s.typed(Float.self)[i])
    case .float64: return s.typed(Double.self)[i]
    case .bfloat16: return Double(s.typed(BFloat16.self)[i].float)
    case .float16: return Double(s.typed(Half.self)[i].float)
    case .int32: return Double(s.typed(Int32.self)[i])
    case .int64: return Double(s.typed(Int64.self)[i])
    }
}

/// `v` truncated toward zero into an integer type: NaN gives 0, out-of-range values saturate.
@inline(__always)
func truncatingClamped<I: FixedWidthInteger>(_ v: Double, _: I.Type) -> I {
    if v.isNaN { return 0 }
    if v <= Double(I.min) { return I.min }
    if v >= Double(I.max) { return I.max }
    return I(v.rounded(.towardZero))
}

/// Writes `v` into element `i` of `s`, rounded to its dtype (bfloat16 and float16 through
/// float32, as PyTorch converts doubles).
@inline(__always)
func storeDouble(_ s: TensorStorage, _ i: Int, _ v: Double) {
    switch s.dtype {
    case .float32: s.typed(Float.self)[i] = Float(v)
    case .float64: s.typed(Double.self)[i] = v
    case .bfloat16: s.typed(BFloat16.self)[i] = BFloat16(Float(v))
    case .float16: s.typed(Half.self)[i] = Half(Float(v))
    case .int32: s.typed(Int32.self)[i] = truncatingClamped(v, Int32.self)
    case .int64: s.typed(Int64.self)[i] = truncatingClamped(v, Int64.self)
    }
}

/// New storage of `dtype` holding `values`.
func storeDoubles(_ values: [Double], as dtype: DType) -> TensorStorage {
    let s = TensorStorage(dtype: dtype, count: values.count)
    for (i, v) in values.enumerated() { storeDouble(s, i, v) }
    return s
}

/// The first `count` elements of `src` converted to `target` in new storage.
func convertStorage(_ src: TensorStorage, count: Int, to target: DType) -> TensorStorage {
    // Memory a backend keeps off the host converts from a host copy.
    if !src.isHostMemory { return convertStorage(src.onHost(), count: count, to: target) }
    let dst = TensorStorage(dtype: target, count: count)
    switch (src.dtype, target) {
    case (let a, let b) where a == b:
        dst.pointer.copyMemory(from: src.pointer, byteCount: count * a.byteCount)
    case (.float32, .float64):
        let s = src.typed(Float.self)
        let d = dst.typed(Double.self)
        for i in 0..<count { d[i] = Double(s[i]) }
    case (.float64, .float32):
        let s = src.typed(Double.self)
        let d = dst.typed(Float.self)
        for i in 0..<count { d[i] = Float(s[i]) }
    // The hot paths of storage-only kernels (widen, compute, round back) in parallel chunks.
    case (.float32, .bfloat16):
        let s = src.typed(Float.self)
        let d = dst.typed(BFloat16.self)
        chunked(count) { r in for i in r { d[i] = BFloat16(s[i]) } }
    case (.bfloat16, .float32):
        let s = src.typed(BFloat16.self)
        let d = dst.typed(Float.self)
        chunked(count) { r in for i in r { d[i] = s[i].float } }
    case (.float32, .float16):
        let s = src.typed(Float.self)
        let d = dst.typed(Half.self)
        chunked(count) { r in for i in r { d[i] = Half(s[i]) } }
    case (.float16, .float32):
        let s = src.typed(Half.self)
        let d = dst.typed(Float.self)
        chunked(count) { r in for i in r { d[i] = s[i].float } }
    case (.int64, .int32):
        let s = src.typed(Int64.self)
        let d = dst.typed(Int32.self)
        for i in 0..<count { d[i] = Int32(clamping: s[i]) }
    case (.int32, .int64):
        let s = src.typed(Int32.self)
        let d = dst.typed(Int64.self)
        for i in 0..<count { d[i] = Int64(s[i]) }
    case (.int64, .float64):
        let s = src.typed(Int64.self)
        let d = dst.typed(Double.self)
        for i in 0..<count { d[i] = Double(s[i]) }
    case (.int64, .float32):
        // Int64 → Float directly: one rounding, as PyTorch.
        let s = src.typed(Int64.self)
        let d = dst.typed(Float.self)
        for i in 0..<count { d[i] = Float(s[i]) }
    default:
        // Through Double: exact for every remaining source (floats ≤ 53 bits, int32), and the
        // store rounds bfloat16/float16 through float32 as PyTorch does.
        for i in 0..<count { storeDouble(dst, i, loadDouble(src, i)) }
    }
    return dst
}

/// `body` over `0..<count` in parallel chunks (sequential for small counts).
private func chunked(_ count: Int, _ body: (Range<Int>) -> Void) {
    let chunk = 1 << 15
    if count <= chunk {
        body(0..<count)
        return
    }
    parallelFor((count + chunk - 1) / chunk) { c in body(c * chunk..<Swift.min(count, (c + 1) * chunk)) }
}

extension Tensor {
    /// Runs a computation that exists only for float32/float64 on a tensor of a reduced-precision
    /// storage dtype: the inputs are widened to the compute dtype (float32), `body` runs there
    /// (accumulating in float32) and its result is rounded back to this tensor's dtype.
    func widened(_ body: (Tensor) -> Tensor) -> Tensor {
        body(converted(to: dtype.computeDType)).converted(to: dtype)
    }
}

/// `t` widened to its compute dtype when it stores a reduced-precision float (else itself).
@inline(__always)
func widen(_ t: Tensor) -> Tensor { t.dtype.isReducedPrecisionFloat ? t.converted(to: t.dtype.computeDType) : t }

/// `t` widened, for optional inputs.
@inline(__always)
func widen(_ t: Tensor?) -> Tensor? { t.map { widen($0) } }
