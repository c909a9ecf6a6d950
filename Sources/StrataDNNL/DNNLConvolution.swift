// Convolution: forward, backward-data and backward-weights side by side.
//
// Every primitive is created with `format_tag_any` for activations and weights, so oneDNN
// picks its fast blocked layouts (nChw16c activations, OIhw16i16o-style weights); plain
// tensors are reordered in and out, weights once per change (see DNNLBackend.weightBuffer).

import StrataTensor
import _CDNNL

/// The oneDNN view of one convolution: dimensions and geometry.
struct ConvGeometryDNNL {
    let src: [Int] // N, C, H, W
    let weights: [Int] // K, C/g, kh, kw; or g, K/g, C/g, kh, kw when grouped
    let dst: [Int] // N, K, OH, OW
    let strides: [Int64]
    /// oneDNN counts dilation from 0 (a dense kernel has dilation 0); Strata from 1, as PyTorch.
    let dilates: [Int64]
    let padL: [Int64] // top, left
    let padR: [Int64] // bottom, right
    let groups: Int

    init(input: [Int], weight: [Int], _ p: Conv2dParameters) {
        let (oh, ow) = p.outputSize(h: input[2], w: input[3], kh: weight[2], kw: weight[3])
        src = input
        dst = [input[0], weight[0], oh, ow]
        groups = p.groups
        weights = p.groups == 1 ? weight : [p.groups, weight[0] / p.groups] + weight[1...]
        strides = [Int64(p.strideH), Int64(p.strideW)]
        dilates = [Int64(p.dilationH - 1), Int64(p.dilationW - 1)]
        padL = [Int64(p.padTop), Int64(p.padLeft)]
        padR = [Int64(p.padBottom), Int64(p.padRight)]
    }

    /// A 3×3, stride-1, undilated, ungrouped convolution: the shapes oneDNN's Winograd kernels take.
    var isWinogradCandidate: Bool {
        groups == 1 && weights.count == 4 && weights[2] == 3 && weights[3] == 3 && strides == [1, 1]
            && dilates == [0, 0]
    }

    /// Where Winograd beats direct convolution in all three training passes on this machine's
    /// class (AVX-512, oneDNN 2.6; `Benchmarks/layer_profile.py` per pass): 3×3 stride-1 layers with
    /// at least 32 input and output channels in whole channel blocks, at batch ≥ 16 (ResNet-50's
    /// 3×3 layers 1.7–2.4× faster; CIFAR ResNets' 32- and 64-channel stages 1.4–1.8×, their
    /// 16-channel stage slower, so left direct). oneDNN's own `auto` picks direct for every
    /// training pass.
    var prefersWinogradInTraining: Bool {
        DNNLCapabilities.hasWinograd && isWinogradCandidate && src[0] >= 16 && src[1] >= 32 && dst[1] >= 32
            && src[1] % DNNLCapabilities.channelBlock == 0 && dst[1] % DNNLCapabilities.channelBlock == 0
    }

    /// Everything that makes primitives differ, for the cache key.
    var key: [Int] { src + weights + dst + (strides + dilates + padL + padR).map(Int.init) }
}

extension ConvGeometryDNNL {
    /// An inference convolution with bfloat16 source, weights and result (any layouts) and a float32
    /// bias; oneDNN accumulates in float32. Throws where oneDNN has no bf16 kernel on this CPU.
    func bfloat16ForwardPrimitive(bias: Bool) throws -> Primitive {
        var desc = dnnl_convolution_desc_t()
        var src = MemoryDesc.any(self.src, dnnl_bf16).raw
        var wei = MemoryDesc.any(weights, dnnl_bf16).raw
        var dst = MemoryDesc.any(self.dst, dnnl_bf16).raw
        let biasMD: dnnl_memory_desc_t? = bias ? MemoryDesc.plain([self.dst[1]]).raw : nil
        try withOptionalPointer(to: biasMD) { b in
            try check(
                dnnl_dilated_convolution_forward_desc_init(
                    &desc, dnnl_forward_inference, dnnl_convolution_direct, &src, &wei, b,
                    &dst, strides, dilates, padL, padR),
                "bf16 convolution forward", "dnnl_dilated_convolution_forward_desc_init")
        }
        return try Primitive("bf16 convolution forward", desc: &desc)
    }
}

