// The oneDNN backend: every fat op of the Backend protocol on oneDNN primitives, for Float32.
// Float64 tensors (gradient checks) and the few cases oneDNN has no kernel for go to the
// reference backend. The ops themselves live in the DNNL*.swift files next to this one,
// forward and backward side by side.

import Foundation
import StrataTensor
import _CDNNL

/// A `Backend` on oneDNN (Intel's deep-learning kernels): direct and Winograd convolutions
/// with JIT code for the CPU's instruction set (AVX-512 or AVX2, see ``DNNLCapabilities``), pooling, batch norm and LRN, with primitives cached by op, shapes and
/// attributes, and weights reordered into oneDNN's blocked layouts once per change.
///
/// ```swift
/// Backends.setDefault(DNNLBackend())          // or: StrataBackends.configureDefault()
/// Backends.with(DNNLBackend()) { model(x) }   // for one computation
/// ```
///
/// Threads: oneDNN runs on OpenMP; ``DNNLThreads/count`` (default all cores, or
/// `STRATA_NUM_THREADS`) sets how many.
public final class DNNLBackend: Backend, @unchecked Sendable {
    public let name = "dnnl"

    /// How 3×3 convolutions are computed here (`StrataConfiguration.ConvolutionAlgorithm`):
    /// - `direct`: oneDNN's JIT kernels, the same arithmetic as the definition.
    /// - `auto`: Winograd F(4×4, 3×3) where it is faster, direct elsewhere. Inference: oneDNN chooses
    ///   (`convolution_auto`; up to 2× faster on VGG-16 and 1.6× on ResNet-18 at batch 32).
    ///   Training, where oneDNN 2.6 always picks direct: Winograd in all three passes for 3×3
    ///   stride-1 layers with ≥ 32 input and output channels in whole channel blocks at
    ///   batch ≥ 16 (measured 1.4–2.4× faster per pass), direct elsewhere. Numerically different
    ///   from direct convolution: ≤ 1e-4 relative per convolution and pass in the differential
    ///   tests, ≤ 2e-6 on the logits of every benchmarked zoo model (`strata bench --winograd-error`).
    /// - `winograd`: Winograd wherever oneDNN has a kernel for the shape, in training too
    ///   (forward, backward data and backward weights), even where `auto` would pick direct;
    ///   `auto` elsewhere. Experimental: see the README's figures.
    public typealias ConvolutionAlgorithm = StrataConfiguration.ConvolutionAlgorithm

    /// The convolution algorithm for new primitives. Default `.auto` (Winograd where faster).
    public let convolutionAlgorithm: ConvolutionAlgorithm

    /// Whether convolutions that need no gradient are deferred so that a following inference
    /// batch norm, residual add and ReLU fuse into them (see DNNLInferenceFusion.swift).
    public let fusion: Bool

    /// Float64 tensors and the cases oneDNN has no kernel for run here.
    let reference = ReferenceBackend()
    /// Convolution weights with a batch norm folded in.
    let foldCache = FoldCache()
    /// Winograd-transformed weights, for CPUs where oneDNN has no Winograd (DNNLWinograd.swift).
    let winogradWeights = WinogradWeightCache()

    public init(convolutionAlgorithm: ConvolutionAlgorithm = .auto, fusion: Bool = true) {
        self.convolutionAlgorithm = convolutionAlgorithm
        self.fusion = fusion
        _ = DNNLEngine.shared
    }

    // MARK: Caches

    private let lock = NSLock()
    private var primitives: [PrimitiveKey: AnyObject] = [:]
    private var weights: [WeightKey: WeightEntry] = [:]

    /// An op, every number that shapes its primitive (dimensions, strides, flags), and the
    /// layouts of its given (not `any`) memories.
    struct PrimitiveKey: Hashable {
        let op: String
        let values: [Int]
        let layouts: [MemoryDescKey]
    }

    /// The cached object for `op` and `values`, created by `make` on first use. Creating a
    /// primitive costs ~0.2–0.6 ms (JIT code generation), executing a small one a few µs.
    func cached<T: AnyObject>(_ op: String, _ values: [Int], layouts: [MemoryDesc] = [], _ make: () throws -> T) -> T {
        let key = PrimitiveKey(op: op, values: values, layouts: layouts.map(\.key))
        lock.lock()
        defer { lock.unlock() }
        if let hit = primitives[key] { return hit as! T }
        let made = orTrap(make)
        primitives[key] = made
        return made
    }

