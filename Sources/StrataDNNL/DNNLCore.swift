// The one Swift layer over oneDNN's v2 C API: errors, the engine, memory descriptors,
// primitives and their execution. Everything else in StrataDNNL speaks through these
// types, so a move to oneDNN 3.x (which changed the descriptor API) touches this file
// and the op files' descriptor calls only.

import Foundation
import StrataTensor
import _CDNNL

// MARK: Errors

/// A oneDNN call that did not return `dnnl_success`, with the primitive it was for.
public struct DNNLError: Error, CustomStringConvertible {
    /// The primitive being created or run ("convolution forward", "reorder", ...).
    public let primitive: String
    /// The C function that failed.
    public let call: String
    /// oneDNN's status name ("invalid_arguments", "unimplemented", ...).
    public let status: String
    /// True for `dnnl_unimplemented`: oneDNN has no kernel for this case (callers may fall back).
    public let isUnimplemented: Bool

    public var description: String { "oneDNN \(call) failed for \(primitive): \(status)" }
}

/// Checks one oneDNN status: every C call in StrataDNNL goes through here.
@inline(__always)
func check(_ status: dnnl_status_t, _ primitive: @autoclosure () -> String, _ call: StaticString) throws {
    if status != dnnl_success {
        throw DNNLError(
            primitive: primitive(), call: "\(call)", status: String(cString: dnnl_status2str(status)),
            isUnimplemented: status == dnnl_unimplemented)
    }
}

/// Runs `body`, turning a oneDNN failure into a trap that names the primitive. The Backend
/// protocol's kernels do not throw: a failure there is a bug in this backend (a descriptor
/// the op layer already validated), not a condition callers can handle.
@inline(__always)
func orTrap<R>(_ body: () throws -> R) -> R {
    do { return try body() } catch { fatalError("StrataDNNL: \(error)") }
}

// MARK: Engine

/// The CPU engine, created once per process.
final class DNNLEngine: @unchecked Sendable {
    static let shared: DNNLEngine = orTrap { try DNNLEngine() }

    let handle: dnnl_engine_t
    /// Primitive attributes every primitive is created with: a user-managed scratchpad,
    /// so that concurrent executions (tests run in parallel) never share oneDNN's global one.
    let defaultAttr: dnnl_primitive_attr_t

    private init() throws {
        var engine: dnnl_engine_t?
        try check(dnnl_engine_create(&engine, dnnl_cpu, 0), "CPU engine", "dnnl_engine_create")
        handle = engine!
        var attr: dnnl_primitive_attr_t?
        try check(dnnl_primitive_attr_create(&attr), "primitive attributes", "dnnl_primitive_attr_create")
        try check(
            dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "primitive attributes",
            "dnnl_primitive_attr_set_scratchpad_mode")
        defaultAttr = attr!
    }

    deinit {
        dnnl_primitive_attr_destroy(defaultAttr)
        dnnl_engine_destroy(handle)
    }
}

/// Owned primitive attributes (post-ops for fused inference); always with a user scratchpad.
final class DNNLAttributes {
    let handle: dnnl_primitive_attr_t

    init() throws {
        var attr: dnnl_primitive_attr_t?
        try check(dnnl_primitive_attr_create(&attr), "primitive attributes", "dnnl_primitive_attr_create")
        handle = attr!
        try check(
            dnnl_primitive_attr_set_scratchpad_mode(handle, dnnl_scratchpad_mode_user), "primitive attributes",
            "dnnl_primitive_attr_set_scratchpad_mode")
    }

    /// Post-ops applied to the primitive's result in order: `sum` adds the destination's
    /// previous contents (the residual), `relu` clamps.
    enum PostOp: Hashable { case sum, relu }

    convenience init(postOps: [PostOp]) throws {
        try self.init()
        if postOps.isEmpty { return }
        var ops: dnnl_post_ops_t?
        try check(dnnl_post_ops_create(&ops), "post-ops", "dnnl_post_ops_create")
        defer { dnnl_post_ops_destroy(ops) }
        for op in postOps {
            switch op {
            case .sum: try check(dnnl_post_ops_append_sum(ops, 1), "post-ops", "dnnl_post_ops_append_sum")
            case .relu:
                try check(
                    dnnl_post_ops_append_eltwise(ops, 1, dnnl_eltwise_relu, Self.nanPreservingReLUSlope, 0), "post-ops",
                    "dnnl_post_ops_append_eltwise")
            }
        }
        try check(dnnl_primitive_attr_set_post_ops(handle, ops), "post-ops", "dnnl_primitive_attr_set_post_ops")
    }

