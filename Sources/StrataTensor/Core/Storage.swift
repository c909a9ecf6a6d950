/// Memory a backend keeps outside host memory (a device heap), behind a ``TensorStorage``.
///
/// The storage never exposes a pointer into it: host code reaches the elements only through
/// ``TensorStorage/withHostBytes(_:)`` and ``TensorStorage/withMutableHostBytes(_:)`` (and
/// ``Tensor/withHostBuffer(as:_:)`` above them), which copy through these two methods. The
/// memory is freed when the object is (it dies with its storage).
public protocol DeviceMemory: AnyObject, Sendable {
    /// Copies the first `byteCount` bytes of the device memory to `destination` (host memory).
    func copyToHost(_ destination: UnsafeMutableRawPointer, byteCount: Int)
    /// Overwrites the first `byteCount` bytes of the device memory with `source` (host memory).
    func copyFromHost(_ source: UnsafeRawPointer, byteCount: Int)
}

/// A reference-counted buffer of elements of one dtype: 64-byte aligned host memory, or
/// memory a backend keeps elsewhere (``device``).
///
/// Tensors are immutable values in the autograd graph; only optimizers and
/// running statistics write into storage in place (see ``Tensor/withMutableHostBuffer(as:_:)``).
public final class TensorStorage: @unchecked Sendable {
    public let dtype: DType
    public let count: Int
    /// The elements in host memory; nil when a backend keeps them elsewhere (``device``).
    private let hostPointer: UnsafeMutableRawPointer?
    /// The memory a backend keeps off the host, or nil for host memory.
    public let device: (any DeviceMemory)?
    /// Bumped after every in-place write made through ``Tensor``'s APIs (``Tensor/assign(_:)``,
    /// ``Tensor/withMutableHostBuffer(as:_:)``), so that a backend may cache a derived copy
    /// (oneDNN's reordered weights) and know when it is stale. Code writing through ``pointer``
    /// directly must call ``markModified()``.
    public private(set) var version: Int = 0

    /// Who frees ``pointer``: nil for the Swift allocator.
    private let deallocator: (@Sendable (UnsafeMutableRawPointer) -> Void)?

    /// Allocates uninitialized host storage for `count` elements.
    public init(dtype: DType, count: Int) {
        precondition(count >= 0, "TensorStorage: negative element count \(count)")
        self.dtype = dtype
        self.count = count
        hostPointer = UnsafeMutableRawPointer.allocate(byteCount: max(count * dtype.byteCount, 1), alignment: 64)
        device = nil
        deallocator = nil
    }

    /// Storage over memory a backend manages (for example a pool that recycles large buffers):
    /// `deallocate` receives `pointer` when the storage dies. The memory must hold `count`
    /// elements and be 64-byte aligned.
    public init(
        dtype: DType, count: Int, pointer: UnsafeMutableRawPointer,
        deallocate: @escaping @Sendable (UnsafeMutableRawPointer) -> Void
    ) {
        precondition(count >= 0, "TensorStorage: negative element count \(count)")
        self.dtype = dtype
        self.count = count
        hostPointer = pointer
        device = nil
        deallocator = deallocate
    }

    /// Storage whose `count` elements live in memory a backend keeps off the host (at least
    /// `count · dtype.byteCount` bytes of it). It has no ``pointer``; host access copies.
    public init(dtype: DType, count: Int, device: any DeviceMemory) {
        precondition(count >= 0, "TensorStorage: negative element count \(count)")
        self.dtype = dtype
        self.count = count
        hostPointer = nil
        self.device = device
        deallocator = nil
    }

    /// Allocates host storage filled with zeros.
    public static func zeros(dtype: DType, count: Int) -> TensorStorage {
        let s = TensorStorage(dtype: dtype, count: count)
        s.pointer.initializeMemory(as: UInt8.self, repeating: 0, count: max(count * dtype.byteCount, 1))
        return s
    }

    deinit {
        guard let hostPointer else { return }
        if let deallocator { deallocator(hostPointer) } else { hostPointer.deallocate() }
    }

    /// Whether the elements are in host memory (``pointer`` is valid); false for ``device`` memory.
    @inline(__always)
    public var isHostMemory: Bool { hostPointer != nil }

    /// The host memory, for a backend's kernels. Storage in ``device`` memory has none: code
    /// outside the kernels goes through ``withHostBytes(_:)`` (or ``Tensor/withHostBuffer(as:_:)``).
    @inline(__always)
    public var pointer: UnsafeMutableRawPointer {
        guard let hostPointer else {
            preconditionFailure(
                "TensorStorage: \(dtype) storage in device memory has no host pointer; "
                    + "read it through withHostBytes / Tensor.withHostBuffer")
        }
        return hostPointer
    }

    /// Bytes the elements take.
    public var byteCount: Int { count * dtype.byteCount }

    /// Host access, read: `body` gets the elements in host memory (a temporary copy for
    /// ``device`` memory; writes into it are lost).
    public func withHostBytes<R>(_ body: (UnsafeMutableRawPointer) throws -> R) rethrows -> R {
        if let hostPointer { return try body(hostPointer) }
        let staging = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
        defer { staging.deallocate() }
        device!.copyToHost(staging, byteCount: byteCount)
        return try body(staging)
    }

    /// Host access, write: `body` changes the elements in host memory (for ``device`` memory a
    /// copy, written back after `body`), then ``version`` is bumped.
    public func withMutableHostBytes<R>(_ body: (UnsafeMutableRawPointer) throws -> R) rethrows -> R {
        defer { markModified() }
        guard let device else { return try body(pointer) }
        let staging = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
        defer { staging.deallocate() }
        device.copyToHost(staging, byteCount: byteCount)
        defer { device.copyFromHost(staging, byteCount: byteCount) }
        return try body(staging)
    }

    /// A copy of the elements in new host storage (the storage itself when it is host memory).
    public func onHost() -> TensorStorage {
        if isHostMemory { return self }
        let host = TensorStorage(dtype: dtype, count: count)
        withHostBytes { host.pointer.copyMemory(from: $0, byteCount: byteCount) }
        return host
    }

    /// Records an in-place write (see ``version``).
    public func markModified() { version &+= 1 }

    /// The memory as elements of `T`, which must be the Swift type of ``dtype`` (checked).
    @inline(__always)
    public func typed<T: StorageElement>(_: T.Type) -> UnsafeMutablePointer<T> {
        precondition(T.dtype == dtype, "storage holds \(dtype), accessed as \(T.dtype)")
        return pointer.assumingMemoryBound(to: T.self)
    }
}
