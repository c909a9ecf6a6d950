/// An n-dimensional array of floating-point numbers that can record the operations
/// applied to it, so that gradients flow back to it (reverse-mode autodiff).
///
/// Tensors are contiguous and row-major (NCHW for images); ``strides`` are always the
/// contiguous ones, and ops such as ``permuted(_:)`` produce new contiguous tensors.
/// A tensor's values never change after creation except through the explicit in-place
/// APIs used by optimizers and running statistics.
///
/// ```swift
/// let x = Tensor.normal([2, 3], generator: &rng).requiringGrad()
/// let loss = (x * x).sum()
/// loss.backward()
/// print(x.grad!)   // 2 * x
/// ```
public final class Tensor: @unchecked Sendable {
    /// Dimensions, outermost first.
    public let shape: [Int]
    /// The elements, row-major. For a tensor a backend made in its own ``layout`` (or has not
    /// computed yet, see ``DeferredTensorData``) this first brings the elements to row-major
    /// (once; the tensor is row-major after).
    public internal(set) var storage: TensorStorage {
        get {
            if _layout == nil && _deferred == nil { return _data }
            realize()
            return LayoutLock.shared.sync {
                if let layout = _layout {
                    _data = layout.rowMajor(_data, shape: shape)
                    _layout = nil
                }
                return _data
            }
        }
        set {
            LayoutLock.shared.sync {
                _data = newValue
                _dtype = newValue.dtype
                _layout = nil
                _deferred = nil
            }
        }
    }
    /// The elements in `_layout`'s order, or row-major when `_layout` is nil (empty while deferred).
    private var _data: TensorStorage
    private var _layout: (any TensorLayout)?
    /// The computation that will produce `_data` and `_layout`, until something needs them.
    private var _deferred: (any DeferredTensorData)?
    private var _dtype: DType
    /// Elements in the tensor (the product of ``shape``).
    public let count: Int
    /// Whether gradients are accumulated into ``grad`` by ``backward(_:)``.
    public var requiresGrad: Bool
    /// The accumulated gradient of a leaf tensor; `nil` until a backward pass reaches it.
    public var grad: Tensor?
    /// The operation that produced this tensor, if it was recorded on the tape.
    internal(set) public var gradFn: GradNode?
    /// How to rebuild this tensor from values the graph keeps anyway (batch norm and ReLU outputs
    /// being recorded); ops that save it for their backward keep the recipe instead of the values.
    internal(set) public var rematerialization: Rematerialization?

