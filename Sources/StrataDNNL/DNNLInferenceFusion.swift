// Inference fusion: a convolution without gradients is not run at once but deferred
// (Tensor(deferred:)), so that what the network does next can be folded into it:
//
//   conv → batch norm (eval)   the normalization is folded into the weights and bias
//   conv → + residual          a `sum` post-op: the convolution accumulates onto the residual
//   conv → relu                a `relu` post-op
//
// in that order (ResNet's conv → bn → (+ shortcut) → relu becomes one primitive). Likewise a
// batch norm that cannot be folded (DenseNet's pre-activation: bn → relu → conv) is deferred
// so that a following ReLU runs inside it (oneDNN's fuse_norm_relu). Anything else that needs
// the result runs the deferred primitive. Models need no change: the fusion happens
// behind the Backend protocol, from the order the ops arrive in.

import Foundation
import StrataTensor
import _CDNNL

/// A convolution waiting to run, with the ops fused into it so far.
final class PendingConv: DeferredTensorData, @unchecked Sendable {
    let backend: DNNLBackend
    let input: Tensor
    let geometry: ConvGeometryDNNL
    /// The original weight and its version when deferred (for folding from the plain values).
    let weight: Tensor
    let weightVersion: Int
    /// Weights in `weightsMD`: a private buffer or an immutable cache entry, never the parameter.
    let weights: Buffer
    let weightsMD: MemoryDesc
    /// [K], private.
    let bias: Buffer?
    let foldedNorm: Bool
    let postOps: [DNNLAttributes.PostOp]
    /// The tensor a `sum` post-op adds.
    let residual: Tensor?

    private let lock = NSLock()
    private var result: (TensorStorage, (any TensorLayout)?)?

    init(
        backend: DNNLBackend, input: Tensor, geometry: ConvGeometryDNNL, weight: Tensor, weightVersion: Int,
        weights: Buffer,
        weightsMD: MemoryDesc, bias: Buffer?, foldedNorm: Bool = false, postOps: [DNNLAttributes.PostOp] = [],
        residual: Tensor? = nil
    ) {
        (self.backend, self.input, self.geometry, self.weight, self.weightVersion) = (
            backend, input, geometry, weight, weightVersion
        )
        (self.weights, self.weightsMD, self.bias, self.foldedNorm, self.postOps, self.residual) =
            (weights, weightsMD, bias, foldedNorm, postOps, residual)
    }

    func with(
        weights: Buffer? = nil, bias: Buffer?? = nil, foldedNorm: Bool? = nil, postOps: [DNNLAttributes.PostOp]? = nil,
        residual: Tensor?? = nil
    ) -> PendingConv {
        PendingConv(
            backend: backend, input: input, geometry: geometry, weight: weight, weightVersion: weightVersion,
            weights: weights ?? self.weights, weightsMD: weightsMD, bias: bias ?? self.bias,
            foldedNorm: foldedNorm ?? self.foldedNorm, postOps: postOps ?? self.postOps,
            residual: residual ?? self.residual)
    }

    /// Where the convolution already wrote its result: its part of a concatenation's output.
    private var part: (buffer: Buffer, md: MemoryDesc)?

    func realize() -> (TensorStorage, (any TensorLayout)?) {
        lock.lock()
        defer { lock.unlock() }
        if let result { return result }
        // Written into a concatenation: a copy of its own (the concatenation's memory stays the concatenation's).
        let r =
            part.map { (backend.copy($0.buffer, bytes: $0.md.byteCount), DNNLLayout($0.md) as (any TensorLayout)?) }
            ?? backend.run(self)
        result = r
        return r
    }

    /// Whether the convolution has run (realized, or written into a concatenation).
    var hasRun: Bool {
        lock.lock()
        defer { lock.unlock() }
        return result != nil || part != nil
    }

    /// The part of a concatenation the result was written into, if it was and has not been realized since.
    var writtenPart: Buffer? {
        lock.lock()
        defer { lock.unlock() }
        return result == nil ? part?.buffer : nil
    }

