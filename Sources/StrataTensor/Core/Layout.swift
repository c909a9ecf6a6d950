import Dispatch

/// A backend's own arrangement of a tensor's elements, such as oneDNN's channel-blocked
/// `nChw16c`. Only backends create tensors in such a layout (see
/// ``Tensor/init(shape:physical:layout:requiresGrad:)``); to everything else a tensor is row-major:
/// reading ``Tensor/storage`` converts it once, on first access, and the tensor stays
/// row-major from then on. Keeping a network's activations in the layout its kernels want
/// saves a conversion before and after every kernel.
///
/// Elementwise ops work on the physical elements directly when their operands share a
/// layout and the op maps zeros to zero (blocked layouts pad channels with zeros, which must
/// stay zero): `relu`, `+`, `-`, `*`, comparisons with 0 — the ops between a network's kernels
/// and in their backward passes.
public protocol TensorLayout: AnyObject, Sendable {
    /// The elements of `physical` (in this layout) in row-major order: a new storage with
    /// exactly `shape`'s element count.
    func rowMajor(_ physical: TensorStorage, shape: [Int]) -> TensorStorage
    /// Row-major `storage` of `shape` rearranged into this layout (padding zeroed).
    func physical(fromRowMajor storage: TensorStorage, shape: [Int]) -> TensorStorage
    /// Whether `other` places every element at the same physical offset as this layout.
    func isSame(as other: any TensorLayout) -> Bool
}

/// A computation a backend has not run yet: the elements of a tensor made with
/// ``Tensor/init(shape:dtype:deferred:)``. It runs when anything needs the elements (Swift
/// code reading them, another backend kernel), at most once. Until then, the backend that made
/// it may fuse the next op into it (oneDNN folds an inference batch norm into the preceding
/// convolution's weights and applies a following ReLU or residual add as post-ops). The
/// computation must not depend on anything that changes after it was created.
public protocol DeferredTensorData: AnyObject, Sendable {
    /// Computes the elements: storage in `layout` order, or row-major for a nil layout.
    func realize() -> (TensorStorage, (any TensorLayout)?)
}

/// Serializes the one-time conversion of layout tensors to row-major.
final class LayoutLock: @unchecked Sendable {
    static let shared = LayoutLock()
    private let queue = DispatchQueue(label: "strata.tensor-layout")
    func sync<R>(_ body: () -> R) -> R { queue.sync(execute: body) }
}
