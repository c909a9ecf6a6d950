// Multi-rank tests: the parent tests start `mpirun -np N` on this very test binary, filtered to
// `MPIWorker/worker()`, with STRATA_MPI_WORKER naming what the ranks do. Each rank checks every
// collective against values it computes from the ranks alone, prints one summary line
// ("MPIWORKER rank=… ok checks=…") and exits 0, or prints what failed and exits 1 (which makes
// mpirun end the other ranks). The parent asserts mpirun's status and parses the lines.
//
// By hand (STRATA_MPI_BENCH_MB adds an allreduce bandwidth measurement):
//   STRATA_MPI_WORKER=check STRATA_MPI_BENCH_MB=100 mpirun --allow-run-as-root -np 2 \
//     .build/debug/StrataPackageTests.xctest --testing-library swift-testing --filter MPIWorker/worker

import Foundation
import StrataDistributed
import StrataTensor
import StrataTestSupport
import Testing

/// What this process does as a rank (STRATA_MPI_WORKER), nil when it is not a worker.
let workerMode = ProcessInfo.processInfo.environment["STRATA_MPI_WORKER"]

@Suite(.serialized) struct MultiRankTests {
    /// Runs `np` ranks of this test binary in worker `mode`; kills mpirun after `timeout` seconds.
    func mpirun(np: Int, mode: String, environment extra: [String: String] = [:], timeout: Double) throws -> MPIRun {
        try runTestBinaryUnderMPI(
            np: np, variable: "STRATA_MPI_WORKER", mode: mode, filter: "MPIWorker/worker",
            environment: extra, timeout: timeout)
    }

    @Test(
        "2 and 3 ranks: allreduce sum/average/max, broadcast, allgather, send/receive ring, barrier, async allreduce, Float64, MPI errors",
        .enabled(if: mpirunPath != nil, "mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev)"),
        .enabled(if: workerMode == nil, "this process is itself a worker"),
        arguments: [2, 3])
    func collectivesAgreeAcrossRanks(np: Int) throws {
        let bench = np == 2 ? ["STRATA_MPI_BENCH_MB": "16"] : [:]
        let run = try mpirun(np: np, mode: "check", environment: bench, timeout: 90)
        #expect(!run.timedOut, "mpirun -np \(np) still running after 90 s:\n\(run.output)")
        #expect(run.status == 0, "mpirun -np \(np) exited with \(run.status):\n\(run.output)")
        let lines = run.output.split(separator: "\n").filter { $0.hasPrefix("MPIWORKER") }
        for r in 0..<np {
            #expect(
                lines.contains { $0.hasPrefix("MPIWORKER rank=\(r) size=\(np) ok") },
                "rank \(r) did not report success:\n\(run.output)")
        }
        print("mpirun -np \(np): \(String(format: "%.2f", run.seconds)) s")
        for line in lines where line.contains("bandwidth") { print(line) }
    }

    /// A rank that exits with an error (`exit(3)`, or ``ProcessGroup/abort(exitCode:)``) while the
    /// others wait in an allreduce: mpirun must end every rank promptly rather than leave them
    /// waiting forever.
    @Test(
        .enabled(if: mpirunPath != nil, "mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev)"),
        .enabled(if: workerMode == nil, "this process is itself a worker"),
        arguments: ["fail", "abort"])
    func aFailingRankEndsTheJob(mode: String) throws {
        let run = try mpirun(np: 3, mode: mode, timeout: 30)
        #expect(!run.timedOut, "mpirun still running 30 s after a rank failed:\n\(run.output)")
        #expect(run.status != 0, "mpirun exited 0 although a rank failed:\n\(run.output)")
        #expect(run.seconds < 15, "mpirun took \(run.seconds) s to end the job:\n\(run.output)")
        #expect(run.output.contains("MPIWORKER rank=2 exiting with status 3"), "\(run.output)")
        // Every rank that was waiting is gone (or a zombie nobody reaped yet).
        let pids = run.output.split(separator: "\n").compactMap { line -> Int32? in
            guard line.hasPrefix("MPIWORKER"), let r = line.range(of: "pid=") else { return nil }
            return Int32(line[r.upperBound...].prefix { $0.isNumber })
        }
        #expect(pids.count == 3, "\(run.output)")
        let deadline = Date().addingTimeInterval(5)
        for pid in pids {
            while isRunning(pid) && Date() < deadline { usleep(50_000) }
            #expect(!isRunning(pid), "rank process \(pid) survived mpirun")
        }
        print(
            "mpirun ended all ranks \(String(format: "%.2f", run.seconds)) s after start (one rank: \(mode == "fail" ? "exit(3)" : "abort(exitCode: 3)"))"
        )
    }

    func isRunning(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        guard let close = stat.range(of: ") ", options: .backwards) else { return true }
        return stat[close.upperBound...].first != "Z"
    }
}

// MARK: The ranks

