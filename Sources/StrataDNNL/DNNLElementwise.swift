// The memory-bound ops between the fat kernels, on oneDNN so that they run in the tensors'
// own layouts, on all threads (OpenMP, like the rest), and without a Swift loop per element.

import Dispatch
import StrataTensor
import _CDNNL

extension DNNLBackend {
    // MARK: ReLU

    // relu_use_dst_for_bwd: the backward reads the forward's output (which the op saves) rather
    // than its input. The negative slope is the NaN-preserving one of the post-ops (DNNLCore.swift):
    // with 0, oneDNN's max(x, 0) turns NaN into 0.

    private func reluDesc(_ data: MemoryDesc, forward: Bool, diff: MemoryDesc? = nil) throws -> dnnl_eltwise_desc_t {
        var desc = dnnl_eltwise_desc_t()
        var d = data.raw
        if forward {
            try check(
                dnnl_eltwise_forward_desc_init(
                    &desc, dnnl_forward_training, dnnl_eltwise_relu_use_dst_for_bwd, &d,
                    DNNLAttributes.nanPreservingReLUSlope, 0),
                "ReLU forward", "dnnl_eltwise_forward_desc_init")
        } else {
            var dd = (diff ?? data).raw
            try check(
                dnnl_eltwise_backward_desc_init(
                    &desc, dnnl_eltwise_relu_use_dst_for_bwd, &dd, &d,
                    DNNLAttributes.nanPreservingReLUSlope, 0),
                "ReLU backward", "dnnl_eltwise_backward_desc_init")
        }
        return desc
    }

    public func relu(_ x: Tensor) -> Tensor {
        guard x.dtype == .float32, x.count > 0, (1...5).contains(x.rank) else { return reference.relu(x) }
        if let fused = fuseReLU(x) { return fused }
        if x.count < 1 << 15 && x.layout == nil { return reference.relu(x) }
        let (src, md) = currentLayout(x)
        let f = cached("relu.fwd", [], layouts: [md]) {
            var desc = try reluDesc(md, forward: true)
            return try Primitive("ReLU forward", desc: &desc)
        }
        let dst = resultBuffer(md)
        orTrap { try f.execute([.init(DNNL_ARG_SRC, md, src), .init(DNNL_ARG_DST, md, dst)]) }
        return output(dst, md, shape: x.shape)
    }

    public func reluBackward(_ gradOutput: Tensor, output y: Tensor) -> Tensor {
        guard y.dtype == .float32, y.count > 0, (1...5).contains(y.rank) else {
            return reference.reluBackward(gradOutput, output: y)
        }
        if y.count < 1 << 15 && y.layout == nil && gradOutput.layout == nil {
            return reference.reluBackward(gradOutput, output: y)
        }
        let (dst, md) = currentLayout(y)
        let b = cached("relu.bwd", [], layouts: [md]) {
            var hintDesc = try reluDesc(md, forward: true)
            let hint = try Primitive("ReLU forward (hint)", desc: &hintDesc)
            var desc = try reluDesc(md, forward: false)
            return try Primitive("ReLU backward", desc: &desc, hint: hint)
        }
        let diffSrc = resultBuffer(md)
        orTrap {
            try b.execute([
                .init(DNNL_ARG_DST, md, dst), .init(DNNL_ARG_DIFF_DST, md, input(gradOutput, as: md)),
                .init(DNNL_ARG_DIFF_SRC, md, diffSrc),
            ])
        }
        return output(diffSrc, md, shape: y.shape)
    }

    // MARK: Addition

    public func add(_ a: Tensor, _ b: Tensor) -> Tensor {
        guard a.dtype == .float32, a.count > 0, (1...5).contains(a.rank) else { return reference.add(a, b) }
        if let fused = fuseAdd(a, b) { return fused }
        // Small row-major operands (optimizer updates, biases): a Swift loop beats a primitive call.
        if a.count < 1 << 15 && a.layout == nil && b.layout == nil { return reference.add(a, b) }
        // The result takes the layout of an operand already in a oneDNN layout (the other is
        // reordered to match), so a plain gradient added to a blocked one stays blocked.
        let (first, second) = currentLayout(a).1.isBlocked || !currentLayout(b).1.isBlocked ? (a, b) : (b, a)
        let (src0, md) = currentLayout(first)
        let p = cached("add", [], layouts: [md]) {
            var desc = dnnl_binary_desc_t()
            var m0 = md.raw
            var m1 = md.raw
            var d = md.raw
            try check(dnnl_binary_desc_init(&desc, dnnl_binary_add, &m0, &m1, &d), "add", "dnnl_binary_desc_init")
            return try Primitive("add", desc: &desc)
        }
        let dst = resultBuffer(md)
        orTrap {
            try p.execute([
                .init(DNNL_ARG_SRC_0, md, src0), .init(DNNL_ARG_SRC_1, md, input(second, as: md)),
                .init(DNNL_ARG_DST, md, dst),
            ])
        }
        return output(dst, md, shape: a.shape)
    }