    /// Like ``cached(_:_:_:)`` but remembers a failure (`nil`), for primitives oneDNN may not
    /// implement (the caller then falls back to the reference kernels).
    func cachedIfImplemented<T: AnyObject>(
        _ op: String, _ values: [Int], layouts: [MemoryDesc] = [], _ make: () throws -> T
    ) -> T? {
        let key = PrimitiveKey(op: op, values: values, layouts: layouts.map(\.key))
        lock.lock()
        defer { lock.unlock() }
        if let hit = primitives[key] { return hit as? T }
        do {
            let made = try make()
            primitives[key] = made
            return made
        } catch let error as DNNLError where error.isUnimplemented {
            primitives[key] = NSNull()
            return nil
        } catch {
            fatalError("StrataDNNL: \(error)")
        }
    }

    /// Number of cached primitives (for tests and diagnostics).
    public var cachedPrimitiveCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return primitives.count
    }

    /// oneDNN's implementation name of every cached convolution primitive, by pass ("conv.fwd",
    /// "conv.bwd_data", "conv.bwd_weights" → ["jit_wino_4x3:avx512_core", ...]): which algorithm
    /// ran (tests, diagnostics).
    public var convolutionImplementations: [String: [String]] {
        var out: [String: [String]] = [:]
        for (op, names) in primitiveImplementations(prefix: "conv.") {
            out[op.hasPrefix("conv.fwd") ? "conv.fwd" : op, default: []] += names
        }
        return out
    }

    /// oneDNN's implementation name of every cached primitive whose op starts with `prefix`, by op
    /// ("bn.fwd" → ["bnorm_jit:avx2"], ...). A name with "ref" is a reference (non-JIT) kernel:
    /// a slow path on this CPU (tests, `strata bench --profile`).
    public func primitiveImplementations(prefix: String = "") -> [String: [String]] {
        lock.lock()
        defer { lock.unlock() }
        var out: [String: [String]] = [:]
        for (key, value) in primitives where key.op.hasPrefix(prefix) {
            if let p = value as? Primitive { out[key.op, default: []].append(p.implementation) }
        }
        return out
    }

    // MARK: Layouts
    //
    // Results stay in the layout their primitive chose (``DNNLLayout``: nChw16c for most
    // activations) and the next primitive takes them as they are; a reorder happens only where
    // layouts differ, or when Swift code reads the values (``Tensor/storage``).

    /// `buffer` (in layout `from`) converted to layout `to`; the same buffer when they agree.
    func reorder(_ buffer: Buffer, from: MemoryDesc, to: MemoryDesc) -> Buffer {
        Reorders.convert(buffer, from: from, to: to)
    }

    /// The layout `t`'s elements are held in now (its oneDNN layout, else row-major).
    func currentLayout(_ t: Tensor, dims: [Int]? = nil) -> (Buffer, MemoryDesc) {
        let (data, layout) = t.representation
        if let l = layout as? DNNLLayout, dims == nil || dims! == t.shape { return (data, l.md) }
        return (t.storage, .plain(dims ?? t.shape))
    }

    /// A Float32 tensor's values in layout `md` (reordered only when held in another layout).
    func input(_ t: Tensor, as md: MemoryDesc, dims: [Int]? = nil) -> Buffer {
        let (data, from) = currentLayout(t, dims: dims)
        return reorder(data, from: from, to: md)
    }

    /// A tensor of `shape` holding a primitive's result in layout `md`: kept in that layout
    /// unless `rowMajor` (parameter gradients, which optimizers update in place) or it is plain.
    func output(_ buffer: Buffer, _ md: MemoryDesc, shape: [Int], dims: [Int]? = nil, rowMajor: Bool = false) -> Tensor
    {
        let plain = MemoryDesc.plain(dims ?? shape, md.raw.data_type)
        let count = shape.reduce(1, *)
        if md == plain && buffer.count == count { return Tensor(shape: shape, storage: buffer) }
        if !rowMajor && dims == nil && md.dims == shape {
            return Tensor(shape: shape, physical: buffer, layout: DNNLLayout(md))
        }
        let dtype = md.dtype ?? .float32
        let storage = BufferPool.storage(bytes: count * dtype.byteCount, dtype: dtype)
        Reorders.convert(buffer, from: md, into: storage, to: plain)
        return Tensor(shape: shape, storage: storage)
    }

    /// A buffer for a primitive's result in layout `md`.
    /// Padded layouts start zeroed: oneDNN primitives do not all write their output's padding,
    /// and the padding must be zero (a NaN there would survive multiplication by zero weights).
    func resultBuffer(_ md: MemoryDesc) -> Buffer {
        let b = Buffer.bytes(md.byteCount)
        md.zeroPadding(b)
        return b
    }

    // MARK: Weights

    /// Reordered weights, keyed by the source storage's identity and the target layout.
    private struct WeightKey: Hashable { let storage: ObjectIdentifier, layout: MemoryDescKey }
    private final class WeightEntry {
        weak var source: TensorStorage?
        let version: Int
        let buffer: Buffer
        /// `version`: the source's version read before the reorder (a write during it makes the entry stale).
        init(source: TensorStorage, version: Int, buffer: Buffer) {
            (self.source, self.version, self.buffer) = (source, version, buffer)
        }
    }

    /// `weight` in layout `md`, reordered once and reused until the weight changes (optimizers
    /// write through ``Tensor/assign(_:)``, which bumps ``TensorStorage/version``).
    func weightBuffer(_ weight: Tensor, plain: MemoryDesc, as md: MemoryDesc) -> Buffer {
        if plain == md { return weight.storage }
        let storage = weight.storage
        let key = WeightKey(storage: ObjectIdentifier(storage), layout: md.key)
        lock.lock()
        if let hit = weights[key], hit.source === storage, hit.version == storage.version {
            lock.unlock()
            return hit.buffer
        }
        lock.unlock()
        let version = storage.version
        let buffer = reorder(storage, from: plain, to: md)
        lock.lock()
        defer { lock.unlock() }
        if weights.count > 4096 { weights = weights.filter { $0.value.source != nil } }
        weights[key] = WeightEntry(source: storage, version: version, buffer: buffer)
        return buffer
    }

    // MARK: Matrix product

    public func matmul(_ a: Tensor, _ b: Tensor, transA: Bool, transB: Bool) -> Tensor {
        guard a.dtype == .float32 else { return reference.matmul(a, b, transA: transA, transB: transB) }
        // oneDNN's sgemm (row-major, the same JIT GEMM its inner-product and matmul primitives use):
        // no primitive to create, so every shape is equally cheap to call.
        let m = transA ? a.shape[1] : a.shape[0]
        let k = transA ? a.shape[0] : a.shape[1]
        let n = transB ? b.shape[0] : b.shape[1]
        let c = BufferPool.storage(bytes: m * n * a.dtype.byteCount, dtype: a.dtype)
        if m * n > 0 {
            if k == 0 {
                c.pointer.initializeMemory(as: Float.self, repeating: 0, count: m * n)
            } else {
                DNNLThreads.applyToCurrentThread()
                let ta = CChar(UInt8(ascii: transA ? "T" : "N"))
                let tb = CChar(UInt8(ascii: transB ? "T" : "N"))
                orTrap {
                    try check(
                        dnnl_sgemm(
                            ta, tb, Int64(m), Int64(n), Int64(k), 1, a.storage.typed(Float.self), Int64(a.shape[1]),
                            b.storage.typed(Float.self), Int64(b.shape[1]), 0, c.typed(Float.self), Int64(n)),
                        "sgemm \(m)×\(k)·\(k)×\(n)", "dnnl_sgemm")
                }
            }
        }
        withExtendedLifetime((a, b)) {}
        return Tensor(shape: [m, n], storage: c)
    }
}

/// Calls `body` with a pointer to `value`, or nil.
@inline(__always)
func withOptionalPointer<T, R>(to value: T?, _ body: (UnsafePointer<T>?) throws -> R) rethrows -> R {
    guard var v = value else { return try body(nil) }
    return try withUnsafePointer(to: &v) { try body($0) }
}
