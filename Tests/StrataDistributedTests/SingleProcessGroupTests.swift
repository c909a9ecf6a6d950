import StrataDistributed
import StrataTensor
import Testing

/// One process: every collective is the identity, so N-rank code runs unchanged on one.
@Suite struct SingleProcessGroupTests {
    let group = SingleProcessGroup()

    @Test func collectivesAreTheIdentity() throws {
        #expect(group.rank == 0 && group.size == 1 && group.isPrimary)
        for op in ReduceOperation.allCases {
            let t = Tensor([1.5, -2, 3] as [Float], shape: [3])
            try group.allReduce(t, op: op)
            #expect(t.floats == [1.5, -2, 3])
        }
        let d = Tensor([1, 2] as [Double], shape: [2])
        let handle = try group.allReduceAsync(d, op: .average)
        #expect(try handle.isComplete())
        try handle.wait()
        #expect(d.doubles == [1, 2])
        try group.broadcast(d, root: 0)
        #expect(d.doubles == [1, 2])
        let gathered = try group.allGather(Tensor([7, 8, 9, 10] as [Float], shape: [2, 2]))
        #expect(gathered.count == 1 && gathered[0].shape == [2, 2] && gathered[0].floats == [7, 8, 9, 10])
        try group.barrier()
    }

    @Test func sendToItselfIsReceivedByTag() throws {
        try group.send(Tensor([1, 2] as [Float], shape: [2]), to: 0, tag: 1)
        try group.send(Tensor([3, 4] as [Float], shape: [2]), to: 0, tag: 2)
        let t = Tensor([0, 0] as [Float], shape: [2])
        try group.receive(t, from: 0, tag: 2)
        #expect(t.floats == [3, 4])
        try group.receive(t, from: 0, tag: 1)
        #expect(t.floats == [1, 2])
        #expect(throws: DistributedError.self) { try group.receive(t, from: 0, tag: 1) }
        try group.send(Tensor([1, 2, 3] as [Float], shape: [3]), to: 0)
        let e = #expect(throws: DistributedError.self) { try group.receive(t, from: 0) }
        #expect(
            e?.description == "receive failed on rank 0 of 1: 3 float32 elements were sent, the tensor holds 2 float32")
    }

    @Test func ranksOutsideTheGroupAreErrors() throws {
        let t = Tensor([1] as [Float], shape: [1])
        let e = #expect(throws: DistributedError.self) { try group.broadcast(t, root: 1) }
        #expect(e?.description == "broadcast failed on rank 0 of 1: root rank 1 is outside 0..<1")
        #expect(throws: DistributedError.self) { try group.send(t, to: -1) }
    }

    /// `swift test` is not started by mpirun, so the factory picks the single process.
    @Test(.enabled(if: !MPIProcessGroup.isLaunchedByMPI, "this test process was started by mpirun"))
    func factoryPicksOneProcessWithoutMPIRun() throws {
        let group = try ProcessGroups.current()
        #expect(group.backendName == "single" && group.size == 1)
        #expect(try ProcessGroups.current() === group)
        #expect(try ProcessGroups.current(backend: .single) === group)
        let e = #expect(throws: DistributedError.self) { try ProcessGroups.current(backend: .mpi) }
        #expect(e?.message.contains("already uses the single process group") == true)
    }

    @Test func errorDescriptionNamesOperationRankAndMPIText() {
        let e = DistributedError(
            operation: "send", rank: 0, size: 2, message: "MPI_ERR_RANK: invalid rank", mpiErrorCode: 6)
        #expect(e.description == "send failed on rank 0 of 2: MPI_ERR_RANK: invalid rank (MPI error 6)")
    }
}