    /// Records that the result was written into `buffer` (layout `md`, part of a concatenation):
    /// realizing the tensor later copies it from there instead of running the convolution again.
    func wrote(into buffer: Buffer, _ md: MemoryDesc) {
        lock.lock()
        defer { lock.unlock() }
        if result == nil { part = (buffer, md) }
    }

    var tensor: Tensor { Tensor(shape: geometry.dst, dtype: .float32, deferred: self) }
}

/// A batch norm with fixed statistics waiting to run, possibly with a ReLU fused into it.
final class PendingNorm: DeferredTensorData, @unchecked Sendable {
    let backend: DNNLBackend
    let input: Tensor
    /// [C] each, private copies; `variance` is var + ε (see DNNLNormalization.swift).
    let mean: Buffer, variance: Buffer, scale: Buffer, shift: Buffer
    let relu: Bool

    private let lock = NSLock()
    private var result: (TensorStorage, (any TensorLayout)?)?

    init(backend: DNNLBackend, input: Tensor, mean: Buffer, variance: Buffer, scale: Buffer, shift: Buffer, relu: Bool)
    {
        (self.backend, self.input, self.mean, self.variance, self.scale, self.shift, self.relu) =
            (backend, input, mean, variance, scale, shift, relu)
    }

    func withReLU() -> PendingNorm {
        PendingNorm(
            backend: backend, input: input, mean: mean, variance: variance, scale: scale, shift: shift, relu: true)
    }

    func realize() -> (TensorStorage, (any TensorLayout)?) {
        lock.lock()
        defer { lock.unlock() }
        if let result { return result }
        let r = backend.run(self)
        result = r
        return r
    }

    var tensor: Tensor { Tensor(shape: input.shape, dtype: .float32, deferred: self) }
}

extension DNNLBackend {
    /// Whether ops on these tensors may be deferred and fused: no gradient will be asked of them.
    func mayFuse(_ tensors: Tensor?...) -> Bool {
        fusion && !(GradMode.isEnabled && tensors.contains { $0?.requiresGrad == true })
    }

    /// A deferred convolution (see the file comment).
    func deferredConv(_ x: Tensor, weight: Tensor, bias: Tensor?, _ g: ConvGeometryDNNL) -> Tensor {
        // The input runs now: chains of deferred convolutions would otherwise run recursively,
        // one stack frame chain per layer, when the last one is needed.
        _ = x.representation
        let f = convForwardPrimitive(g, bias: bias != nil)
        let md = f.md(dnnl_query_weights_md)
        let plain = MemoryDesc.plain(g.weights)
        var w = weightBuffer(weight, plain: plain, as: md)
        if w === weight.storage { w = copy(w, bytes: md.byteCount) } // the parameter may change before this runs
        let b = bias.map { copy($0.storage, bytes: $0.count * $0.dtype.byteCount) }
        return PendingConv(
            backend: self, input: x, geometry: g, weight: weight, weightVersion: weight.storage.version,
            weights: w, weightsMD: md, bias: b
        ).tensor
    }

    /// `t`'s values into `destination` in layout `md` (a copy when `t` is held in it, else a reorder).
    func copy(_ t: Tensor, into destination: Buffer, _ md: MemoryDesc) {
        let (data, from) = currentLayout(t)
        if from == md {
            destination.pointer.copyMemory(from: data.pointer, byteCount: md.byteCount)
        } else {
            Reorders.convert(data, from: from, into: destination, to: md)
        }
        withExtendedLifetime(data) {}
    }

    func copy(_ b: Buffer, bytes: Int) -> Buffer {
        let out = Buffer.bytes(bytes)
        out.pointer.copyMemory(from: b.pointer, byteCount: bytes)
        return out
    }