    deinit { dnnl_primitive_attr_destroy(handle) }

    /// The negative slope given to fused ReLU post-ops. With a slope of exactly 0 oneDNN computes
    /// max(x, 0), which turns NaN into 0 (the convolution of a NaN input gave finite logits); with
    /// any other slope it selects x > 0 ? x : slope·x, which keeps NaN, as PyTorch's ReLU does. The
    /// smallest normal Float makes a negative input's output ≤ 1.2e-38·|x|: zero for every purpose.
    static let nanPreservingReLUSlope = Float.leastNormalMagnitude
}

// MARK: Memory descriptors

/// A oneDNN memory descriptor (a plain C struct: dimensions, data type and layout).
struct MemoryDesc {
    var raw: dnnl_memory_desc_t

    init(_ raw: dnnl_memory_desc_t) { self.raw = raw }

    /// `dims` in layout `tag` (`dnnl_nchw`, `dnnl_oihw`, `dnnl_format_tag_any`, ...).
    init(_ dims: [Int], _ tag: dnnl_format_tag_t, _ type: dnnl_data_type_t = dnnl_f32) {
        var md = dnnl_memory_desc_t()
        let d = dims.map { Int64($0) }
        orTrap {
            try check(
                dnnl_memory_desc_init_by_tag(&md, Int32(d.count), d, type, tag), "memory descriptor \(dims)",
                "dnnl_memory_desc_init_by_tag")
        }
        raw = md
    }

    /// The row-major (plain) layout of `dims`, the layout of every Strata tensor's storage.
    static func plain(_ dims: [Int], _ type: dnnl_data_type_t = dnnl_f32) -> MemoryDesc {
        MemoryDesc(dims, plainTag(rank: dims.count), type)
    }

    /// "Let the primitive choose" (`format_tag_any`): it picks a blocked layout such as `nChw16c`.
    static func any(_ dims: [Int], _ type: dnnl_data_type_t = dnnl_f32) -> MemoryDesc {
        MemoryDesc(dims, dnnl_format_tag_any, type)
    }

    /// The Strata dtype of this descriptor's elements, or nil for a type Strata does not store (u8, s8).
    var dtype: DType? { DType(dnnl: raw.data_type) }

    static func plainTag(rank: Int) -> dnnl_format_tag_t {
        switch rank {
        case 1: return dnnl_a
        case 2: return dnnl_ab
        case 3: return dnnl_abc
        case 4: return dnnl_abcd
        case 5: return dnnl_abcde
        default: fatalError("StrataDNNL: no plain layout for rank \(rank)")
        }
    }

    /// Bytes a buffer in this layout needs (blocked layouts pad channels to the block size).
    var byteCount: Int { Int(withUnsafePointer(to: raw) { dnnl_memory_desc_get_size($0) }) }

    var dims: [Int] {
        withUnsafeBytes(of: raw.dims) { Array($0.bindMemory(to: Int64.self).prefix(Int(raw.ndims))).map(Int.init) }
    }

    /// Whether the descriptor is empty (a primitive without, say, a workspace returns a zero one).
    var isZero: Bool { raw.ndims == 0 }

    static func == (a: MemoryDesc, b: MemoryDesc) -> Bool {
        withUnsafePointer(to: a.raw) { pa in withUnsafePointer(to: b.raw) { pb in dnnl_memory_desc_equal(pa, pb) != 0 }
        }
    }

    /// A hashable identity of the layout (the descriptor's bytes), for caches.
    var key: MemoryDescKey { MemoryDescKey(self) }

    /// A short description of the layout, e.g. "[32, 64, 56, 56] blocked 16b" (for messages and tests).
    var formatDescription: String {
        var text = "\(dims)"
        switch raw.format_kind {
        case dnnl_blocked:
            let b = raw.format_desc.blocking
            let n = Int(b.inner_nblks)
            let blocks = withUnsafeBytes(of: b.inner_blks) { Array($0.bindMemory(to: Int64.self).prefix(n)) }
            let idxs = withUnsafeBytes(of: b.inner_idxs) { Array($0.bindMemory(to: Int64.self).prefix(n)) }
            let letters = Array("abcdef")
            text += n == 0 ? " plain" : " blocked " + zip(blocks, idxs).map { "\($0)\(letters[Int($1)])" }.joined()
        case dnnl_format_kind_any: text += " any"
        default: text += " opaque"
        }
        return text
    }

