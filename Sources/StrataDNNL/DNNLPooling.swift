// Max, average and adaptive-average pooling: forward and backward side by side.

import Dispatch
import StrataTensor
import _CDNNL

/// The oneDNN view of one pooling: PyTorch's ceil mode becomes extra right/bottom padding
/// (oneDNN derives the output size from the padding, not from a rounding mode).
struct PoolGeometryDNNL {
    let src: [Int], dst: [Int]
    let kernel: [Int64], strides: [Int64], padL: [Int64], padR: [Int64]
    /// Whether ceil mode added padding beyond `padH`/`padW` on the bottom or right.
    let ceilOverhang: Bool

    init(input: [Int], _ p: Pool2dParameters) {
        let (oh, ow) = p.outputSize(h: input[2], w: input[3])
        src = input
        dst = [input[0], input[1], oh, ow]
        kernel = [Int64(p.kernelH), Int64(p.kernelW)]
        strides = [Int64(p.strideH), Int64(p.strideW)]
        padL = [Int64(p.padH), Int64(p.padW)]
        // The right padding that makes oneDNN's floor formula give the ceil-mode output length.
        func right(_ size: Int, _ k: Int, _ s: Int, _ pad: Int, _ out: Int) -> Int {
            (size + 2 * pad - k) / s + 1 >= out ? pad : (out - 1) * s + k - size - pad
        }
        let rh = right(input[2], p.kernelH, p.strideH, p.padH, oh)
        let rw = right(input[3], p.kernelW, p.strideW, p.padW, ow)
        padR = [Int64(rh), Int64(rw)]
        ceilOverhang = rh > p.padH || rw > p.padW
    }

    var key: [Int] { src + dst + (kernel + strides + padL + padR).map(Int.init) }
}

extension DNNLBackend {
    /// `src` is the input's layout (forward) or the one ∂x is wanted in (backward); `dst` the
    /// output's (`any` in the forward: pooling keeps its input's layout).
    private func poolDesc(
        _ g: PoolGeometryDNNL, src: MemoryDesc, dst: MemoryDesc, forward: Bool, prop: dnnl_prop_kind_t,
        alg: dnnl_alg_kind_t
    ) throws -> dnnl_pooling_v2_desc_t {
        var desc = dnnl_pooling_v2_desc_t()
        var src = src.raw
        var dst = dst.raw
        let dilation: [Int64] = [0, 0]
        if forward {
            try check(
                dnnl_pooling_v2_forward_desc_init(
                    &desc, prop, alg, &src, &dst, g.strides, g.kernel, dilation, g.padL, g.padR),
                "pooling forward", "dnnl_pooling_v2_forward_desc_init")
        } else {
            try check(
                dnnl_pooling_v2_backward_desc_init(
                    &desc, alg, &src, &dst, g.strides, g.kernel, dilation, g.padL, g.padR),
                "pooling backward", "dnnl_pooling_v2_backward_desc_init")
        }
        return desc
    }

    /// Forward pooling primitive for input layout `src`; nil when oneDNN has no kernel for this case.
    private func poolForward(_ g: PoolGeometryDNNL, src: MemoryDesc, alg: dnnl_alg_kind_t, training: Bool) -> Primitive?
    {
        cachedIfImplemented("pool.fwd\(alg.rawValue)\(training ? ".train" : "")", g.key, layouts: [src]) {
            var desc = try poolDesc(
                g, src: src, dst: .any(g.dst), forward: true,
                prop: training ? dnnl_forward_training : dnnl_forward_inference, alg: alg)
            return try Primitive("pooling forward", desc: &desc)
        }
    }

    /// Backward pooling primitive for ∂y in layout `diffDst`; ∂x comes in the same kind of layout.
    private func poolBackward(_ g: PoolGeometryDNNL, diffDst: MemoryDesc, alg: dnnl_alg_kind_t) -> Primitive? {
        cachedIfImplemented("pool.bwd\(alg.rawValue)", g.key, layouts: [diffDst]) {
            let diffSrc = diffDst.sameKind(dims: g.src)
            var hintDesc = try poolDesc(
                g, src: diffSrc, dst: diffDst, forward: true, prop: dnnl_forward_training, alg: alg)
            let hint = try Primitive("pooling forward (hint)", desc: &hintDesc)
            var desc = try poolDesc(g, src: diffSrc, dst: diffDst, forward: false, prop: dnnl_backward_data, alg: alg)
            return try Primitive("pooling backward", desc: &desc, hint: hint)
        }
    }

    // MARK: Max pooling