    /// Runs a pending convolution with everything fused into it.
    func run(_ pc: PendingConv) -> (TensorStorage, (any TensorLayout)?) {
        let g = pc.geometry
        if usesOwnWinograd(g) {
            let (dst, md) = runWinograd(pc)
            return (dst, DNNLLayout(md))
        }
        let f = convForwardPrimitive(g, bias: pc.bias != nil, postOps: pc.postOps)
        let srcMD = f.md(dnnl_query_src_md)
        let weiMD = f.md(dnnl_query_weights_md)
        let dstMD = f.md(dnnl_query_dst_md)
        let weights = reorder(pc.weights, from: pc.weightsMD, to: weiMD)
        let dst = resultBuffer(dstMD)
        // `sum` accumulates onto the destination: start it as a private copy of the residual.
        if let residual = pc.residual { copy(residual, into: dst, dstMD) }
        var args: [Primitive.Arg] = [
            .init(DNNL_ARG_SRC, srcMD, input(pc.input, as: srcMD)),
            .init(DNNL_ARG_WEIGHTS, weiMD, weights), .init(DNNL_ARG_DST, dstMD, dst),
        ]
        if let bias = pc.bias { args.append(.init(DNNL_ARG_BIAS, .plain([g.dst[1]]), bias)) }
        orTrap { try f.execute(args) }
        if dstMD == .plain(g.dst) { return (dst, nil) }
        return (dst, DNNLLayout(dstMD))
    }

    // MARK: Fusing the next op

    /// Batch norm with fixed statistics after a pending convolution: W' = W·s, b' = b·s + t with
    /// s = γ·invStd and t = β − mean·s per output channel. Nil when it cannot be folded.
    func foldBatchNorm(_ x: Tensor, saved: BatchNormSaved, weight: Tensor?, bias: Tensor?) -> Tensor? {
        guard let pc = x.deferred as? PendingConv, !pc.foldedNorm, pc.postOps.isEmpty, x.rank == 4,
            pc.weight.storage.version == pc.weightVersion, mayFuse(x, weight, bias)
        else { return nil }
        let k = pc.geometry.dst[1]
        let mean = saved.mean.floats
        let invStd = saved.invStd.floats
        let gamma = weight?.floats ?? [Float](repeating: 1, count: k)
        let beta = bias?.floats ?? [Float](repeating: 0, count: k)
        var scale = [Float](repeating: 0, count: k)
        var shift = [Float](repeating: 0, count: k)
        for c in 0..<k {
            scale[c] = invStd[c] * gamma[c]
            shift[c] = beta[c] - mean[c] * scale[c]
        }
        let folded = foldedWeights(pc, scale: scale)
        let newBias = Buffer.bytes(k * DType.float32.byteCount)
        let nb = newBias.typed(Float.self)
        let ob = pc.bias?.typed(Float.self)
        for c in 0..<k { nb[c] = (ob?[c] ?? 0) * scale[c] + shift[c] }
        return pc.with(weights: folded, bias: .some(newBias), foldedNorm: true).tensor
    }

    /// W·scale (per output channel) in the pending convolution's weight layout, cached while the
    /// weight and the scale stay the same (inference runs the same network again and again).
    private func foldedWeights(_ pc: PendingConv, scale: [Float]) -> Buffer {
        let storage = pc.weight.storage
        let key = FoldKey(
            storage: ObjectIdentifier(storage), version: pc.weightVersion, scale: scale, layout: pc.weightsMD.key)
        if let hit = foldCache.get(key, source: storage) { return hit }
        let plain = MemoryDesc.plain(pc.geometry.weights)
        let scaled = Buffer.bytes(plain.byteCount)
        let src = storage.typed(Float.self)
        let dst = scaled.typed(Float.self)
        let k = pc.geometry.dst[1]
        let perChannel = pc.weight.count / k
        for c in 0..<k {
            let s = scale[c]
            for i in c * perChannel..<(c + 1) * perChannel { dst[i] = src[i] * s }
        }
        let out = reorder(scaled, from: plain, to: pc.weightsMD)
        foldCache.put(key, source: storage, buffer: out)
        return out
    }

    /// ReLU after a pending convolution (a post-op) or a pending batch norm (fuse_norm_relu).
    func fuseReLU(_ x: Tensor) -> Tensor? {
        guard mayFuse(x), let d = x.deferred else { return nil }
        if let pc = d as? PendingConv, !pc.postOps.contains(.relu) {
            return pc.with(postOps: pc.postOps + [.relu]).tensor
        }
        if let pn = d as? PendingNorm, !pn.relu { return pn.withReLU().tensor }
        return nil
    }

