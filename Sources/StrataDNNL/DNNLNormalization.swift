// Batch normalization and local response normalization: forward and backward side by side.

import StrataTensor
import _CDNNL

extension DNNLBackend {
    // MARK: Batch normalization
    //
    // Strata saves (mean, 1/√(var + ε)) and does not pass ε to the apply and backward kernels;
    // oneDNN wants (mean, var) and ε. Both agree when oneDNN is given var' = 1/invStd² = var + ε
    // and ε' ≈ 0, which is what every primitive here except the statistics one gets. ε' is a tiny
    // positive number rather than 0: in a padded blocked layout (C not a multiple of 16) the
    // padding channels have variance 0, and 1/√0 would fill them with NaN; 1e-30 vanishes
    // next to any real var + ε.
    //
    // Scale and shift are always passed (ones and zeros when the layer has no affine part), so
    // one primitive serves both; oneDNN's backward with `use_shift` also needs DNNL_ARG_SHIFT
    // at execute time even though the shift does not enter the gradient.

    private static let bnFlags = dnnl_use_scale.rawValue | dnnl_use_shift.rawValue

    /// The layout batch norm runs in: the input's oneDNN layout if it is the CPU's own channel
    /// block; else, for images, that block (nChw16c on AVX-512, nChw8c on AVX2: oneDNN's JIT batch
    /// norm exists for its ISA's block only; plain or the other block run a reference kernel
    /// ~10–50× slower); [N, C] stays plain.
    func bnLayout(_ x: Tensor) -> MemoryDesc {
        let (_, md) = currentLayout(x)
        if x.rank != 4 || md.channelBlock == DNNLCapabilities.channelBlock { return md }
        return .channelBlocked(x.shape)
    }

    /// BN sees [N, C, H, W] or [N, C] in layout `data`; statistics are [C].
    private func bnDesc(
        _ data: MemoryDesc, prop: dnnl_prop_kind_t, eps: Float, globalStats: Bool,
        fuseReLU: Bool = false
    ) throws -> dnnl_batch_normalization_desc_t {
        var desc = dnnl_batch_normalization_desc_t()
        var data = data.raw
        let flags =
            Self.bnFlags | (globalStats ? dnnl_use_global_stats.rawValue : 0)
            | (fuseReLU ? dnnl_fuse_norm_relu.rawValue : 0)
        if prop == dnnl_backward {
            try check(
                dnnl_batch_normalization_backward_desc_init(&desc, prop, &data, &data, eps, flags),
                "batch normalization backward", "dnnl_batch_normalization_backward_desc_init")
        } else {
            try check(
                dnnl_batch_normalization_forward_desc_init(&desc, prop, &data, eps, flags),
                "batch normalization forward", "dnnl_batch_normalization_forward_desc_init")
        }
        return desc
    }

    /// Forward batch norm: `globalStats` normalizes with given (mean, var'), otherwise with the
    /// batch's, which it also returns.
    func bnForward(_ data: MemoryDesc, eps: Float, globalStats: Bool, fuseReLU: Bool = false) -> Primitive {
        cached(
            "bn.fwd\(globalStats ? ".global" : "")\(fuseReLU ? "+relu" : "")", [Int(eps.bitPattern)], layouts: [data]
        ) {
            var desc = try bnDesc(
                data, prop: globalStats ? dnnl_forward_inference : dnnl_forward_training, eps: eps,
                globalStats: globalStats, fuseReLU: fuseReLU)
            return try Primitive("batch normalization forward", desc: &desc)
        }
    }

    func scaleShift(_ weight: Tensor?, _ bias: Tensor?, channels c: Int) -> (Buffer, Buffer) {
        (weight?.storage ?? Tensor.ones([c]).storage, bias?.storage ?? Tensor.zeros([c]).storage)
    }