    public init(shape: [Int], storage: TensorStorage, requiresGrad: Bool = false) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
        precondition(
            elementCount(shape) == storage.count,
            "Tensor: shape \(shape) holds \(elementCount(shape)) elements, storage has \(storage.count)")
        self.shape = shape
        _data = storage
        _dtype = storage.dtype
        count = storage.count
        self.requiresGrad = requiresGrad
    }

    /// A tensor whose elements a backend keeps in its own `layout` (`physical` holds them in
    /// that order, possibly with padding). See ``TensorLayout``.
    public init(shape: [Int], physical: TensorStorage, layout: any TensorLayout, requiresGrad: Bool = false) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
        precondition(physical.count >= elementCount(shape), "Tensor: layout storage smaller than shape \(shape)")
        self.shape = shape
        _data = physical
        _dtype = physical.dtype
        _layout = layout
        count = elementCount(shape)
        self.requiresGrad = requiresGrad
    }

    /// A tensor a backend computes only when its elements are needed (see ``DeferredTensorData``).
    public init(shape: [Int], dtype: DType, deferred: any DeferredTensorData) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
        self.shape = shape
        _data = TensorStorage(dtype: dtype, count: 0)
        _dtype = dtype
        _deferred = deferred
        count = elementCount(shape)
        requiresGrad = false
    }

    /// Runs the deferred computation, if any. Not under the layout lock: the computation runs
    /// backend kernels that read other tensors.
    private func realize() {
        guard let d = deferred else { return }
        let (data, layout) = d.realize()
        precondition(
            data.dtype == _dtype && data.count >= count, "Tensor: a deferred computation produced the wrong storage")
        LayoutLock.shared.sync {
            if _deferred === d { (_data, _layout, _deferred) = (data, layout, nil) }
        }
    }

    /// The elements as they are held now: in the backend's layout (without converting them),
    /// or row-major with a nil layout. For backends and layout-preserving elementwise ops.
    /// A deferred tensor is computed first.
    public var representation: (storage: TensorStorage, layout: (any TensorLayout)?) {
        if _layout == nil && _deferred == nil { return (_data, nil) }
        realize()
        return LayoutLock.shared.sync { (_data, _layout) }
    }

    /// The computation this tensor is waiting on, if it has not run yet (lets a backend fuse
    /// the next op into it instead of running it).
    public var deferred: (any DeferredTensorData)? {
        if _deferred == nil { return nil }
        return LayoutLock.shared.sync { _deferred }
    }

    /// The backend layout the elements are held in, or nil for row-major.
    public var layout: (any TensorLayout)? { representation.layout }

    /// Makes a tensor from Swift values in row-major order.
    public convenience init<T: TensorScalar>(_ values: [T], shape: [Int]) {
        shapeCheck(
            values.count == elementCount(shape), "Tensor.init", got: "\(values.count) values",
            expected: "\(elementCount(shape)) for shape \(shape)")
        let s = TensorStorage(dtype: T.dtype, count: values.count)
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { s.typed(T.self).initialize(from: base, count: values.count) }
        }
        self.init(shape: shape, storage: s)
    }

    /// Makes a 1-D tensor from Swift values.
    public convenience init<T: TensorScalar>(_ values: [T]) { self.init(values, shape: [values.count]) }

    /// A 0-dimensional tensor holding one value (rounded to `dtype`).
    public convenience init(scalar: Double, dtype: DType = .float32) {
        self.init(shape: [], storage: storeDoubles([scalar], as: dtype))
    }

    // MARK: Properties

    public var dtype: DType { _dtype }
    public var rank: Int { shape.count }
    /// Row-major strides, in elements.
    public var strides: [Int] { contiguousStrides(shape) }
    /// True when the tensor was made by the user (not by a recorded op).
    public var isLeaf: Bool { gradFn == nil }

    // MARK: Element access

    /// Reads the elements as Swift values (converted from the tensor's dtype). Host access: a
    /// backend whose memory is not host memory copies the elements out (see ``withHostBuffer(as:_:)``).
    public func scalars<T: TensorScalar>(as _: T.Type = T.self) -> [T] {
        let storage = self.storage.onHost()
        switch dtype {
        case .float32:
            let p = storage.typed(Float.self)
            return (0..<count).map { T(p[$0]) }
        case .float64:
            let p = storage.typed(Double.self)
            return (0..<count).map { T(p[$0]) }
        default:
            let s = storage
            return (0..<count).map { T(loadDouble(s, $0)) }
        }
    }

    /// The elements as `[Float]`.
    public var floats: [Float] { scalars(as: Float.self) }
    /// The elements as `[Double]`.
    public var doubles: [Double] { scalars(as: Double.self) }

    /// The single value of a one-element tensor.
    public func item() -> Double {
        shapeCheck(count == 1, "item", got: "shape \(shape)", expected: "a tensor with one element")
        return doubles[0]
    }

    /// Host access, read: calls `body` with the elements in host memory, row-major; `T` must be
    /// the Swift type of ``dtype`` (`Float`, `Double`, ``BFloat16``, ``Half``, `Int32`, `Int64`).
    ///
    /// With ``withMutableHostBuffer(as:_:)`` this is *the* host-access API: code outside a
    /// backend's kernels (optimizers, losses, serialization, tests) reads and writes elements
    /// only through it, so that a backend whose memory is not host memory implements it by
    /// copying to the host (and back after a write).
    public func withHostBuffer<T: StorageElement, R>(as _: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R)
        rethrows -> R
    {
        let storage = self.storage
        precondition(T.dtype == dtype, "withHostBuffer: the tensor holds \(dtype), accessed as \(T.dtype)")
        return try storage.withHostBytes {
            try body(UnsafeBufferPointer(start: $0.assumingMemoryBound(to: T.self), count: count))
        }
    }

    /// Host access, write: calls `body` with the elements to change in place, then bumps the
    /// storage's ``TensorStorage/version`` (so backends drop caches derived from the old values).
    /// Not recorded by autograd: for optimizers, running statistics and initializers only.
    /// See ``withHostBuffer(as:_:)``.
    public func withMutableHostBuffer<T: StorageElement, R>(
        as _: T.Type, _ body: (UnsafeMutableBufferPointer<T>) throws -> R
    ) rethrows -> R {
        let storage = self.storage
        precondition(T.dtype == dtype, "withMutableHostBuffer: the tensor holds \(dtype), accessed as \(T.dtype)")
        return try storage.withMutableHostBytes {
            try body(UnsafeMutableBufferPointer(start: $0.assumingMemoryBound(to: T.self), count: count))
        }
    }

    /// Calls `body` with the elements; `T` must match ``dtype``. The same as ``withHostBuffer(as:_:)``.
    public func withUnsafeBuffer<T: StorageElement, R>(
        as type: T.Type,
        _ body: (UnsafeBufferPointer<T>) throws -> R
    ) rethrows -> R {
        try withHostBuffer(as: type, body)
    }

    /// Writes into the elements in place. Not recorded by autograd: for optimizers,
    /// running statistics and initializers only. The same as ``withMutableHostBuffer(as:_:)``.
    public func withUnsafeMutableBuffer<T: StorageElement, R>(
        as type: T.Type, _ body: (UnsafeMutableBufferPointer<T>) throws -> R
    ) rethrows -> R {
        try withMutableHostBuffer(as: type, body)
    }

    // MARK: Autograd helpers

    /// Marks this leaf tensor as needing gradients and returns it.
    @discardableResult
    public func requiringGrad(_ flag: Bool = true) -> Tensor {
        precondition(isLeaf, "requiringGrad: only leaf tensors can change requiresGrad")
        requiresGrad = flag
        return self
    }

    /// A tensor sharing this one's values, cut from the graph.
    public func detached() -> Tensor {
        if let d = deferred { return Tensor(shape: shape, dtype: dtype, deferred: d) }
        let (data, layout) = representation
        guard let layout else { return Tensor(shape: shape, storage: data) }
        return Tensor(shape: shape, physical: data, layout: layout)
    }

    /// Clears ``grad``.
    public func zeroGrad() { grad = nil }

    /// A deep copy with its own storage, in host memory (not recorded).
    public func copy() -> Tensor {
        let s = TensorStorage(dtype: dtype, count: count)
        storage.withHostBytes { s.pointer.copyMemory(from: $0, byteCount: count * dtype.byteCount) }
        return Tensor(shape: shape, storage: s)
    }

    /// Replaces this leaf tensor's storage with `newStorage` (same dtype and element count),
    /// keeping the tensor's identity: for a backend that moves parameters into its own memory.
    public func replaceStorage(with newStorage: TensorStorage) {
        precondition(isLeaf, "replaceStorage: only leaf tensors can change storage")
        precondition(
            newStorage.dtype == dtype && newStorage.count == count,
            "replaceStorage: \(newStorage.count) \(newStorage.dtype) elements for a \(dtype) tensor of "
                + "\(count)")
        storage = newStorage
    }

    /// Overwrites this tensor's values with `other`'s (same shape); not recorded.
    public func assign(_ other: Tensor) {
        shapeCheck(other.shape == shape, "assign", got: "\(other.shape)", expected: "\(shape)")
        let src = other.dtype == dtype ? other : other.to(dtype)
        let byteCount = count * dtype.byteCount
        src.storage.withHostBytes { source in
            storage.withMutableHostBytes { $0.copyMemory(from: source, byteCount: byteCount) }
        }
    }

    /// Changes this leaf tensor's dtype in place (for converting a whole model, e.g. to
    /// Float64 for checks); drops its gradient.
    public func convertInPlace(to target: DType) {
        precondition(isLeaf, "convertInPlace: only leaf tensors can change dtype in place")
        if target == dtype { return }
        storage = withNoGrad { to(target) }.storage
        grad = nil
    }

    /// Converts to another dtype (recorded: gradients convert back). Every pair of dtypes
    /// converts: to bfloat16 and float16 by rounding to nearest even (as PyTorch's
    /// `.to(torch.bfloat16)`; float64 goes through float32, as PyTorch's does), NaN kept; to
    /// int32 and int64 by truncation toward zero (NaN gives 0, out-of-range values saturate).
    /// Gradients flow back only between floating-point dtypes.
    public func to(_ target: DType) -> Tensor {
        if target == dtype { return self }
        let out = Tensor(shape: shape, storage: convertStorage(storage, count: count, to: target))
        let source = dtype
        guard !source.isInteger && !target.isInteger else { return out }
        return record("to", out, inputs: [self]) { g in [g.to(source)] }
    }

    /// ``to(_:)`` without recording (for kernels that widen storage-only dtypes).
    func converted(to target: DType) -> Tensor {
        target == dtype ? self : Tensor(shape: shape, storage: convertStorage(storage, count: count, to: target))
    }

    // MARK: Internal construction

    /// The same storage viewed with another shape of as many elements (not recorded).
    func viewed(as newShape: [Int]) -> Tensor { Tensor(shape: newShape, storage: storage) }

    /// Uninitialized tensor (callers fill every element).
    static func empty(_ shape: [Int], _ dtype: DType) -> Tensor {
        Tensor(shape: shape, storage: TensorStorage(dtype: dtype, count: elementCount(shape)))
    }
}