    /// `dims` [N, C, H, W] with channels in blocks of `block` (8: `nChw8c`, 16: `nChw16c`), the
    /// last block padded with zeros when C is not a multiple of `block`.
    static func channelBlocked(_ dims: [Int], block: Int = DNNLCapabilities.channelBlock) -> MemoryDesc {
        switch block {
        case 16: return MemoryDesc(dims, dnnl_aBcd16b)
        case 8: return MemoryDesc(dims, dnnl_aBcd8b)
        default: fatalError("StrataDNNL: no channel-blocked layout with blocks of \(block)")
        }
    }

    /// The block size when this is a 4-d `nChw8c` or `nChw16c` layout (dense, padded only in its
    /// last channel block); nil for any other layout.
    var channelBlock: Int? {
        let d = dims
        guard d.count == 4, isBlocked, raw.format_desc.blocking.inner_nblks == 1,
            raw.format_desc.blocking.inner_idxs.0 == 1
        else {
            return nil
        }
        let block = Int(raw.format_desc.blocking.inner_blks.0)
        guard block == 8 || block == 16 else { return nil }
        return self == MemoryDesc.channelBlocked(d, block: block) ? block : nil
    }

    /// The same kind of layout for other dimensions: channel-blocked (`nChw16c`, `nChw8c`) or plain.
    func sameKind(dims: [Int]) -> MemoryDesc {
        let b = raw.format_desc.blocking
        if isBlocked && b.inner_nblks == 1 && b.inner_idxs.0 == 1 && dims.count == 4 {
            let block = Int(b.inner_blks.0)
            if block == 8 || block == 16 { return .channelBlocked(dims, block: block) }
        }
        return .plain(dims)
    }

    /// Zeroes the padding of a buffer in this layout (nothing when it has none). For nChw16c/nChw8c
    /// only each image's last channel block holds padding, so only that block is cleared (DenseNet-BC's
    /// 12-channel growth pads nearly every activation: clearing whole buffers took 6% of its training step).
    func zeroPadding(_ buffer: Buffer) {
        guard isPadded else { return }
        if let block = channelBlock {
            let d = dims
            let blocks = (d[1] + block - 1) / block
            let plane = d[2] * d[3] * block
            let p = buffer.typed(Float.self)
            for image in 0..<d[0] { (p + (image * blocks + blocks - 1) * plane).update(repeating: 0, count: plane) }
            return
        }
        buffer.pointer.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount)
    }

    /// Whether the layout has padding (channels rounded up to the block size).
    var isPadded: Bool {
        withUnsafeBytes(of: raw.dims) { d in
            withUnsafeBytes(of: raw.padded_dims) { p in
                let n = Int(raw.ndims)
                return !zip(d.bindMemory(to: Int64.self).prefix(n), p.bindMemory(to: Int64.self).prefix(n)).allSatisfy {
                    $0 == $1
                }
            }
        }
    }

    /// Whether this is a blocked layout with inner blocks (`nChw16c`, `OIhw16i16o`, ...).
    var isBlocked: Bool { raw.format_kind == dnnl_blocked && raw.format_desc.blocking.inner_nblks > 0 }
}

/// Hashable bytes of a memory descriptor. oneDNN's init functions zero the whole struct first,
/// so equal layouts have equal bytes.
struct MemoryDescKey: Hashable {
    let bytes: [UInt8]
    /// Hashed once: cache lookups happen on every kernel call, and the struct is ~1 KB.
    let hashValue_: Int
    init(_ md: MemoryDesc) {
        bytes = withUnsafeBytes(of: md.raw) { Array($0) }
        var h = Hasher()
        h.combine(bytes)
        hashValue_ = h.finalize()
    }
    func hash(into hasher: inout Hasher) { hasher.combine(hashValue_) }
    static func == (a: MemoryDescKey, b: MemoryDescKey) -> Bool { a.hashValue_ == b.hashValue_ && a.bytes == b.bytes }
}

// MARK: CPU capabilities