    // MARK: Concatenation

    // DenseNet's and GoogLeNet's channel concatenation: each input in its own layout, the
    // output in the layout oneDNN picks (blocked when the inputs are).
    public func concatenate(_ tensors: [Tensor], axis: Int) -> Tensor {
        // One part (a dense block's first layer): the same values, left in their layout. (The
        // reference kernel would read them row-major, converting the tensor for good.)
        if tensors.count == 1 { return tensors[0].detached() }
        guard tensors[0].dtype == .float32, tensors[0].rank == 4, axis == 1, tensors.count > 1 else {
            return reference.concatenate(tensors, axis: axis)
        }
        var outShape = tensors[0].shape
        outShape[1] = tensors.reduce(0) { $0 + $1.shape[1] }
        if let written = concatenateIntoSlices(tensors, outShape: outShape) { return written }
        if let blocked = concatenateBlocked(tensors, outShape: outShape) { return blocked }
        let inputs = tensors.map { currentLayout($0) }
        let mds = inputs.map(\.1)
        let p = cached("concat", outShape, layouts: mds) {
            let engine = DNNLEngine.shared
            var pd: dnnl_primitive_desc_t?
            var dst = MemoryDesc.any(outShape).raw
            let srcs = mds.map(\.raw)
            try check(
                dnnl_concat_primitive_desc_create(
                    &pd, &dst, Int32(srcs.count), 1, srcs, engine.defaultAttr, engine.handle),
                "concat", "dnnl_concat_primitive_desc_create")
            return try Primitive("concat", pd: pd!)
        }
        let dstMD = p.md(dnnl_query_dst_md)
        let dst = resultBuffer(dstMD)
        var args: [Primitive.Arg] = inputs.enumerated().map { i, t in .init(DNNL_ARG_MULTIPLE_SRC + Int32(i), t.1, t.0)
        }
        args.append(.init(DNNL_ARG_DST, dstMD, dst))
        orTrap { try p.execute(args) }
        return output(dst, dstMD, shape: outShape)
    }