    /// Runs the batch-statistics forward: y, mean, biased variance.
    private func bnTrainingForward(_ x: Tensor, eps: Double, weight: Tensor?, bias: Tensor?) -> (
        Buffer, MemoryDesc, Buffer, Buffer
    ) {
        let c = x.shape[1]
        let f = bnForward(bnLayout(x), eps: Float(eps), globalStats: false)
        let dataMD = f.md(dnnl_query_src_md)
        let dstMD = f.md(dnnl_query_dst_md)
        let statMD = MemoryDesc.plain([c])
        let dst = resultBuffer(dstMD)
        let mean = Buffer(dtype: .float32, count: c)
        let variance = Buffer(dtype: .float32, count: c)
        let (scale, shift) = scaleShift(weight, bias, channels: c)
        orTrap {
            try f.execute([
                .init(DNNL_ARG_SRC, dataMD, input(x, as: dataMD)), .init(DNNL_ARG_DST, dstMD, dst),
                .init(DNNL_ARG_MEAN, statMD, mean), .init(DNNL_ARG_VARIANCE, statMD, variance),
                .init(DNNL_ARG_SCALE, statMD, scale), .init(DNNL_ARG_SHIFT, statMD, shift),
            ])
        }
        return (dst, dstMD, mean, variance)
    }

    /// Saved statistics from oneDNN's (mean, var).
    private func saved(mean: Buffer, variance: Buffer, eps: Double) -> BatchNormSaved {
        let c = mean.count
        let invStd = TensorStorage(dtype: .float32, count: c)
        let v = variance.typed(Float.self)
        let s = invStd.typed(Float.self)
        for i in 0..<c { s[i] = Float(1 / (Double(v[i]) + eps).squareRoot()) }
        return BatchNormSaved(mean: Tensor(shape: [c], storage: mean), invStd: Tensor(shape: [c], storage: invStd))
    }

    /// ε' for the primitives that take Strata's saved statistics.
    static let tinyEps: Float = 1e-30

    /// var' = 1/invStd² (= var + ε), for primitives created with ε' = ``tinyEps``.
    func varianceWithEps(_ saved: BatchNormSaved) -> Buffer {
        let c = saved.invStd.count
        let out = Buffer(dtype: .float32, count: c)
        let s = saved.invStd.storage.typed(Float.self)
        let v = out.typed(Float.self)
        for i in 0..<c {
            let d = Double(s[i])
            v[i] = Float(1 / (d * d))
        }
        return out
    }

    public func batchNormStatistics(_ x: Tensor, eps: Double) -> BatchNormSaved {
        guard x.dtype == .float32 else { return reference.batchNormStatistics(x, eps: eps) }
        let (_, _, mean, variance) = bnTrainingForward(x, eps: eps, weight: nil, bias: nil)
        return saved(mean: mean, variance: variance, eps: eps)
    }

    public func batchNormTraining(_ x: Tensor, eps: Double, weight: Tensor?, bias: Tensor?) -> (
        output: Tensor, saved: BatchNormSaved
    ) {
        guard x.dtype == .float32 else { return reference.batchNormTraining(x, eps: eps, weight: weight, bias: bias) }
        let (dst, dstMD, mean, variance) = bnTrainingForward(x, eps: eps, weight: weight, bias: bias)
        return (output(dst, dstMD, shape: x.shape), saved(mean: mean, variance: variance, eps: eps))
    }

    public func batchNormApply(_ x: Tensor, saved: BatchNormSaved, weight: Tensor?, bias: Tensor?) -> Tensor {
        guard x.dtype == .float32 else { return reference.batchNormApply(x, saved: saved, weight: weight, bias: bias) }
        if let folded = foldBatchNorm(x, saved: saved, weight: weight, bias: bias) { return folded }
        if x.rank == 4 && mayFuse(x, weight, bias) { return deferredNorm(x, saved: saved, weight: weight, bias: bias) }
        let c = x.shape[1]
        let f = bnForward(bnLayout(x), eps: Self.tinyEps, globalStats: true)
        let dataMD = f.md(dnnl_query_src_md)
        let dstMD = f.md(dnnl_query_dst_md)
        let statMD = MemoryDesc.plain([c])
        let dst = resultBuffer(dstMD)
        let (scale, shift) = scaleShift(weight, bias, channels: c)
        orTrap {
            try f.execute([
                .init(DNNL_ARG_SRC, dataMD, input(x, as: dataMD)), .init(DNNL_ARG_DST, dstMD, dst),
                .init(DNNL_ARG_MEAN, statMD, saved.mean.storage),
                .init(DNNL_ARG_VARIANCE, statMD, varianceWithEps(saved)),
                .init(DNNL_ARG_SCALE, statMD, scale), .init(DNNL_ARG_SHIFT, statMD, shift),
            ])
        }
        return output(dst, dstMD, shape: x.shape)
    }

