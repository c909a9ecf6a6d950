// The process group over Open MPI.
//
// The group works on its own duplicate of MPI_COMM_WORLD (so that its messages never match
// those of other MPI code in the process) with MPI_ERRORS_RETURN set, so that a failure comes
// back as an error code, which becomes a DistributedError, instead of aborting the job.

import Foundation
import StrataTensor
import _CMPI

/// The ranks started by `mpirun` (Open MPI), as one ``ProcessGroup``.
///
/// ```sh
/// mpirun -np 4 strata train …            # as root: add --allow-run-as-root; more ranks than cores: --oversubscribe
/// ```
///
/// There is one such group per process, ``world()``: it initializes MPI on first use (with
/// `MPI_THREAD_SERIALIZED`: any thread may call, one at a time; the group takes a lock around
/// every MPI call, so a blocking call on one thread holds back the calls of others). Call
/// ``finalize()`` before a successful exit: `mpirun` treats a rank that exits without it as
/// failed. A rank that exits with an error, or calls ``abort(exitCode:)``, makes `mpirun`
/// end every rank, so a failure on one rank never leaves the others waiting in a collective.
///
/// Collectives are Open MPI's (`MPI_Allreduce`, `MPI_Iallreduce`, `MPI_Bcast`, `MPI_Allgather`)
/// on the tensor's row-major host storage, in place; Float32 and Float64, at most 2³¹−1
/// elements per call. MPI has no averaging reduction: ``ReduceOperation/average`` sums, then
/// divides by ``size`` on each rank.
public final class MPIProcessGroup: ProcessGroup, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    public let backendName = "mpi"
    /// The thread support MPI granted: `MPI_THREAD_SERIALIZED` or `MPI_THREAD_MULTIPLE`
    /// (`MPI_THREAD_FUNNELED` if MPI was initialized elsewhere with it: then only the thread that
    /// initialized MPI may use the group).
    public let threadSupport: Int32

    /// The group's communicator; nil after ``finalize()``. Read and used under `lock`.
    private var communicator: MPI_Comm?
    /// Serializes MPI calls (MPI_THREAD_SERIALIZED).
    fileprivate let lock = NSLock()
    /// Whether this group initialized MPI (and so finalizes it).
    private let ownsMPI: Bool

    /// Whether this process was started by Open MPI's `mpirun`/`mpiexec` (or another PMIx
    /// launcher), judged by the environment it sets (`OMPI_COMM_WORLD_SIZE`, `PMIX_RANK`), without
    /// initializing MPI. ``ProcessGroups/current(backend:)`` uses MPI exactly when this is true.
    public static var isLaunchedByMPI: Bool {
        let environment = ProcessInfo.processInfo.environment
        return environment["OMPI_COMM_WORLD_SIZE"] != nil || environment["PMIX_RANK"] != nil
    }

    /// The group of all ranks `mpirun` started: MPI is initialized by the first call, and every
    /// call returns the same group. Throws after ``finalize()`` (MPI cannot start twice in one
    /// process). Without `mpirun`, Open MPI starts this process as a group of one ("singleton").
    public static func world() throws -> MPIProcessGroup {
        stateLock.lock()
        defer { stateLock.unlock() }
        if let shared { return shared }
        if finalizedInProcess {
            throw DistributedError(
                operation: "MPIProcessGroup.world", rank: -1, size: -1,
                message: "MPI was finalized in this process and cannot be initialized again")
        }
        let group = try MPIProcessGroup()
        shared = group
        return group
    }

    private static let stateLock = NSLock()
    nonisolated(unsafe) private static var shared: MPIProcessGroup?
    nonisolated(unsafe) private static var finalizedInProcess = false

    private init() throws {
        var initialized: Int32 = 0
        MPI_Initialized(&initialized)
        var provided: Int32 = 0
        if initialized == 0 {
            // Errors here abort (MPI's default handler is in force until we replace it below).
            let code = MPI_Init_thread(nil, nil, Int32(MPI_THREAD_SERIALIZED), &provided)
            guard code == MPI_SUCCESS else { throw Self.error("MPI_Init_thread", rank: -1, size: -1, code: code) }
        } else {
            MPI_Query_thread(&provided)
        }
        ownsMPI = initialized == 0
        threadSupport = provided
        guard provided >= Int32(MPI_THREAD_FUNNELED) else {
            throw DistributedError(
                operation: "MPI_Init_thread", rank: -1, size: -1,
                message:
                    "MPI grants thread level \(provided) (MPI_THREAD_SINGLE); Strata needs MPI_THREAD_FUNNELED or better"
            )
        }
        if ownsMPI { MPI_Comm_set_errhandler(strata_mpi_comm_world(), strata_mpi_errors_return()) }
        var comm: MPI_Comm?
        var code = MPI_Comm_dup(strata_mpi_comm_world(), &comm)
        guard code == MPI_SUCCESS, let comm else { throw Self.error("MPI_Comm_dup", rank: -1, size: -1, code: code) }
        code = MPI_Comm_set_errhandler(comm, strata_mpi_errors_return())
        guard code == MPI_SUCCESS else { throw Self.error("MPI_Comm_set_errhandler", rank: -1, size: -1, code: code) }
        var r: Int32 = 0
        var s: Int32 = 0
        MPI_Comm_rank(comm, &r)
        MPI_Comm_size(comm, &s)
        (rank, size, communicator) = (Int(r), Int(s), comm)
    }

    /// Frees the group's communicator and, if this group initialized MPI, finalizes MPI (a
    /// collective: every rank must call it). Calling it again does nothing; afterwards every
    /// operation throws. Asynchronous collectives must have been waited on.
    public func finalize() throws {
        Self.stateLock.lock()
        defer { Self.stateLock.unlock() }
        lock.lock()
        defer { lock.unlock() }
        guard communicator != nil else { return }
        var comm = communicator
        communicator = nil
        Self.finalizedInProcess = true
        var code = MPI_Comm_free(&comm)
        guard code == MPI_SUCCESS else { throw Self.error("finalize", rank: rank, size: size, code: code) }
        if ownsMPI {
            code = MPI_Finalize()
            guard code == MPI_SUCCESS else { throw Self.error("finalize", rank: rank, size: size, code: code) }
        }
    }

    /// Ends every rank of the job (`MPI_Abort`) with `exitCode`: for a rank that cannot go on,
    /// so that no other rank waits for it.
    public func abort(exitCode: Int32) -> Never {
        if lock.withLock({ communicator != nil }) { MPI_Abort(strata_mpi_comm_world(), exitCode) }
        exit(exitCode)
    }

    // MARK: Collectives

    public func allReduce(_ tensor: Tensor, op: ReduceOperation) throws {
        try withElements(of: tensor, "allReduce", writes: true) { pointer, count, type, comm in
            MPI_Allreduce(UnsafeRawPointer(strata_mpi_in_place()), pointer, count, type, Self.mpiOp(op), comm)
        }
        if op == .average { divide(tensor, by: size) }
    }

    public func allReduceAsync(_ tensor: Tensor, op: ReduceOperation) throws -> any CollectiveHandle {
        var request: MPI_Request?
        let storage = try withElements(of: tensor, "allReduceAsync", writes: false) { pointer, count, type, comm in
            MPI_Iallreduce(
                UnsafeRawPointer(strata_mpi_in_place()), pointer, count, type, Self.mpiOp(op), comm, &request)
        }
        return MPIRequestHandle(
            group: self, request: request, storage: storage, tensor: tensor,
            divisor: op == .average ? size : nil)
    }

    public func broadcast(_ tensor: Tensor, root: Int) throws {
        try Validation.rank(root, of: self, "root", "broadcast")
        try withElements(of: tensor, "broadcast", writes: true) { pointer, count, type, comm in
            MPI_Bcast(pointer, count, type, Int32(root), comm)
        }
    }

    public func allGather(_ tensor: Tensor) throws -> [Tensor] {
        // Every rank learns every rank's element count and dtype first, so that all of them throw
        // the same error for a mismatch instead of MPI reading past a buffer.
        var mine: [Int64] = [Int64(tensor.count), tensor.dtype == .float32 ? 32 : 64]
        var all = [Int64](repeating: 0, count: 2 * size)
        try locked("allGather") { comm in
            MPI_Allgather(&mine, 2, strata_mpi_int64(), &all, 2, strata_mpi_int64(), comm)
        }
        if let other = (0..<size).first(where: { all[2 * $0] != all[0] || all[2 * $0 + 1] != all[1] }) {
            func describe(_ r: Int) -> String { "rank \(r) passed \(all[2 * r]) float\(all[2 * r + 1]) elements" }
            throw DistributedError(
                operation: "allGather", rank: rank, size: size,
                message: "\(describe(other)), \(describe(0)) (every rank must pass the same element count and dtype)")
        }
        let gathered = TensorStorage(dtype: tensor.dtype, count: tensor.count * size)
        try withElements(of: tensor, "allGather", writes: false) { pointer, count, type, comm in
            MPI_Allgather(pointer, count, type, gathered.pointer, count, type, comm)
        }
        let bytes = tensor.count * tensor.dtype.byteCount
        return (0..<size).map { r in
            let s = TensorStorage(dtype: tensor.dtype, count: tensor.count)
            s.pointer.copyMemory(from: gathered.pointer + r * bytes, byteCount: bytes)
            return Tensor(shape: tensor.shape, storage: s)
        }
    }

    public func send(_ tensor: Tensor, to destination: Int, tag: Int) throws {
        try Validation.rank(destination, of: self, "destination", "send")
        try checkTag(tag, "send")
        try withElements(of: tensor, "send", writes: false) { pointer, count, type, comm in
            MPI_Send(pointer, count, type, Int32(destination), Int32(tag), comm)
        }
    }

    public func receive(_ tensor: Tensor, from source: Int, tag: Int) throws {
        try Validation.rank(source, of: self, "source", "receive")
        try checkTag(tag, "receive")
        var status = MPI_Status()
        try withElements(of: tensor, "receive", writes: true) { pointer, count, type, comm in
            MPI_Recv(pointer, count, type, Int32(source), Int32(tag), comm, &status)
        }
        // A shorter message is not an MPI error: it would leave the end of the tensor stale.
        var received: Int32 = 0
        MPI_Get_count(&status, Self.mpiType(tensor.dtype), &received)
        guard Int(received) == tensor.count else {
            throw DistributedError(
                operation: "receive", rank: rank, size: size,
                message: "rank \(source) sent \(received) \(tensor.dtype) elements, the tensor holds \(tensor.count)")
        }
    }

    public func barrier() throws {
        try locked("barrier") { comm in MPI_Barrier(comm) }
    }

    // MARK: Plumbing

    /// Runs one MPI call under the lock on the live communicator; a non-success code is thrown.
    fileprivate func locked(_ operation: String, _ call: (MPI_Comm) -> Int32) throws {
        lock.lock()
        defer { lock.unlock() }
        guard let comm = communicator else {
            throw DistributedError(
                operation: operation, rank: rank, size: size, message: "the MPI process group was finalized")
        }
        let code = call(comm)
        guard code == MPI_SUCCESS else { throw Self.error(operation, rank: rank, size: size, code: code) }
    }

    /// Runs `call` on the tensor's row-major elements; returns the storage it used.
    @discardableResult
    private func withElements(
        of tensor: Tensor, _ operation: String, writes: Bool,
        _ call: (UnsafeMutableRawPointer, Int32, MPI_Datatype, MPI_Comm) -> Int32
    ) throws -> TensorStorage {
        guard tensor.count <= Int(Int32.max) else {
            throw DistributedError(
                operation: operation, rank: rank, size: size,
                message: "\(tensor.count) elements; one MPI call carries at most \(Int32.max)")
        }
        let storage = tensor.storage
        defer { if writes { storage.markModified() } }
        try locked(operation) { comm in call(storage.pointer, Int32(tensor.count), Self.mpiType(tensor.dtype), comm) }
        return storage
    }

    private func checkTag(_ tag: Int, _ operation: String) throws {
        // MPI guarantees tags up to 32767; Open MPI allows up to Int32.max.
        guard (0...Int(Int32.max)).contains(tag) else {
            throw DistributedError(
                operation: operation, rank: rank, size: size, message: "tag \(tag) is outside 0...\(Int32.max)")
        }
    }

    fileprivate static func mpiType(_ dtype: DType) -> MPI_Datatype {
        switch dtype {
        case .float32: return strata_mpi_float()
        case .float64: return strata_mpi_double()
        default: preconditionFailure("MPI: no reduction for \(dtype) tensors (float32/float64 only)")
        }
    }

    private static func mpiOp(_ op: ReduceOperation) -> MPI_Op {
        switch op {
        case .sum, .average: return strata_mpi_sum()
        case .max: return strata_mpi_max()
        case .min: return strata_mpi_min()
        }
    }

    /// A DistributedError carrying MPI's own words for `code`.
    fileprivate static func error(_ operation: String, rank: Int, size: Int, code: Int32) -> DistributedError {
        var text = [CChar](repeating: 0, count: Int(strata_mpi_max_error_string()) + 1)
        var length: Int32 = 0
        let message =
            MPI_Error_string(code, &text, &length) == MPI_SUCCESS
            ? String(decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            : "unknown MPI error"
        return DistributedError(operation: operation, rank: rank, size: size, message: message, mpiErrorCode: code)
    }
}