@Suite struct MPIWorker {
    @Test(.enabled(if: workerMode != nil, "runs only as a rank under mpirun, started by MultiRankTests"))
    func worker() throws {
        let group = try ProcessGroups.current()
        guard group.backendName == "mpi" else {
            say("MPIWORKER not under mpirun (backend \(group.backendName))")
            exit(1)
        }
        switch workerMode {
        case "check": try check(group)
        case "fail", "abort": try fail(group, abort: workerMode == "abort")
        default:
            say("MPIWORKER unknown STRATA_MPI_WORKER=\(workerMode ?? "")")
            exit(1)
        }
    }

    func fail(_ group: any ProcessGroup, abort: Bool) throws {
        say("MPIWORKER rank=\(group.rank) pid=\(getpid())")
        try group.barrier()
        if group.rank == group.size - 1 {
            usleep(200_000)
            say("MPIWORKER rank=\(group.rank) exiting with status 3")
            if abort { group.abort(exitCode: 3) }
            exit(3)
        }
        try group.allReduce(Tensor([1] as [Float], shape: [1])) // never completes: rank size-1 is gone
        say("MPIWORKER rank=\(group.rank) allReduce returned although a rank had exited")
        sleep(120)
    }

    func check(_ group: any ProcessGroup) throws {
        let (r, n) = (group.rank, group.size)
        var failures: [String] = []
        var checks = 0
        func expect(_ condition: Bool, _ what: @autoclosure () -> String) {
            checks += 1
            if !condition { failures.append(what()) }
        }
        /// Rank `rank`'s i-th element: small integers, so every sum is exact in any order.
        func value(_ rank: Int, _ i: Int) -> Double { Double((rank + 1) * (i % 13) - i % 5) }
        func make(_ dtype: DType, _ values: [Double], shape: [Int]? = nil) -> Tensor {
            dtype == .float32
                ? Tensor(values.map { Float($0) }, shape: shape ?? [values.count])
                : Tensor(values, shape: shape ?? [values.count])
        }
        /// The reduction as this dtype computes it (average: the exact sum, then one rounded division).
        func reduced(_ op: ReduceOperation, _ dtype: DType, _ i: Int) -> Double {
            let all = (0..<n).map { value($0, i) }
            switch op {
            case .sum: return all.reduce(0, +)
            case .average:
                return dtype == .float32 ? Double(Float(all.reduce(0, +)) / Float(n)) : all.reduce(0, +) / Double(n)
            case .max: return all.max()!
            case .min: return all.min()!
            }
        }

        let count = 1001
        for dtype in [DType.float32, .float64] {
            for op in ReduceOperation.allCases {
                let t = make(dtype, (0..<count).map { value(r, $0) })
                try group.allReduce(t, op: op)
                let expected = (0..<count).map { reduced(op, dtype, $0) }
                expect(
                    t.doubles == expected,
                    "allReduce \(op) \(dtype): first elements \(t.doubles.prefix(4)), expected \(expected.prefix(4))")
            }

            let root = n - 1
            let b = make(dtype, (0..<count).map { r == root ? value(root, $0) : -1 }, shape: [7, 11, 13])
            try group.broadcast(b, root: root)
            expect(
                b.doubles == (0..<count).map { value(root, $0) } && b.shape == [7, 11, 13],
                "broadcast \(dtype) from rank \(root)")

            let gathered = try group.allGather(make(dtype, (0..<6).map { Double(100 * r + $0) }, shape: [2, 3]))
            expect(gathered.count == n, "allGather \(dtype): \(gathered.count) tensors")
            for (k, g) in gathered.enumerated() {
                expect(
                    g.shape == [2, 3] && g.dtype == dtype && g.doubles == (0..<6).map { Double(100 * k + $0) },
                    "allGather \(dtype): rank \(k)'s tensor is \(g.shape) \(g.doubles)")
            }
        }

        // Every rank sees the same mismatch and throws the same error (no rank is left waiting).
        do {
            _ = try group.allGather(Tensor([Float](repeating: 0, count: r == 1 ? 4 : 6), shape: [r == 1 ? 4 : 6]))
            expect(false, "allGather with mismatched sizes did not throw")
        } catch let e as DistributedError {
            expect(
                e.operation == "allGather" && e.message.hasPrefix("rank 1 passed 4 float32 elements, rank 0 passed 6"),
                "allGather mismatch: \(e)")
        }

        // A ring, large enough (4 MiB) that sends wait for their receivers: even ranks send first.
        let ringCount = 1 << 20
        let next = (r + 1) % n
        let previous = (r + n - 1) % n
        let outgoing = Tensor((0..<ringCount).map { Float(r * 1000 + $0 % 1000) }, shape: [ringCount])
        let incoming = Tensor([Float](repeating: -1, count: ringCount), shape: [ringCount])
        if r % 2 == 0 {
            try group.send(outgoing, to: next, tag: 5)
            try group.receive(incoming, from: previous, tag: 5)
        } else {
            try group.receive(incoming, from: previous, tag: 5)
            try group.send(outgoing, to: next, tag: 5)
        }
        let ring = incoming.floats
        expect(
            (0..<ringCount).allSatisfy { ring[$0] == Float(previous * 1000 + $0 % 1000) },
            "ring: rank \(previous)'s message")

        // Two asynchronous allreduces in flight at once (gradient buckets), completed out of order.
        let first = make(.float32, (0..<count).map { value(r, $0) })
        let second = make(.float64, (0..<count).map { value(r, $0) })
        let h1 = try group.allReduceAsync(first, op: .average)
        let h2 = try group.allReduceAsync(second, op: .sum)
        var polls = 0
        while try !h2.isComplete() {
            polls += 1
            usleep(100)
        }
        try h1.wait()
        try h1.wait()
        expect(first.doubles == (0..<count).map { reduced(.average, .float32, $0) }, "allReduceAsync average float32")
        expect(
            second.doubles == (0..<count).map { reduced(.sum, .float64, $0) },
            "allReduceAsync sum float64 (after \(polls) polls)")

        // Barrier: rank 0 arrives 300 ms late; nobody leaves before it arrives.
        if r == 0 { usleep(300_000) }
        let waitStart = Date()
        try group.barrier()
        let waited = Date().timeIntervalSince(waitStart)
        if r != 0 { expect(waited > 0.2, "barrier returned after \(waited) s, before rank 0 arrived") }

        // MPI errors come back as errors (MPI_ERRORS_RETURN), not as an abort. Rank 0 sends 8
        // elements (tag 8) and 2 (tag 9); rank 1 receives each into 4.
        if r == 0 {
            try group.send(Tensor([Float](repeating: 1, count: 8), shape: [8]), to: 1, tag: 8)
            try group.send(Tensor([Float](repeating: 1, count: 2), shape: [2]), to: 1, tag: 9)
        } else if r == 1 {
            let four = Tensor([Float](repeating: 0, count: 4), shape: [4])
            do {
                try group.receive(four, from: 0, tag: 8)
                expect(false, "receiving 8 elements into 4 did not throw")
            } catch let e as DistributedError {
                expect(
                    e.operation == "receive" && e.rank == 1 && e.mpiErrorCode != nil
                        && e.message.contains("MPI_ERR_TRUNCATE"),
                    "receive truncation: \(e)")
            }
            do {
                try group.receive(four, from: 0, tag: 9)
                expect(false, "receiving 2 elements into 4 did not throw")
            } catch let e as DistributedError {
                expect(e.message == "rank 0 sent 2 float32 elements, the tensor holds 4", "short receive: \(e)")
            }
        }
        do {
            try group.send(Tensor([1] as [Float], shape: [1]), to: n)
            expect(false, "send to rank \(n) did not throw")
        } catch let e as DistributedError {
            expect(
                e.description == "send failed on rank \(r) of \(n): destination rank \(n) is outside 0..<\(n)", "\(e)")
        }

        if let mb = ProcessInfo.processInfo.environment["STRATA_MPI_BENCH_MB"].flatMap(Int.init), mb > 0 {
            try measureBandwidth(group, megabytes: mb, expect: expect)
        }

        try group.barrier()
        guard failures.isEmpty else {
            for f in failures { say("MPIWORKER rank=\(r) FAIL: \(f)") }
            exit(1)
        }
        try group.finalize()
        say("MPIWORKER rank=\(r) size=\(n) ok checks=\(checks)")
    }