/// What oneDNN does on the CPU it runs on, found once by asking it (so `DNNL_MAX_CPU_ISA` is
/// honoured): the instruction set, the channel block of its activation layouts, and whether it
/// has Winograd kernels. Everything in StrataDNNL that depends on the CPU reads it from here.
///
/// | | AVX-512 (`avx512_core` and up) | AVX2 |
/// |---|---|---|
/// | activation layout | nChw16c | nChw8c |
/// | Winograd F(4×4, 3×3) (oneDNN 2.6) | yes | no |
public enum DNNLCapabilities {
    /// oneDNN's name for the instruction set it uses here: "avx512_core", "avx512_core_bf16",
    /// "avx2", ... (the CPU's best, or less under `DNNL_MAX_CPU_ISA`).
    public static let isa: String = {
        switch dnnl_get_effective_cpu_isa() {
        case dnnl_cpu_isa_sse41: return "sse41"
        case dnnl_cpu_isa_avx: return "avx"
        case dnnl_cpu_isa_avx2: return "avx2"
        case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni"
        case dnnl_cpu_isa_avx512_mic: return "avx512_mic"
        case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops"
        case dnnl_cpu_isa_avx512_core: return "avx512_core"
        case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni"
        case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16"
        case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx"
        case let other: return "isa 0x\(String(other.rawValue, radix: 16))"
        }
    }()

    /// Channels per block in the activation layout oneDNN's convolutions choose: 16 (`nChw16c`,
    /// one AVX-512 register) or 8 (`nChw8c`, one AVX2 register). Read from the layout a 3×3
    /// convolution picks; every blocked fast path (concatenation, split, batch norm's layout,
    /// batch-1 concatenation writing) uses this block and no other.
    public static let channelBlock: Int = {
        let g = ConvGeometryDNNL(input: [2, 64, 8, 8], weight: [64, 64, 3, 3], Conv2dParameters(padding: 1))
        guard let p = try? convolutionProbe(g, dnnl_convolution_direct),
            let block = p.md(dnnl_query_src_md).channelBlock
        else {
            return 8
        }
        return block
    }()

    /// Whether oneDNN has Winograd convolution here (oneDNN 2.6: AVX-512 only). Where it has not,
    /// `.auto` and `.winograd` run direct convolutions.
    public static let hasWinograd: Bool = {
        let g = ConvGeometryDNNL(input: [16, 64, 8, 8], weight: [64, 64, 3, 3], Conv2dParameters(padding: 1))
        return (try? convolutionProbe(g, dnnl_convolution_winograd)) != nil
    }()

    /// One line for benchmark output and diagnostics: "oneDNN avx2 (nChw8c, no Winograd)".
    public static var summary: String {
        "oneDNN \(isa) (nChw\(channelBlock)c, \(hasWinograd ? "Winograd" : "no Winograd"))"
    }

    /// Whether the CPU advertises `avx512_bf16` (Linux: `/proc/cpuinfo`), the native bfloat16
    /// dot products oneDNN's bf16 convolutions use.
    public static let cpuHasAVX512BF16: Bool = Platform.cpuFlags.contains("avx512_bf16")

    /// Whether bfloat16 tensors convolve through oneDNN's bf16 primitives here: the CPU has
    /// `avx512_bf16` and oneDNN creates a bf16 convolution. Elsewhere DNNLBackend runs bfloat16
    /// tensors through the reference kernels (float32 accumulation).
    public static let hasBFloat16: Bool = {
        guard cpuHasAVX512BF16 else { return false }
        let g = ConvGeometryDNNL(input: [2, 16, 8, 8], weight: [16, 16, 3, 3], Conv2dParameters(padding: 1))
        return (try? g.bfloat16ForwardPrimitive(bias: true)) != nil
    }()

    private static func convolutionProbe(_ g: ConvGeometryDNNL, _ algorithm: dnnl_alg_kind_t) throws -> Primitive {
        try g.uncachedForwardPrimitive(algorithm, name: "convolution probe")
    }
}

// MARK: Data types

extension DType {
    /// oneDNN's data type for this storage dtype; nil where oneDNN 2.x has none (float64, int64).
    var dnnlDataType: dnnl_data_type_t? {
        switch self {
        case .float32: return dnnl_f32
        case .bfloat16: return dnnl_bf16
        case .float16: return dnnl_f16
        case .int32: return dnnl_s32
        case .float64, .int64: return nil
        }
    }