/// Divides every element by `n` (the second half of ``ReduceOperation/average``).
func divide(_ tensor: Tensor, by n: Int) {
    switch tensor.dtype {
    case .float32:
        let d = Float(n)
        tensor.withUnsafeMutableBuffer(as: Float.self) { b in for i in b.indices { b[i] /= d } }
    case .float64:
        let d = Double(n)
        tensor.withUnsafeMutableBuffer(as: Double.self) { b in for i in b.indices { b[i] /= d } }
    default:
        preconditionFailure("MPI: no average for \(tensor.dtype) tensors (float32/float64 only)")
    }
}

/// An `MPI_Iallreduce` in flight.
final class MPIRequestHandle: CollectiveHandle, @unchecked Sendable {
    private let group: MPIProcessGroup
    private var request: MPI_Request?
    /// Kept alive while MPI writes into it.
    private let storage: TensorStorage
    private let tensor: Tensor
    private let divisor: Int?
    private var outcome: Result<Void, DistributedError>?
    private let lock = NSLock()

    init(group: MPIProcessGroup, request: MPI_Request?, storage: TensorStorage, tensor: Tensor, divisor: Int?) {
        (self.group, self.request, self.storage, self.tensor, self.divisor) = (group, request, storage, tensor, divisor)
    }

    deinit { try? wait() }

    func wait() throws {
        lock.lock()
        defer { lock.unlock() }
        if let outcome { return try outcome.get() }
        var failure: DistributedError?
        do { try group.locked("allReduceAsync.wait") { _ in MPI_Wait(&request, strata_mpi_status_ignore()) } } catch let
            e as DistributedError
        { failure = e }
        try finish(failure)
    }

    func isComplete() throws -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if let outcome {
            try outcome.get()
            return true
        }
        var flag: Int32 = 0
        var failure: DistributedError?
        do {
            try group.locked("allReduceAsync.isComplete") { _ in MPI_Test(&request, &flag, strata_mpi_status_ignore()) }
        } catch let e as DistributedError { failure = e }
        if flag == 0 && failure == nil { return false }
        try finish(failure)
        return true
    }

    private func finish(_ failure: DistributedError?) throws {
        if let failure {
            outcome = .failure(failure)
            throw failure
        }
        storage.markModified()
        if let divisor { divide(tensor, by: divisor) }
        outcome = .success(())
    }
}
