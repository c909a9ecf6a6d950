import Foundation
import StrataTensor

/// A group of one process: rank 0 of 1, what training without `mpirun` uses.
///
/// Every collective is the identity (the sum or average over one rank is the tensor itself,
/// a broadcast from rank 0 changes nothing, ``allGather(_:)`` returns a copy), so code written
/// for N ranks runs unchanged on one. A send to rank 0 is kept (copied) until a receive with
/// the same tag takes it; a receive with nothing sent is an error rather than a wait forever.
public final class SingleProcessGroup: ProcessGroup, @unchecked Sendable {
    public let rank = 0
    public let size = 1
    public let backendName = "single"

    private let lock = NSLock()
    /// Sent and not yet received, oldest first.
    private var mailbox: [(tag: Int, storage: TensorStorage)] = []

    public init() {}

    public func allReduce(_ tensor: Tensor, op: ReduceOperation) throws {
        try check(tensor, "allReduce")
    }

    public func allReduceAsync(_ tensor: Tensor, op: ReduceOperation) throws -> any CollectiveHandle {
        try check(tensor, "allReduceAsync")
        return CompletedHandle()
    }

    public func broadcast(_ tensor: Tensor, root: Int) throws {
        try Validation.rank(root, of: self, "root", "broadcast")
        try check(tensor, "broadcast")
    }

    public func allGather(_ tensor: Tensor) throws -> [Tensor] {
        try check(tensor, "allGather")
        return [Tensor(shape: tensor.shape, storage: copy(tensor.storage, count: tensor.count))]
    }

    public func send(_ tensor: Tensor, to destination: Int, tag: Int) throws {
        try Validation.rank(destination, of: self, "destination", "send")
        try check(tensor, "send")
        let storage = copy(tensor.storage, count: tensor.count)
        lock.withLock { mailbox.append((tag, storage)) }
    }

    public func receive(_ tensor: Tensor, from source: Int, tag: Int) throws {
        try Validation.rank(source, of: self, "source", "receive")
        try check(tensor, "receive")
        let message: TensorStorage? = lock.withLock {
            guard let i = mailbox.firstIndex(where: { $0.tag == tag }) else { return nil }
            return mailbox.remove(at: i).storage
        }
        guard let message else {
            throw DistributedError(
                operation: "receive", rank: 0, size: 1,
                message: "nothing was sent with tag \(tag) (a single process cannot wait for another)")
        }
        guard message.dtype == tensor.dtype, message.count == tensor.count else {
            throw DistributedError(
                operation: "receive", rank: 0, size: 1,
                message:
                    "\(message.count) \(message.dtype) elements were sent, the tensor holds \(tensor.count) \(tensor.dtype)"
            )
        }
        let storage = tensor.storage
        storage.pointer.copyMemory(from: message.pointer, byteCount: tensor.count * tensor.dtype.byteCount)
        storage.markModified()
    }

    public func barrier() throws {}

    public func finalize() throws {}

    public func abort(exitCode: Int32) -> Never { exit(exitCode) }

    private func check(_ tensor: Tensor, _ operation: String) throws {
        _ = tensor.storage // a deferred or backend-layout tensor becomes row-major here, as with MPI
    }

    private func copy(_ storage: TensorStorage, count: Int) -> TensorStorage {
        let c = TensorStorage(dtype: storage.dtype, count: count)
        c.pointer.copyMemory(from: storage.pointer, byteCount: count * storage.dtype.byteCount)
        return c
    }
}

/// The handle of a collective that completed when it started.
final class CompletedHandle: CollectiveHandle, @unchecked Sendable {
    func wait() throws {}
    func isComplete() throws -> Bool { true }
}