    // ∂x, ∂γ, ∂β. With training statistics the gradient also flows through the batch mean and
    // variance; with global (running) statistics it is γ·invStd·∂y.
    public func batchNormBackward(
        _ gradOutput: Tensor, input x: Tensor, saved: BatchNormSaved, weight: Tensor?,
        trainingStatistics: Bool
    ) -> (input: Tensor, weight: Tensor, bias: Tensor) {
        guard x.dtype == .float32 else {
            return reference.batchNormBackward(
                gradOutput, input: x, saved: saved, weight: weight, trainingStatistics: trainingStatistics)
        }
        let c = x.shape[1]
        let global = !trainingStatistics
        let layout = bnLayout(x)
        let b = cached("bn.bwd\(global ? ".global" : "")", [], layouts: [layout]) {
            var hintDesc = try bnDesc(layout, prop: dnnl_forward_training, eps: Self.tinyEps, globalStats: global)
            let hint = try Primitive("batch normalization forward (hint)", desc: &hintDesc)
            var desc = try bnDesc(layout, prop: dnnl_backward, eps: Self.tinyEps, globalStats: global)
            return try Primitive("batch normalization backward", desc: &desc, hint: hint)
        }
        let dataMD = b.md(dnnl_query_src_md)
        let diffDstMD = b.md(dnnl_query_diff_dst_md)
        let diffSrcMD = b.md(dnnl_query_diff_src_md)
        let statMD = MemoryDesc.plain([c])
        let diffSrc = resultBuffer(diffSrcMD)
        let diffScale = Buffer(dtype: .float32, count: c)
        let diffShift = Buffer(dtype: .float32, count: c)
        let (scale, shift) = scaleShift(weight, nil, channels: c)
        orTrap {
            try b.execute([
                .init(DNNL_ARG_SRC, dataMD, input(x, as: dataMD)),
                .init(DNNL_ARG_DIFF_DST, diffDstMD, input(gradOutput, as: diffDstMD)),
                .init(DNNL_ARG_MEAN, statMD, saved.mean.storage),
                .init(DNNL_ARG_VARIANCE, statMD, varianceWithEps(saved)),
                .init(DNNL_ARG_SCALE, statMD, scale), .init(DNNL_ARG_SHIFT, statMD, shift),
                .init(DNNL_ARG_DIFF_SRC, diffSrcMD, diffSrc),
                .init(DNNL_ARG_DIFF_SCALE, statMD, diffScale), .init(DNNL_ARG_DIFF_SHIFT, statMD, diffShift),
            ])
        }
        return (
            output(diffSrc, diffSrcMD, shape: x.shape), Tensor(shape: [c], storage: diffScale),
            Tensor(shape: [c], storage: diffShift)
        )
    }

    // MARK: Local response normalization
    //
    // oneDNN's across-channel LRN is PyTorch's: k + α/n·Σx² over n channels centred on c. For
    // even n the windows differ (oneDNN's is symmetric, (n−1)/2 each side; PyTorch's has one
    // more channel before than after), so even sizes use the reference kernels.

    private func lrnKey(_ shape: [Int], _ size: Int, _ alpha: Double, _ beta: Double, _ k: Double) -> [Int] {
        shape + [size, Int(Float(alpha).bitPattern), Int(Float(beta).bitPattern), Int(Float(k).bitPattern)]
    }