    /// The storage dtype of a oneDNN data type, or nil (u8, s8, undefined).
    init?(dnnl type: dnnl_data_type_t) {
        guard let d = DType.allCases.first(where: { $0.dnnlDataType == type }) else { return nil }
        self = d
    }
}

// MARK: Buffers

/// Memory a primitive reads or writes: a tensor's storage or a temporary, kept alive for the
/// whole execution by the ``Primitive/Arg`` that refers to it.
typealias Buffer = TensorStorage

extension TensorStorage {
    /// A 64-byte aligned buffer of at least `bytes` bytes (counted in elements of `dtype`); large
    /// ones come from the ``BufferPool``.
    static func bytes(_ bytes: Int, dtype: DType = .float32) -> TensorStorage {
        BufferPool.storage(bytes: bytes, dtype: dtype)
    }
}

// MARK: Primitives

/// A primitive and its descriptor, created once and cached by the backend. Executing a primitive
/// from several threads at once is safe: each execution brings its own stream and scratchpad.
final class Primitive: @unchecked Sendable {
    let name: String
    let pd: dnnl_primitive_desc_t
    let handle: dnnl_primitive_t
    let scratchpad: MemoryDesc
    /// A backward primitive's forward hint, kept alive as long as it (oneDNN's descriptor may refer to it).
    let hint: Primitive?

    /// Creates a primitive from an operation descriptor (`dnnl_convolution_desc_t`, ...).
    /// `hint` is the forward primitive a backward one is created for.
    convenience init(_ name: String, desc: UnsafeRawPointer, attr: DNNLAttributes? = nil, hint: Primitive? = nil) throws
    {
        let engine = DNNLEngine.shared
        var pd: dnnl_primitive_desc_t?
        try check(
            dnnl_primitive_desc_create(&pd, desc, attr?.handle ?? engine.defaultAttr, engine.handle, hint?.pd),
            name, "dnnl_primitive_desc_create")
        try self.init(name, pd: pd!, hint: hint)
    }

    /// A reorder (layout conversion) from `source` to `destination`.
    convenience init(reorderFrom source: MemoryDesc, to destination: MemoryDesc) throws {
        let engine = DNNLEngine.shared
        var pd: dnnl_primitive_desc_t?
        var (s, d) = (source.raw, destination.raw)
        let name = "reorder \(source.formatDescription) → \(destination.formatDescription)"
        try check(
            dnnl_reorder_primitive_desc_create(&pd, &s, engine.handle, &d, engine.handle, engine.defaultAttr),
            name, "dnnl_reorder_primitive_desc_create")
        try self.init(name, pd: pd!, hint: nil)
    }

    /// A primitive from a descriptor made by a `*_primitive_desc_create` call (concat, sum).
    convenience init(_ name: String, pd: dnnl_primitive_desc_t) throws { try self.init(name, pd: pd, hint: nil) }