    // oneDNN's max pooling records, in its workspace, the offset of each window's maximum
    // within the kernel (kh·KW + kw). The protocol's indices are flat offsets in the input plane
    // (h·W + w), which the backward (a scatter, kept on the reference kernel) consumes.
    public func maxPool2d(_ x: Tensor, _ p: Pool2dParameters) -> (output: Tensor, indices: Tensor) {
        guard x.dtype == .float32 else { return reference.maxPool2d(x, p) }
        let g = PoolGeometryDNNL(input: x.shape, p)
        // Indices only matter when the backward will run: without it, no workspace.
        let training = GradMode.isEnabled && x.requiresGrad
        guard let f = poolForward(g, src: currentLayout(x).1, alg: dnnl_pooling_max, training: training) else {
            return reference.maxPool2d(x, p)
        }
        let srcMD = f.md(dnnl_query_src_md)
        let dstMD = f.md(dnnl_query_dst_md)
        let dst = resultBuffer(dstMD)
        let source = input(x, as: srcMD)
        var args: [Primitive.Arg] = [.init(DNNL_ARG_SRC, srcMD, source), .init(DNNL_ARG_DST, dstMD, dst)]
        let wsMD = f.md(dnnl_query_workspace_md)
        let workspace = training ? Buffer.bytes(wsMD.byteCount) : nil
        if let workspace { args.append(.init(DNNL_ARG_WORKSPACE, wsMD, workspace)) }
        orTrap { try f.execute(args) }
        if !training && Self.containsNaN(source, count: srcMD.byteCount / 4) {
            propagateNaN(into: dst, dstMD, src: source, srcMD, g)
        }
        let y = output(dst, dstMD, shape: g.dst)
        guard let workspace else { return (y, .zeros([0], dtype: .int32)) }
        return (y, flatIndices(workspace: workspace, wsMD, g, p))
    }

