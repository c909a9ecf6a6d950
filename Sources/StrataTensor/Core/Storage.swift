/// A reference-counted, 64-byte aligned buffer of elements of one dtype.
///
/// Tensors are immutable values in the autograd graph; only optimizers and
/// running statistics write into storage in place (see ``Tensor/withUnsafeMutableBuffer(as:_:)``).
public final class TensorStorage: @unchecked Sendable {
    public let dtype: DType
    public let count: Int
    public let pointer: UnsafeMutableRawPointer
    /// Bumped after every in-place write made through ``Tensor``'s APIs (``Tensor/assign(_:)``,
    /// ``Tensor/withUnsafeMutableBuffer(as:_:)``), so that a backend may cache a derived copy
    /// (oneDNN's reordered weights) and know when it is stale. Code writing through ``pointer``
    /// directly must call ``markModified()``.
    public private(set) var version: Int = 0

    /// Who frees ``pointer``: nil for the Swift allocator.
    private let deallocator: (@Sendable (UnsafeMutableRawPointer) -> Void)?

    /// Allocates uninitialized storage for `count` elements.
    public init(dtype: DType, count: Int) {
        precondition(count >= 0, "TensorStorage: negative element count \(count)")
        self.dtype = dtype
        self.count = count
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(count * dtype.byteCount, 1), alignment: 64)
        deallocator = nil
    }

    /// Storage over memory a backend manages (for example a pool that recycles large buffers):
    /// `deallocate` receives `pointer` when the storage dies. The memory must hold `count`
    /// elements and be 64-byte aligned.
    public init(dtype: DType, count: Int, pointer: UnsafeMutableRawPointer,
                deallocate: @escaping @Sendable (UnsafeMutableRawPointer) -> Void) {
        precondition(count >= 0, "TensorStorage: negative element count \(count)")
        self.dtype = dtype
        self.count = count
        self.pointer = pointer
        deallocator = deallocate
    }

    /// Allocates storage filled with zeros.
    public static func zeros(dtype: DType, count: Int) -> TensorStorage {
        let s = TensorStorage(dtype: dtype, count: count)
        s.pointer.initializeMemory(as: UInt8.self, repeating: 0, count: max(count * dtype.byteCount, 1))
        return s
    }

    deinit {
        if let deallocator { deallocator(pointer) } else { pointer.deallocate() }
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