    /// Takes ownership of `pd` (destroyed here if the primitive cannot be created).
    private init(_ name: String, pd: dnnl_primitive_desc_t, hint: Primitive?) throws {
        var primitive: dnnl_primitive_t?
        let status = dnnl_primitive_create(&primitive, pd)
        if status != dnnl_success { dnnl_primitive_desc_destroy(pd) }
        try check(status, name, "dnnl_primitive_create")
        self.name = name
        self.pd = pd
        self.hint = hint
        handle = primitive!
        scratchpad = MemoryDesc(dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0).pointee)
    }

    deinit {
        dnnl_primitive_destroy(handle)
        dnnl_primitive_desc_destroy(pd)
    }

    /// The layout the primitive chose for one of its memories (`dnnl_query_src_md`, ...).
    func md(_ what: dnnl_query_t, _ index: Int32 = 0) -> MemoryDesc {
        guard let p = dnnl_primitive_desc_query_md(pd, what, index) else { return MemoryDesc(dnnl_memory_desc_t()) }
        return MemoryDesc(p.pointee)
    }

    /// oneDNN's name of the chosen implementation ("jit:avx512_core", "gemm:jit", ...).
    var implementation: String {
        var info: UnsafePointer<CChar>?
        guard dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &info) == dnnl_success, let info else {
            return "?"
        }
        return String(cString: info)
    }

    /// One execution argument: `DNNL_ARG_SRC` etc., the layout, and the buffer.
    struct Arg {
        let kind: Int32
        let md: MemoryDesc
        let buffer: Buffer
        init(_ kind: Int32, _ md: MemoryDesc, _ buffer: Buffer) {
            (self.kind, self.md, self.buffer) = (kind, md, buffer)
        }
    }

    /// Runs the primitive to completion on the calling thread (and oneDNN's OpenMP threads).
    func execute(_ args: [Arg]) throws {
        DNNLThreads.applyToCurrentThread()
        let context = ExecutionContext.acquire()
        defer { ExecutionContext.release(context) }
        let engine = DNNLEngine.shared.handle
        var memories: [dnnl_memory_t?] = []
        memories.reserveCapacity(args.count + 1)
        defer { for m in memories { dnnl_memory_destroy(m) } }
        var execArgs: [dnnl_exec_arg_t] = []
        func add(_ kind: Int32, _ md: MemoryDesc, _ pointer: UnsafeMutableRawPointer) throws {
            var m: dnnl_memory_t?
            var raw = md.raw
            try check(dnnl_memory_create(&m, &raw, engine, pointer), name, "dnnl_memory_create")
            memories.append(m)
            execArgs.append(dnnl_exec_arg_t(arg: kind, memory: m))
        }
        for a in args {
            precondition(
                a.buffer.count * a.buffer.dtype.byteCount >= a.md.byteCount,
                "StrataDNNL: \(name): buffer for argument \(a.kind) is smaller than its layout")
            try add(a.kind, a.md, a.buffer.pointer)
        }
        if !scratchpad.isZero {
            try add(DNNL_ARG_SCRATCHPAD, scratchpad, context.scratch(scratchpad.byteCount))
        }
        try withExtendedLifetime(args) {
            try check(
                dnnl_primitive_execute(handle, context.stream, Int32(execArgs.count), execArgs), name,
                "dnnl_primitive_execute")
            try check(dnnl_stream_wait(context.stream), name, "dnnl_stream_wait")
        }
    }
}

/// A stream and a scratchpad for one execution at a time. A few are pooled so that threads
/// executing concurrently never share one.
final class ExecutionContext: @unchecked Sendable {
    let stream: dnnl_stream_t
    private var scratchBuffer: UnsafeMutableRawPointer?
    private var scratchBytes = 0

    private init() {
        var s: dnnl_stream_t?
        orTrap {
            try check(
                dnnl_stream_create(&s, DNNLEngine.shared.handle, dnnl_stream_default_flags.rawValue), "stream",
                "dnnl_stream_create")
        }
        stream = s!
    }

    deinit {
        scratchBuffer?.deallocate()
        dnnl_stream_destroy(stream)
    }

    /// A scratch area of at least `bytes` bytes, reused across executions (grown when needed).
    func scratch(_ bytes: Int) -> UnsafeMutableRawPointer {
        if bytes > scratchBytes {
            scratchBuffer?.deallocate()
            scratchBuffer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
            scratchBytes = bytes
        }
        return scratchBuffer!
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var free: [ExecutionContext] = []

    static func acquire() -> ExecutionContext {
        lock.lock()
        defer { lock.unlock() }
        return free.popLast() ?? ExecutionContext()
    }

    static func release(_ c: ExecutionContext) {
        lock.lock()
        defer { lock.unlock() }
        free.append(c)
    }
}

// MARK: Threads

/// oneDNN's thread count (OpenMP): `StrataConfiguration.threads` (`STRATA_NUM_THREADS`), default all cores.
public enum DNNLThreads {
    /// Threads oneDNN uses per primitive. Setting it changes `StrataConfiguration.current`.
    public static var count: Int {
        get { StrataConfiguration.current.threads ?? ProcessInfo.processInfo.activeProcessorCount }
        set { StrataConfiguration.update { $0.threads = min(max(newValue, 1), StrataConfiguration.maximumThreads) } }
    }

    /// OpenMP's thread count is per calling thread, so it is set on whichever thread runs a
    /// primitive (a cheap check when it is already right).
    @inline(__always)
    static func applyToCurrentThread() {
        guard let want = StrataConfiguration.current.threads else { return }
        if strata_omp_get_max_threads() != Int32(want) { _ = strata_omp_set_num_threads(Int32(want)) }
    }
}