    /// Whether any of the first `count` floats is NaN: one vectorized read pass, split over threads
    /// (≈ 1% of GoogLeNet's inference step, the model with the most max pooling).
    static func containsNaN(_ buffer: Buffer, count: Int) -> Bool {
        let p = buffer.typed(Float.self)
        let chunk = 1 << 16
        let chunks = (count + chunk - 1) / chunk
        let found = UnsafeMutablePointer<Bool>.allocate(capacity: max(chunks, 1))
        defer { found.deallocate() }
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let start = c * chunk
            let end = min(count, start + chunk)
            var mask = SIMD8<Int32>(repeating: 0)
            var i = start
            while i + 8 <= end {
                let v = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
                mask |= unsafeBitCast(v .!= v, to: SIMD8<Int32>.self)
                i += 8
            }
            var nan = mask != SIMD8<Int32>(repeating: 0)
            while i < end {
                nan = nan || p[i].isNaN
                i += 1
            }
            found[c] = nan
        }
        return (0..<chunks).contains { found[$0] }
    }

    /// oneDNN's max pooling keeps the larger of two values with `vmaxps`, which drops a NaN unless it
    /// comes last in the window; PyTorch's max pooling gives NaN for any window holding one. Where the
    /// input has a NaN (checked first, one read pass), an average pooling of the same windows is NaN
    /// exactly where PyTorch's max is (a sum with a NaN is NaN), and its NaNs are copied into the result.
    /// Left out in training, where a NaN input makes the loss non-finite and training stops anyway.
    private func propagateNaN(
        into dst: Buffer, _ dstMD: MemoryDesc, src: Buffer, _ srcMD: MemoryDesc, _ g: PoolGeometryDNNL
    ) {
        guard let a = poolForward(g, src: srcMD, alg: dnnl_pooling_avg_exclude_padding, training: false),
            a.md(dnnl_query_dst_md) == dstMD
        else { return }
        let avg = resultBuffer(dstMD)
        orTrap { try a.execute([.init(DNNL_ARG_SRC, srcMD, src), .init(DNNL_ARG_DST, dstMD, avg)]) }
        let count = dstMD.byteCount / 4
        let chunk = 1 << 16
        let (y, m) = (dst.typed(Float.self), avg.typed(Float.self))
        DispatchQueue.concurrentPerform(iterations: (count + chunk - 1) / chunk) { c in
            for i in c * chunk..<min(count, (c + 1) * chunk) where m[i].isNaN { y[i] = .nan }
        }
        withExtendedLifetime((avg, src)) {}
    }

    /// Converts oneDNN's workspace (kernel offsets, u8 or s32, in the output's layout) into flat
    /// input-plane offsets.
    private func flatIndices(workspace: Buffer, _ wsMD: MemoryDesc, _ g: PoolGeometryDNNL, _ p: Pool2dParameters)
        -> Tensor
    {
        let type = wsMD.raw.data_type
        let plain = MemoryDesc.plain(g.dst, type)
        let ws = reorder(workspace, from: wsMD, to: plain)
        let (planes, oh, ow, w) = (g.dst[0] * g.dst[1], g.dst[2], g.dst[3], g.src[3])
        let indices = Tensor.uninitialized(g.dst, dtype: .int32)
        let kw = p.kernelW
        indices.withUnsafeMutableBuffer(as: Int32.self) { out in
            func convert<W: BinaryInteger>(_ src: UnsafePointer<W>) {
                var i = 0
                for _ in 0..<planes {
                    for oy in 0..<oh {
                        let top = oy * p.strideH - p.padH
                        for ox in 0..<ow {
                            let k = Int(src[i])
                            out[i] = Int32((top + k / kw) * w + ox * p.strideW - p.padW + k % kw)
                            i += 1
                        }
                    }
                }
            }
            if type == dnnl_u8 {
                convert(UnsafePointer(ws.pointer.assumingMemoryBound(to: UInt8.self)))
            } else {
                convert(UnsafePointer(ws.pointer.assumingMemoryBound(to: Int32.self)))
            }
        }
        return indices
    }

    public func maxPool2dBackward(_ gradOutput: Tensor, indices: Tensor, inputShape: [Int]) -> Tensor {
        // A scatter of ∂L/∂y through the indices: memory-bound, and the reference kernel
        // already splits planes across cores.
        reference.maxPool2dBackward(gradOutput, indices: indices, inputShape: inputShape)
    }

    // MARK: Average pooling

    /// oneDNN's algorithm for PyTorch's divisor rule, or nil where they differ. PyTorch divides
    /// by the window clipped to the padded input (include_pad) or to the input (exclude);
    /// oneDNN's include_padding always divides by the full kernel, which differs only where
    /// ceil mode adds padding beyond `pad`. With no explicit padding, PyTorch's include rule
    /// equals the exclude rule.
    private func avgAlgorithm(_ g: PoolGeometryDNNL, _ p: Pool2dParameters) -> dnnl_alg_kind_t? {
        if !p.countIncludePad || (p.padH == 0 && p.padW == 0) { return dnnl_pooling_avg_exclude_padding }
        return g.ceilOverhang ? nil : dnnl_pooling_avg_include_padding
    }

    public func avgPool2d(_ x: Tensor, _ p: Pool2dParameters) -> Tensor {
        guard x.dtype == .float32 else { return reference.avgPool2d(x, p) }
        let g = PoolGeometryDNNL(input: x.shape, p)
        guard let alg = avgAlgorithm(g, p), let f = poolForward(g, src: currentLayout(x).1, alg: alg, training: false)
        else {
            return reference.avgPool2d(x, p)
        }
        let srcMD = f.md(dnnl_query_src_md)
        let dstMD = f.md(dnnl_query_dst_md)
        let dst = resultBuffer(dstMD)
        orTrap { try f.execute([.init(DNNL_ARG_SRC, srcMD, input(x, as: srcMD)), .init(DNNL_ARG_DST, dstMD, dst)]) }
        return output(dst, dstMD, shape: g.dst)
    }

    public func avgPool2dBackward(_ gradOutput: Tensor, inputShape: [Int], _ p: Pool2dParameters) -> Tensor {
        guard gradOutput.dtype == .float32 else {
            return reference.avgPool2dBackward(gradOutput, inputShape: inputShape, p)
        }
        let g = PoolGeometryDNNL(input: inputShape, p)
        guard let alg = avgAlgorithm(g, p), let b = poolBackward(g, diffDst: currentLayout(gradOutput).1, alg: alg)
        else {
            return reference.avgPool2dBackward(gradOutput, inputShape: inputShape, p)
        }
        let diffDstMD = b.md(dnnl_query_diff_dst_md)
        let diffSrcMD = b.md(dnnl_query_diff_src_md)
        let diffSrc = resultBuffer(diffSrcMD)
        orTrap {
            try b.execute([
                .init(DNNL_ARG_DIFF_DST, diffDstMD, input(gradOutput, as: diffDstMD)),
                .init(DNNL_ARG_DIFF_SRC, diffSrcMD, diffSrc),
            ])
        }
        return output(diffSrc, diffSrcMD, shape: g.src)
    }

    // MARK: Adaptive average pooling

    /// When the output size divides the input size, adaptive pooling is plain average pooling
    /// with kernel = stride = input/output (global average pooling is the common case).
    /// Other sizes have overlapping, uneven windows that oneDNN has no primitive for.
    private func adaptiveAsPlain(_ inputShape: [Int], _ out: (Int, Int)) -> Pool2dParameters? {
        let (h, w) = (inputShape[2], inputShape[3])
        guard h % out.0 == 0 && w % out.1 == 0 else { return nil }
        return Pool2dParameters(kernel: (h / out.0, w / out.1))
    }

    public func adaptiveAvgPool2d(_ x: Tensor, outputSize: (Int, Int)) -> Tensor {
        guard x.dtype == .float32, let p = adaptiveAsPlain(x.shape, outputSize) else {
            return reference.adaptiveAvgPool2d(x, outputSize: outputSize)
        }
        return avgPool2d(x, p)
    }

    public func adaptiveAvgPool2dBackward(_ gradOutput: Tensor, inputShape: [Int]) -> Tensor {
        guard gradOutput.dtype == .float32,
            let p = adaptiveAsPlain(inputShape, (gradOutput.shape[2], gradOutput.shape[3]))
        else {
            return reference.adaptiveAvgPool2dBackward(gradOutput, inputShape: inputShape)
        }
        return avgPool2dBackward(gradOutput, inputShape: inputShape, p)
    }
}