    /// Batch norm with fixed statistics, deferred (its statistics and affine parameters copied now).
    func deferredNorm(_ x: Tensor, saved: BatchNormSaved, weight: Tensor?, bias: Tensor?) -> Tensor {
        let c = x.shape[1]
        let (scale, shift) = scaleShift(weight, bias, channels: c)
        return PendingNorm(
            backend: self, input: x, mean: copy(saved.mean.storage, bytes: c * saved.mean.dtype.byteCount),
            variance: varianceWithEps(saved),
            scale: copy(scale, bytes: c * scale.dtype.byteCount), shift: copy(shift, bytes: c * shift.dtype.byteCount),
            relu: false
        ).tensor
    }

    /// Runs a pending batch norm (with its ReLU if one was fused).
    ///
    /// oneDNN's fused ReLU (fuse_norm_relu) computes max(y, 0) and has no slope to keep NaN as the
    /// convolution post-ops do, so it turns NaN into 0. When the input or a [C] parameter holds a NaN
    /// (one vectorized read pass to find out), the batch norm runs unfused and a NaN-keeping ReLU follows.
    func run(_ pn: PendingNorm) -> (TensorStorage, (any TensorLayout)?) {
        let x = pn.input
        let c = x.shape[1]
        let md = bnLayout(x)
        let source = input(x, as: md)
        let nan =
            pn.relu
            && (Self.containsNaN(source, count: md.byteCount / 4)
                || [pn.mean, pn.variance, pn.scale, pn.shift].contains { Self.containsNaN($0, count: c) })
        let f = bnForward(md, eps: Self.tinyEps, globalStats: true, fuseReLU: pn.relu && !nan)
        let dataMD = f.md(dnnl_query_src_md)
        let dstMD = f.md(dnnl_query_dst_md)
        let statMD = MemoryDesc.plain([c])
        let dst = resultBuffer(dstMD)
        orTrap {
            try f.execute([
                .init(DNNL_ARG_SRC, dataMD, dataMD == md ? source : input(x, as: dataMD)),
                .init(DNNL_ARG_DST, dstMD, dst),
                .init(DNNL_ARG_MEAN, statMD, pn.mean), .init(DNNL_ARG_VARIANCE, statMD, pn.variance),
                .init(DNNL_ARG_SCALE, statMD, pn.scale), .init(DNNL_ARG_SHIFT, statMD, pn.shift),
            ])
        }
        let y = dstMD == .plain(x.shape) ? (dst as TensorStorage, nil as (any TensorLayout)?) : (dst, DNNLLayout(dstMD))
        guard nan else { return y }
        let withReLU = relu(output(dst, dstMD, shape: x.shape))
        return (withReLU.storage, withReLU.layout)
    }

    // MARK: Concatenation into slices

    /// A batch-1 channel concatenation whose pending convolutions (an Inception module's branches)
    /// write straight into their part of the output instead of into buffers of their own that are
    /// then copied; the other parts are reordered into theirs. In a channel-blocked layout with one
    /// image (nChw16c, or nChw8c on AVX2: block b), the channels [o, o + c) for o and c multiples of
    /// b are one contiguous, dense blocked tensor at byte offset 4·o·H·W, which oneDNN's JIT
    /// convolutions can write (they have no implementation for a strided slice, so larger batches
    /// concatenate as usual). Nil, and the caller concatenates as usual, when gradients are needed,
    /// the batch is not 1, a part's channels are not a multiple of b, or no part is a pending convolution.
    func concatenateIntoSlices(_ tensors: [Tensor], outShape: [Int]) -> Tensor? {
        let block = DNNLCapabilities.channelBlock
        guard fusion, outShape[0] == 1, !(GradMode.isEnabled && tensors.contains { $0.requiresGrad }),
            tensors.allSatisfy({ $0.shape[1] % block == 0 }),
            tensors.contains(where: { t in
                (t.deferred as? PendingConv).map { $0.residual == nil && !$0.hasRun } ?? false
            })
        else {
            return nil
        }
        let whole = MemoryDesc.channelBlocked(outShape, block: block)
        let dst = Buffer.bytes(whole.byteCount) // no padding: every part fills whole blocks
        var offset = 0
        for t in tensors {
            let md = MemoryDesc.channelBlocked(t.shape, block: block)
            let part = view(of: dst, byteOffset: offset * outShape[2] * outShape[3] * 4, count: t.count)
            offset += t.shape[1]
            if let pc = t.deferred as? PendingConv {
                if let earlier = pc.writtenPart { // written into an earlier concatenation (DenseNet)
                    part.pointer.copyMemory(from: earlier.pointer, byteCount: md.byteCount)
                    continue
                }
                if pc.residual == nil, !pc.hasRun, run(pc, into: part, md) { continue }
            }
            let (data, from) = currentLayout(t)
            Reorders.convert(data, from: from, into: part, to: md)
        }
        return output(dst, whole, shape: outShape)
    }