    private func lrnForward(_ shape: [Int], _ size: Int, _ alpha: Double, _ beta: Double, _ k: Double) -> Primitive {
        cached("lrn.fwd", lrnKey(shape, size, alpha, beta, k)) {
            var desc = dnnl_lrn_desc_t()
            var data = MemoryDesc.plain(shape).raw
            try check(
                dnnl_lrn_forward_desc_init(
                    &desc, dnnl_forward_training, dnnl_lrn_across_channels, &data, Int64(size),
                    Float(alpha), Float(beta), Float(k)),
                "LRN forward", "dnnl_lrn_forward_desc_init")
            return try Primitive("LRN forward", desc: &desc)
        }
    }

    /// Runs the forward; returns y and the workspace the backward needs (if this implementation has one).
    private func lrnRun(_ x: Tensor, _ f: Primitive) -> (Buffer, MemoryDesc, Buffer?, MemoryDesc) {
        let dataMD = f.md(dnnl_query_src_md)
        let dstMD = f.md(dnnl_query_dst_md)
        let wsMD = f.md(dnnl_query_workspace_md)
        let dst = resultBuffer(dstMD)
        let ws = wsMD.isZero ? nil : Buffer.bytes(wsMD.byteCount)
        var args: [Primitive.Arg] = [
            .init(DNNL_ARG_SRC, dataMD, input(x, as: dataMD)), .init(DNNL_ARG_DST, dstMD, dst),
        ]
        if let ws { args.append(.init(DNNL_ARG_WORKSPACE, wsMD, ws)) }
        orTrap { try f.execute(args) }
        return (dst, dstMD, ws, wsMD)
    }

    public func localResponseNorm(_ x: Tensor, size: Int, alpha: Double, beta: Double, k: Double) -> Tensor {
        guard x.dtype == .float32, size % 2 == 1 else {
            return reference.localResponseNorm(x, size: size, alpha: alpha, beta: beta, k: k)
        }
        let (dst, dstMD, _, _) = lrnRun(x, lrnForward(x.shape, size, alpha, beta, k))
        return output(dst, dstMD, shape: x.shape)
    }

    public func localResponseNormBackward(
        _ gradOutput: Tensor, input x: Tensor, size: Int, alpha: Double, beta: Double, k: Double
    ) -> Tensor {
        guard x.dtype == .float32, size % 2 == 1 else {
            return reference.localResponseNormBackward(gradOutput, input: x, size: size, alpha: alpha, beta: beta, k: k)
        }
        let f = lrnForward(x.shape, size, alpha, beta, k)
        let b = cached("lrn.bwd", lrnKey(x.shape, size, alpha, beta, k)) {
            var desc = dnnl_lrn_desc_t()
            var data = MemoryDesc.plain(x.shape).raw
            try check(
                dnnl_lrn_backward_desc_init(
                    &desc, dnnl_lrn_across_channels, &data, &data, Int64(size),
                    Float(alpha), Float(beta), Float(k)),
                "LRN backward", "dnnl_lrn_backward_desc_init")
            return try Primitive("LRN backward", desc: &desc, hint: f)
        }
        // The protocol saves only the input: rerun the forward for the workspace (LRN is rare: AlexNet 2012).
        let wsMD = b.md(dnnl_query_workspace_md)
        let ws = wsMD.isZero ? nil : lrnRun(x, f).2
        let dataMD = b.md(dnnl_query_src_md)
        let diffDstMD = b.md(dnnl_query_diff_dst_md)
        let diffSrcMD = b.md(dnnl_query_diff_src_md)
        let diffSrc = resultBuffer(diffSrcMD)
        var args: [Primitive.Arg] = [
            .init(DNNL_ARG_SRC, dataMD, input(x, as: dataMD)),
            .init(DNNL_ARG_DIFF_DST, diffDstMD, input(gradOutput, as: diffDstMD)),
            .init(DNNL_ARG_DIFF_SRC, diffSrcMD, diffSrc),
        ]
        if let ws { args.append(.init(DNNL_ARG_WORKSPACE, wsMD, ws)) }
        orTrap { try b.execute(args) }
        return output(diffSrc, diffSrcMD, shape: x.shape)
    }
}