extension DNNLBackend {
    /// A bfloat16 convolution through oneDNN's bf16 primitive (CPUs with `avx512_bf16`, see
    /// ``DNNLCapabilities/hasBFloat16``): row-major bf16 input and weights are reordered into the
    /// primitive's layouts, the bias is given in float32, and the bf16 result comes back row-major.
    /// Nil (the reference kernels run) elsewhere, or when the weight is not bf16 too.
    func bfloat16Conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, _ p: Conv2dParameters) -> Tensor? {
        guard DNNLCapabilities.hasBFloat16, weight.dtype == .bfloat16, x.layout == nil else { return nil }
        let g = ConvGeometryDNNL(input: x.shape, weight: weight.shape, p)
        guard
            let f = cachedIfImplemented(
                "conv.fwd.bf16\(bias != nil ? "+bias" : "")", g.key,
                { () throws -> Primitive in
                    try g.bfloat16ForwardPrimitive(bias: bias != nil)
                })
        else { return nil }
        let srcMD = f.md(dnnl_query_src_md)
        let weiMD = f.md(dnnl_query_weights_md)
        let dstMD = f.md(dnnl_query_dst_md)
        let dst = resultBuffer(dstMD)
        var args: [Primitive.Arg] = [
            .init(DNNL_ARG_SRC, srcMD, reorder(x.storage, from: .plain(g.src, dnnl_bf16), to: srcMD)),
            .init(DNNL_ARG_WEIGHTS, weiMD, weightBuffer(weight, plain: .plain(g.weights, dnnl_bf16), as: weiMD)),
            .init(DNNL_ARG_DST, dstMD, dst),
        ]
        if let bias { args.append(.init(DNNL_ARG_BIAS, .plain([g.dst[1]]), withNoGrad { bias.to(.float32) }.storage)) }
        orTrap { try f.execute(args) }
        let out = TensorStorage(dtype: .bfloat16, count: g.dst.reduce(1, *))
        Reorders.convert(dst, from: dstMD, into: out, to: .plain(g.dst, dnnl_bf16))
        return Tensor(shape: g.dst, storage: out)
    }

    /// The algorithms to try for a convolution, in order: the first oneDNN has a kernel for wins.
    /// `training`: the primitive serves a training step (the backward passes, and a forward whose
    /// operands need gradients).
    func convAlgorithms(_ g: ConvGeometryDNNL, training: Bool) -> [dnnl_alg_kind_t] {
        switch convolutionAlgorithm {
        case .direct: return [dnnl_convolution_direct]
        case .auto where training && g.prefersWinogradInTraining, .winograd where g.isWinogradCandidate:
            return [dnnl_convolution_winograd, dnnl_convolution_auto]
        case .auto, .winograd: return [dnnl_convolution_auto]
        }
    }

    /// Creates a primitive with the first algorithm of ``convAlgorithms(_:training:)`` that oneDNN implements.
    func withConvAlgorithm(_ g: ConvGeometryDNNL, training: Bool, _ make: (dnnl_alg_kind_t) throws -> Primitive) throws
        -> Primitive
    {
        let algorithms = convAlgorithms(g, training: training)
        for a in algorithms.dropLast() {
            if let p = try? make(a) { return p }
        }
        return try make(algorithms.last!)
    }

    /// Cache-key entry for the algorithm setting.
    var convAlgorithmKey: Int { ConvolutionAlgorithm.allCases.firstIndex(of: convolutionAlgorithm)! }

    /// The forward primitive (forward_training, so that it also serves as the backward
    /// primitives' hint), with or without bias, and optional post-ops for fused inference.
    func convForwardPrimitive(
        _ g: ConvGeometryDNNL, bias: Bool, postOps: [DNNLAttributes.PostOp] = [], training: Bool = false
    ) -> Primitive {
        cached("conv.fwd\(bias ? "+bias" : "")\(postOps)", g.key + [convAlgorithmKey, training ? 1 : 0]) {
            try withConvAlgorithm(g, training: training) { algorithm in
                var desc = dnnl_convolution_desc_t()
                var src = MemoryDesc.any(g.src).raw
                var wei = MemoryDesc.any(g.weights).raw
                var dst = MemoryDesc.any(g.dst).raw
                let biasMD: dnnl_memory_desc_t? = bias ? MemoryDesc.plain([g.dst[1]]).raw : nil
                try withOptionalPointer(to: biasMD) { b in
                    try check(
                        dnnl_dilated_convolution_forward_desc_init(
                            &desc, dnnl_forward_training, algorithm, &src, &wei, b, &dst,
                            g.strides, g.dilates, g.padL, g.padR),
                        "convolution forward", "dnnl_dilated_convolution_forward_desc_init")
                }
                let attr = postOps.isEmpty ? nil : try DNNLAttributes(postOps: postOps)
                return try Primitive("convolution forward", desc: &desc, attr: attr)
            }
        }
    }

    public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, _ p: Conv2dParameters) -> Tensor {
        guard x.dtype == .float32 else {
            if x.dtype == .bfloat16, let y = bfloat16Conv2d(x, weight: weight, bias: bias, p) { return y }
            return reference.conv2d(x, weight: weight, bias: bias, p)
        }
        let g = ConvGeometryDNNL(input: x.shape, weight: weight.shape, p)
        if mayFuse(x, weight, bias) { return deferredConv(x, weight: weight, bias: bias, g) }
        if usesOwnWinograd(g) { return winogradConv2d(x, weight: weight, bias: bias, g) }
        let training = GradMode.isEnabled && (x.requiresGrad || weight.requiresGrad || bias?.requiresGrad == true)
        let f = convForwardPrimitive(g, bias: bias != nil, training: training)
        let srcMD = f.md(dnnl_query_src_md)
        let weiMD = f.md(dnnl_query_weights_md)
        let dstMD = f.md(dnnl_query_dst_md)
        let dst = resultBuffer(dstMD)
        var args: [Primitive.Arg] = [
            .init(DNNL_ARG_SRC, srcMD, input(x, as: srcMD)),
            .init(DNNL_ARG_WEIGHTS, weiMD, weightBuffer(weight, plain: .plain(g.weights), as: weiMD)),
            .init(DNNL_ARG_DST, dstMD, dst),
        ]
        if let bias { args.append(.init(DNNL_ARG_BIAS, .plain([g.dst[1]]), bias.storage)) }
        orTrap { try f.execute(args) }
        return output(dst, dstMD, shape: g.dst)
    }

    // ∂L/∂x: a "transposed" convolution of ∂L/∂y with the same weights.
    public func conv2dBackwardData(_ gradOutput: Tensor, weight: Tensor, inputShape: [Int], _ p: Conv2dParameters)
        -> Tensor
    {
        guard gradOutput.dtype == .float32 else {
            return reference.conv2dBackwardData(gradOutput, weight: weight, inputShape: inputShape, p)
        }
        let g = ConvGeometryDNNL(input: inputShape, weight: weight.shape, p)
        if let dx = winogradBackwardData(gradOutput, weight: weight, g) { return dx }
        let b = cached("conv.bwd_data", g.key + [convAlgorithmKey]) {
            try withConvAlgorithm(g, training: true) { algorithm in
                var desc = dnnl_convolution_desc_t()
                var diffSrc = MemoryDesc.any(g.src).raw
                var wei = MemoryDesc.any(g.weights).raw
                var diffDst = MemoryDesc.any(g.dst).raw
                try check(
                    dnnl_dilated_convolution_backward_data_desc_init(
                        &desc, algorithm, &diffSrc, &wei, &diffDst,
                        g.strides, g.dilates, g.padL, g.padR),
                    "convolution backward data", "dnnl_dilated_convolution_backward_data_desc_init")
                return try Primitive("convolution backward data", desc: &desc, hint: convForwardHint(g, algorithm))
            }
        }
        let diffDstMD = b.md(dnnl_query_diff_dst_md)
        let weiMD = b.md(dnnl_query_weights_md)
        let diffSrcMD = b.md(dnnl_query_diff_src_md)
        let diffSrc = resultBuffer(diffSrcMD)
        orTrap {
            try b.execute([
                .init(DNNL_ARG_DIFF_DST, diffDstMD, input(gradOutput, as: diffDstMD)),
                .init(DNNL_ARG_WEIGHTS, weiMD, weightBuffer(weight, plain: .plain(g.weights), as: weiMD)),
                .init(DNNL_ARG_DIFF_SRC, diffSrcMD, diffSrc),
            ])
        }
        return output(diffSrc, diffSrcMD, shape: g.src)
    }

    // ∂L/∂W: the correlation of the forward's input with ∂L/∂y (the op sums the bias gradient itself).
    public func conv2dBackwardWeight(_ gradOutput: Tensor, input x: Tensor, weightShape: [Int], _ p: Conv2dParameters)
        -> Tensor
    {
        guard x.dtype == .float32 else {
            return reference.conv2dBackwardWeight(gradOutput, input: x, weightShape: weightShape, p)
        }
        let g = ConvGeometryDNNL(input: x.shape, weight: weightShape, p)
        let b = cached("conv.bwd_weights", g.key + [convAlgorithmKey]) {
            try withConvAlgorithm(g, training: true) { algorithm in
                var desc = dnnl_convolution_desc_t()
                var src = MemoryDesc.any(g.src).raw
                var diffWei = MemoryDesc.any(g.weights).raw
                var diffDst = MemoryDesc.any(g.dst).raw
                try check(
                    dnnl_dilated_convolution_backward_weights_desc_init(
                        &desc, algorithm, &src, &diffWei, nil, &diffDst,
                        g.strides, g.dilates, g.padL, g.padR),
                    "convolution backward weights", "dnnl_dilated_convolution_backward_weights_desc_init")
                return try Primitive("convolution backward weights", desc: &desc, hint: convForwardHint(g, algorithm))
            }
        }
        let srcMD = b.md(dnnl_query_src_md)
        let diffDstMD = b.md(dnnl_query_diff_dst_md)
        let diffWeiMD = b.md(dnnl_query_diff_weights_md)
        let diffWei = resultBuffer(diffWeiMD)
        orTrap {
            try b.execute([
                .init(DNNL_ARG_SRC, srcMD, input(x, as: srcMD)),
                .init(DNNL_ARG_DIFF_DST, diffDstMD, input(gradOutput, as: diffDstMD)),
                .init(DNNL_ARG_DIFF_WEIGHTS, diffWeiMD, diffWei),
            ])
        }
        return output(diffWei, diffWeiMD, shape: weightShape, dims: g.weights, rowMajor: true)
    }

    /// The forward primitive descriptor a backward one is created against (no bias: the
    /// backward primitives here never compute the bias gradient). Created inside a cache
    /// `make` closure, so it must not take the cache lock itself.
    private func convForwardHint(_ g: ConvGeometryDNNL, _ algorithm: dnnl_alg_kind_t) throws -> Primitive {
        try g.uncachedForwardPrimitive(algorithm, name: "convolution forward (hint)")
    }
}

extension ConvGeometryDNNL {
    /// A forward-training primitive without bias, layouts left to oneDNN, not cached: a backward
    /// primitive's hint, or a probe of what oneDNN does on this CPU (``DNNLCapabilities``).
    func uncachedForwardPrimitive(_ algorithm: dnnl_alg_kind_t, name: String) throws -> Primitive {
        var desc = dnnl_convolution_desc_t()
        var src = MemoryDesc.any(self.src).raw
        var wei = MemoryDesc.any(weights).raw
        var dst = MemoryDesc.any(self.dst).raw
        try check(
            dnnl_dilated_convolution_forward_desc_init(
                &desc, dnnl_forward_training, algorithm, &src, &wei, nil, &dst,
                strides, dilates, padL, padR),
            name, "dnnl_dilated_convolution_forward_desc_init")
        return try Primitive(name, desc: &desc)
    }
}