    /// `count` Float32 elements of `buffer` from `byteOffset` on, keeping `buffer` alive.
    private func view(of buffer: Buffer, byteOffset: Int, count: Int) -> Buffer {
        Buffer(dtype: .float32, count: count, pointer: buffer.pointer + byteOffset) { _ in
            withExtendedLifetime(buffer) {}
        }
    }

    /// Runs a pending convolution (no residual) into `part` (dense, layout `md`); false when the
    /// primitive's destination layout is not `md` (the caller copies instead).
    private func run(_ pc: PendingConv, into part: Buffer, _ md: MemoryDesc) -> Bool {
        let g = pc.geometry
        if usesOwnWinograd(g) && md == .channelBlocked(g.dst, block: 8) {
            _ = runWinograd(pc, into: part)
            pc.wrote(into: part, md)
            return true
        }
        let f = convForwardPrimitive(g, bias: pc.bias != nil, postOps: pc.postOps)
        guard f.md(dnnl_query_dst_md) == md else { return false }
        let srcMD = f.md(dnnl_query_src_md)
        let weiMD = f.md(dnnl_query_weights_md)
        var args: [Primitive.Arg] = [
            .init(DNNL_ARG_SRC, srcMD, input(pc.input, as: srcMD)),
            .init(DNNL_ARG_WEIGHTS, weiMD, reorder(pc.weights, from: pc.weightsMD, to: weiMD)),
            .init(DNNL_ARG_DST, md, part),
        ]
        if let bias = pc.bias { args.append(.init(DNNL_ARG_BIAS, .plain([g.dst[1]]), bias)) }
        orTrap { try f.execute(args) }
        pc.wrote(into: part, md)
        return true
    }

    /// A pending convolution plus another tensor of its shape: a `sum` post-op.
    func fuseAdd(_ a: Tensor, _ b: Tensor) -> Tensor? {
        guard mayFuse(a, b) else { return nil }
        for (x, other) in [(a, b), (b, a)] {
            if let pc = x.deferred as? PendingConv, pc.postOps.isEmpty {
                return pc.with(postOps: [.sum], residual: .some(other)).tensor
            }
        }
        return nil
    }
}

/// Folded weights, keyed by the source weight's identity and version, the scale, and the layout.
struct FoldKey: Hashable {
    let storage: ObjectIdentifier, version: Int, scale: [Float], layout: MemoryDescKey
}

final class FoldCache: @unchecked Sendable {
    private struct Entry {
        weak var source: TensorStorage?
        let buffer: Buffer
    }
    private let lock = NSLock()
    private var entries: [FoldKey: Entry] = [:]

    func get(_ key: FoldKey, source: TensorStorage) -> Buffer? {
        lock.lock()
        defer { lock.unlock() }
        guard let e = entries[key], e.source === source else { return nil }
        return e.buffer
    }

    func put(_ key: FoldKey, source: TensorStorage, buffer: Buffer) {
        lock.lock()
        defer { lock.unlock() }
        // One entry per weight (the latest version and scale); entries of dead weights go too.
        entries = entries.filter { $0.value.source != nil && $0.key.storage != key.storage }
        entries[key] = Entry(source: source, buffer: buffer)
    }
}