extension Tensor: CustomStringConvertible {
    /// Prints like NumPy: nested brackets, at most 6 values per dimension.
    public var description: String {
        let values = doubles
        let strides = self.strides
        func fmt(_ v: Double) -> String { String(format4: v) }
        func render(_ dim: Int, _ offset: Int, _ indent: String) -> String {
            if dim == rank { return fmt(values[offset]) }
            let n = shape[dim]
            var parts: [String] = []
            let idx: [Int] = n > 6 ? Array(0..<3) + [-1] + Array((n - 3)..<n) : Array(0..<n)
            for i in idx {
                parts.append(i < 0 ? "..." : render(dim + 1, offset + i * strides[dim], indent + " "))
            }
            let sep = dim == rank - 1 ? ", " : ",\n" + indent + " "
            return "[" + parts.joined(separator: sep) + "]"
        }
        let grad = requiresGrad ? ", requiresGrad" : ""
        return
            "Tensor(\(rank == 0 ? fmt(values.first ?? 0) : render(0, 0, "       ")), shape: \(shape), dtype: \(dtype)\(grad))"
    }
}

extension String {
    /// Four significant decimals, without Foundation.
    init(format4 v: Double) {
        if v.isNaN {
            self = "nan"
            return
        }
        if v.isInfinite {
            self = v > 0 ? "inf" : "-inf"
            return
        }
        let r = (v * 10000).rounded() / 10000
        if r == r.rounded() && Swift.abs(r) < 1e15 {
            self = String(Int64(r)) + "."
            return
        }
        self = String(r)
    }
}
