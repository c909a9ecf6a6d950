import Foundation
import StrataTensor

/// A set of cooperating processes ("ranks") that exchange tensors: the communication layer of
/// data-parallel training (averaging gradients, broadcasting the initial weights, gathering
/// statistics) and of model parallelism (sending activations from one rank to the next).
///
/// Every rank runs the same program and calls the same collectives in the same order with
/// tensors of the same shape and dtype; ``rank`` tells the processes apart:
///
/// ```swift
/// let group = try ProcessGroups.current()          // Open MPI under mpirun, else one process
/// try group.broadcast(parameter, root: 0)          // every rank starts from rank 0's weights
/// try group.allReduce(gradient, op: .average)      // the mean gradient, on every rank
/// let pending = try group.allReduceAsync(bucket, op: .average)
/// // … compute more of the backward pass …
/// try pending.wait()                               // `bucket` now holds the average
/// ```
///
/// Tensors are exchanged in place, in their row-major host storage (a tensor a backend holds in
/// its own layout is brought to row-major first); Float32 and Float64 are supported. Writes are
/// not recorded by autograd: use the collectives on gradients, parameters and buffers, as an
/// optimizer would. Shapes are not compared across ranks by ``allReduce(_:op:)`` and
/// ``broadcast(_:root:)`` (that would cost a round trip per call): mismatched tensors are an
/// error from the transport at best, wrong values at worst.
///
/// Implementations: ``SingleProcessGroup`` (one process; every collective is the identity) and
/// ``MPIProcessGroup`` (Open MPI). Failures are thrown as ``DistributedError``, naming the
/// operation and the rank.
public protocol ProcessGroup: AnyObject, Sendable {
    /// This process's index, `0..<size`.
    var rank: Int { get }
    /// The number of processes in the group.
    var size: Int { get }
    /// What carries the messages: `"single"`, `"mpi"`.
    var backendName: String { get }

    /// Replaces `tensor` on every rank with the reduction (`op`) of the tensors of all ranks.
    func allReduce(_ tensor: Tensor, op: ReduceOperation) throws

    /// Starts ``allReduce(_:op:)`` and returns at once, so that computation (the rest of the
    /// backward pass) can overlap the communication. `tensor` must be neither read nor written
    /// until the handle's ``CollectiveHandle/wait()`` returns; the handle keeps its storage alive.
    /// Every rank must start its asynchronous collectives in the same order.
    func allReduceAsync(_ tensor: Tensor, op: ReduceOperation) throws -> any CollectiveHandle

    /// Replaces `tensor` on every rank with `root`'s.
    func broadcast(_ tensor: Tensor, root: Int) throws

    /// Every rank's `tensor`, indexed by rank (all ranks must pass the same shape and dtype;
    /// checked). The tensors returned are new; `tensor` is not changed.
    func allGather(_ tensor: Tensor) throws -> [Tensor]

    /// Sends `tensor`'s elements to rank `destination`, which receives them with
    /// ``receive(_:from:tag:)`` and the same `tag`. May block until the receiver has started
    /// receiving (large messages): pair sends and receives so that no cycle waits on itself.
    func send(_ tensor: Tensor, to destination: Int, tag: Int) throws

    /// Overwrites `tensor` with the elements rank `source` sent with the same `tag` (same
    /// element count and dtype; checked by the transport).
    func receive(_ tensor: Tensor, from source: Int, tag: Int) throws

    /// Returns once every rank has called it.
    func barrier() throws

    /// Ends the group's use of the transport (for MPI, `MPI_Finalize`; a collective). Call it
    /// once at the end of a successful run, on every rank; operations afterwards throw.
    func finalize() throws

    /// Ends this process and every other rank of the job with `exitCode`, for a rank that cannot
    /// go on: the others would otherwise wait in their next collective for a rank that is gone.
    func abort(exitCode: Int32) -> Never
}

extension ProcessGroup {
    /// Sums `tensor` over all ranks, in place (see ``ProcessGroup/allReduce(_:op:)``).
    public func allReduce(_ tensor: Tensor) throws { try allReduce(tensor, op: .sum) }
    /// Starts summing `tensor` over all ranks (see ``ProcessGroup/allReduceAsync(_:op:)``).
    public func allReduceAsync(_ tensor: Tensor) throws -> any CollectiveHandle { try allReduceAsync(tensor, op: .sum) }
    /// Sends with tag 0 (see ``ProcessGroup/send(_:to:tag:)``).
    public func send(_ tensor: Tensor, to destination: Int) throws { try send(tensor, to: destination, tag: 0) }
    /// Receives with tag 0 (see ``ProcessGroup/receive(_:from:tag:)``).
    public func receive(_ tensor: Tensor, from source: Int) throws { try receive(tensor, from: source, tag: 0) }
    /// True on rank 0, the rank that conventionally logs and writes checkpoints.
    public var isPrimary: Bool { rank == 0 }
}

/// How ``ProcessGroup/allReduce(_:op:)`` combines the ranks' elements.
public enum ReduceOperation: String, Sendable, CaseIterable {
    /// The elementwise sum.
    case sum
    /// The elementwise sum divided by the group size (the sum is formed first, then divided).
    case average
    /// The elementwise maximum.
    case max
    /// The elementwise minimum.
    case min
}