    /// Channel concatenation of channel-blocked tensors (nChw16c / nChw8c, ``DNNLCapabilities/channelBlock``)
    /// into a blocked result when a part starts inside a channel block (DenseNet-BC's growth of 12).
    /// oneDNN 2.6 then picks a row-major result, which the next kernel converted back; here each
    /// output block gathers its lanes from the parts in one pass. Nil (concatenate with oneDNN)
    /// when every part starts on a block.
    func concatenateBlocked(_ tensors: [Tensor], outShape: [Int], block: Int = DNNLCapabilities.channelBlock) -> Tensor?
    {
        let sizes = tensors.map { $0.shape[1] }
        var offsets: [Int] = []
        var total = 0
        for size in sizes {
            offsets.append(total)
            total += size
        }
        guard offsets.contains(where: { $0 % block != 0 }) else { return nil }
        // A part in another layout (a dense block's input: the stem's or a transition's output) is converted first.
        let parts = tensors.map { input($0, as: .channelBlocked($0.shape, block: block)) }

        // Runs of lanes of one output block that come from one block of one part.
        struct Run { let lane: Int, count: Int, part: Int, block: Int, sourceLane: Int }
        let outBlocks = (total + block - 1) / block
        var runs = [[Run]](repeating: [], count: outBlocks)
        for b in 0..<outBlocks {
            var lane = 0
            while lane < block && block * b + lane < total {
                let channel = block * b + lane
                let p = offsets.lastIndex { $0 <= channel }!
                let q = channel - offsets[p]
                let count = min(block - lane, block - q % block, sizes[p] - q)
                runs[b].append(Run(lane: lane, count: count, part: p, block: q / block, sourceLane: q % block))
                lane += count
            }
        }
        let md = MemoryDesc.channelBlocked(outShape, block: block)
        let out = Buffer.bytes(md.byteCount)
        let dst = out.typed(Float.self)
        let sources = parts.map { $0.typed(Float.self) }
        let partBlocks = sizes.map { ($0 + block - 1) / block }
        let (n, hw) = (outShape[0], outShape[2] * outShape[3])
        let work = n * outBlocks
        let threads = max(1, min(DNNLThreads.count, work))
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            for item in stride(from: t, to: work, by: threads) {
                let (image, b) = (item / outBlocks, item % outBlocks)
                let d = dst + item * hw * block
                let filled = min(block, total - block * b)
                for r in runs[b] {
                    let s = sources[r.part] + ((image * partBlocks[r.part] + r.block) * hw) * block + r.sourceLane
                    for p in 0..<hw { (d + p * block + r.lane).update(from: s + p * block, count: r.count) }
                }
                if filled < block {
                    for p in 0..<hw { (d + p * block + filled).update(repeating: 0, count: block - filled) }
                }
            }
        }
        withExtendedLifetime(parts) {}
        return Tensor(shape: outShape, physical: out, layout: DNNLLayout(md))
    }

    // The concatenation's backward. Channel offsets need not fall on a channel block (a
    // blocked layout cannot describe a part that starts inside a block), so ∂y is brought to
    // row-major once; there each part is, per image, one contiguous run of channels: a memcpy.
    // (Reordering each part from a strided view into a padded blocked layout measured 3× slower:
    // oneDNN's generic reorder handles padded layouts at ~1.6 GB/s.)
    public func split(_ x: Tensor, axis: Int, sizes: [Int]) -> [Tensor] {
        guard x.dtype == .float32, x.rank == 4, axis == 1, sizes.count > 1 else {
            return reference.split(x, axis: axis, sizes: sizes)
        }
        let (data, md) = currentLayout(x)
        if let block = md.channelBlock { return splitBlocked(data, shape: x.shape, sizes: sizes, block: block) }
        let whole = reorder(data, from: md, to: .plain(x.shape))
        let (n, c, hw) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        var offset = 0
        let parts = sizes.map { size -> Tensor in
            let out = Buffer.bytes(n * size * hw * x.dtype.byteCount, dtype: x.dtype)
            let src = whole.typed(Float.self)
            let dst = out.typed(Float.self)
            for image in 0..<n {
                (dst + image * size * hw).update(from: src + (image * c + offset) * hw, count: size * hw)
            }
            offset += size
            return Tensor(shape: [n, size, x.shape[2], x.shape[3]], storage: out)
        }
        withExtendedLifetime(whole) {}
        return parts
    }

    /// The parts of a channel-blocked tensor (nChw16c / nChw8c) along channels, each in the same
    /// layout (padding zeroed), in one pass: a part's block takes lanes from at most two source
    /// blocks. Going through the row-major layout (and back into blocks for the next kernel) took
    /// three passes, and most of DenseNet-BC's training step outside oneDNN.
    private func splitBlocked(_ data: Buffer, shape: [Int], sizes: [Int], block: Int) -> [Tensor] {
        let (n, c, hw) = (shape[0], shape[1], shape[2] * shape[3])
        let sourceBlocks = (c + block - 1) / block
        let src = data.typed(Float.self)
        var offset = 0
        let parts = sizes.map { size -> Tensor in
            let partShape = [n, size, shape[2], shape[3]]
            let md = MemoryDesc.channelBlocked(partShape, block: block)
            let out = Buffer.bytes(md.byteCount)
            let dst = out.typed(Float.self)
            let blocks = (size + block - 1) / block
            let first = offset
            let work = n * blocks
            let threads = max(1, min(DNNLThreads.count, work))
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                for item in stride(from: t, to: work, by: threads) {
                    let (image, partBlock) = (item / blocks, item % blocks)
                    let channel = first + partBlock * block // source channel of lane 0
                    let lanes = min(block, size - partBlock * block) // real channels in this block
                    let shift = channel % block
                    let fromFirst = min(lanes, block - shift) // lanes from source block channel / block
                    let s0 = src + (image * sourceBlocks + channel / block) * hw * block + shift
                    let s1 = src + (image * sourceBlocks + channel / block + 1) * hw * block
                    let d = dst + item * hw * block
                    for p in 0..<hw {
                        let cell = d + p * block
                        cell.update(from: s0 + p * block, count: fromFirst)
                        if lanes > fromFirst {
                            (cell + fromFirst).update(from: s1 + p * block, count: lanes - fromFirst)
                        }
                        if lanes < block { (cell + lanes).update(repeating: 0, count: block - lanes) }
                    }
                }
            }
            offset += size
            return Tensor(shape: partShape, physical: out, layout: DNNLLayout(md))
        }
        withExtendedLifetime(data) {}
        return parts
    }
}