    /// Allreduce (sum) of `megabytes` × 10⁶ bytes of Float32, best of 5 after a warm-up: algorithm
    /// bandwidth (bytes ÷ time) and bus bandwidth (× 2(n−1)/n, what each rank's link carries).
    func measureBandwidth(_ group: any ProcessGroup, megabytes: Int, expect: (Bool, @autoclosure () -> String) -> Void)
        throws
    {
        let count = megabytes * 1_000_000 / 4
        let storage = TensorStorage.zeros(dtype: .float32, count: count)
        let p = storage.typed(Float.self)
        for i in 0..<count { p[i] = Float(group.rank + 1) }
        let t = Tensor(shape: [count], storage: storage)
        try group.allReduce(t)
        let n = group.size
        expect(p[0] == Float(n * (n + 1) / 2) && p[count - 1] == Float(n * (n + 1) / 2), "bandwidth allreduce sum")
        var times: [Double] = []
        for _ in 0..<5 {
            try group.barrier()
            let start = Date()
            try group.allReduce(t)
            times.append(Date().timeIntervalSince(start))
        }
        let best = times.min()!
        let mean = times.reduce(0, +) / Double(times.count)
        let bytes = Double(count * 4)
        if group.rank == 0 {
            say(
                String(
                    format:
                        "MPIWORKER bandwidth allReduce %d MB float32, %d ranks: best %.1f ms (%.2f GB/s algorithm, %.2f GB/s bus), mean %.1f ms",
                    megabytes, n, best * 1000, bytes / best / 1e9, bytes / best / 1e9 * 2 * Double(n - 1) / Double(n),
                    mean * 1000))
        }
    }
}

/// Prints a line and flushes at once: a rank may be killed before stdio would flush.
func say(_ line: String) {
    print(line)
    fflush(stdout)
}