/// An asynchronous collective in flight (see ``ProcessGroup/allReduceAsync(_:op:)``).
///
/// Dropping a handle that was not waited on waits for it (the transport writes into the
/// tensor's storage until then), discarding any error.
public protocol CollectiveHandle: AnyObject, Sendable {
    /// Blocks until the collective has completed and its result is in the tensor. Calling it
    /// again returns at once (or throws the same error).
    func wait() throws
    /// Whether the collective has completed (then the result is in the tensor). Also lets the
    /// transport make progress: MPI moves non-blocking collectives forward only inside MPI calls.
    func isComplete() throws -> Bool
}

/// A failed communication: the operation, the rank it failed on, and why (for MPI, the
/// library's own error string).
///
/// ```
/// send failed on rank 0 of 2: MPI_ERR_RANK: invalid rank (MPI error 6)
/// allGather failed on rank 1 of 3: rank 2 passed 12 float32 elements, rank 0 passed 6 float32 elements
/// ```
public struct DistributedError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The ``ProcessGroup`` method that failed (`"allReduce"`, `"send"`, `"MPI_Init_thread"`…).
    public var operation: String
    /// The rank that reports the failure (-1 before the group knew its rank).
    public var rank: Int
    /// The group size (-1 before the group knew it).
    public var size: Int
    /// What went wrong, in words.
    public var message: String
    /// The MPI error code, when MPI reported the failure; nil when Strata's own checks did.
    public var mpiErrorCode: Int32?

    public init(operation: String, rank: Int, size: Int, message: String, mpiErrorCode: Int32? = nil) {
        self.operation = operation
        self.rank = rank
        self.size = size
        self.message = message
        self.mpiErrorCode = mpiErrorCode
    }

    public var description: String {
        let place = rank >= 0 ? " on rank \(rank) of \(size)" : ""
        let code = mpiErrorCode.map { " (MPI error \($0))" } ?? ""
        return "\(operation) failed\(place): \(message)\(code)"
    }
}

/// Which implementation of ``ProcessGroup`` to use.
///
/// A struct of named values rather than an enum, so that a transport added later (Gloo for
/// CPUs over TCP, NCCL for GPUs) is a new static member and a new case in
/// ``ProcessGroups/current(backend:)``, and code written against ``ProcessGroup`` does not change.
public struct ProcessGroupBackend: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    private init(_ name: String) { self.name = name }

    /// ``mpi`` when this process was started by `mpirun` (``MPIProcessGroup/isLaunchedByMPI``),
    /// else ``single``.
    public static let automatic = ProcessGroupBackend("automatic")
    /// ``SingleProcessGroup``.
    public static let single = ProcessGroupBackend("single")
    /// ``MPIProcessGroup/world()``.
    public static let mpi = ProcessGroupBackend("mpi")

    public var description: String { name }
}

/// The entry point for code that may run on one process or many.
///
/// Training code asks for ``current(backend:)`` and programs against ``ProcessGroup`` only; which
/// transport carries the tensors is decided here, once per process. Today: Open MPI when the
/// process was launched by `mpirun`, otherwise a single process, so the same binary runs alone
/// (`strata train`) or as N ranks (`mpirun -np N strata train`). A Gloo or NCCL process group
/// would be one more ``ProcessGroup`` implementation, a ``ProcessGroupBackend`` member and a
/// branch in ``current(backend:)`` (with its own launch detection: torchrun's `RANK` and
/// `WORLD_SIZE`, say); callers stay as they are.
public enum ProcessGroups {
    /// The process group of this process: created on first use (for MPI, that initializes MPI)
    /// and the same object afterwards. Asking again with a different backend than the first
    /// time is an error.
    public static func current(backend: ProcessGroupBackend = .automatic) throws -> any ProcessGroup {
        lock.lock()
        defer { lock.unlock() }
        let chosen = backend == .automatic ? (MPIProcessGroup.isLaunchedByMPI ? .mpi : .single) : backend
        if let existing = cached {
            guard existing.backend == chosen else {
                throw DistributedError(
                    operation: "ProcessGroups.current", rank: existing.group.rank, size: existing.group.size,
                    message: "this process already uses the \(existing.backend) process group, \(chosen) was asked for")
            }
            return existing.group
        }
        let group: any ProcessGroup
        switch chosen {
        case .mpi: group = try MPIProcessGroup.world()
        case .single: group = SingleProcessGroup()
        default:
            throw DistributedError(
                operation: "ProcessGroups.current", rank: -1, size: -1,
                message: "unknown process group backend '\(chosen)' (available: single, mpi)")
        }
        cached = (chosen, group)
        return group
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var cached: (backend: ProcessGroupBackend, group: any ProcessGroup)?
}

// MARK: Shared checks

/// The checks every implementation makes before touching a tensor's memory.
enum Validation {
    static func rank(_ r: Int, of group: some ProcessGroup, _ role: String, _ operation: String) throws {
        guard (0..<group.size).contains(r) else {
            throw DistributedError(
                operation: operation, rank: group.rank, size: group.size,
                message: "\(role) rank \(r) is outside 0..<\(group.size)")
        }
    }
}
