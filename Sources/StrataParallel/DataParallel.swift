// Data-parallel training over a ProcessGroup, as PyTorch's DistributedDataParallel: the trainer's
// TrainingSynchronizer (StrataTraining) implemented with StrataDistributed's collectives.

import Foundation
import StrataData
import StrataDistributed
import StrataNN
import StrataTensor
import StrataTraining

/// Data-parallel training of one model by every rank of a `ProcessGroup`.
///
/// ```swift
/// let group = try ProcessGroups.current()                 // MPI under mpirun, else one process
/// let trainer = Trainer(model: net, configuration: c)      // c.batchSize: the global batch
/// if group.size > 1 {
///     trainer.synchronizer = DataParallel(group: group)
///     if syncBN { DataParallel.synchronizeBatchNorm(in: net, group: group) }
/// }
/// if group.isPrimary { trainer.runDirectory = run }       // rank 0 writes
/// ```
///
/// - At the start the ranks compare a fingerprint of what they train (settings, dataset sizes and
///   classes, parameter count, progress): a difference is an error on every rank naming it. Then
///   every rank takes rank 0's parameters, buffers and optimizer state (broadcast).
/// - Each rank computes the gradient of its part of every global batch; gradients are packed, in
///   reverse parameter order (about the order the backward produces them), into buckets of at most
///   ``bucketBytes`` and each bucket is averaged (asynchronous allreduce) as soon as its last gradient
///   is ready, while the backward goes on. ``finishBackward()`` waits for all of them.
/// - Evaluation: every rank evaluates its part of the validation set with rank 0's buffers
///   (running statistics), and the counts are summed.
public final class DataParallel: TrainingSynchronizer {
    public let group: any ProcessGroup
    /// The largest gradient bucket (PyTorch's default: 25 MiB).
    public let bucketBytes: Int
    /// Added to the fingerprint the ranks compare (whether batch norm is synchronized, say).
    public var extraFingerprint: [(name: String, value: String)] = []

    public var rank: Int { group.rank }
    public var size: Int { group.size }

    /// Gradients of parameters of one dtype, packed into one flat tensor.
    final class Bucket {
        let dtype: DType
        var members: [(parameter: Tensor, offset: Int)] = []
        var elements = 0
        var flat: Tensor?
        var ready = 0
        var filled: Set<ObjectIdentifier> = []
        var handle: (any CollectiveHandle)?
        init(dtype: DType) { self.dtype = dtype }
    }

    private var buckets: [Bucket] = []
    private var place: [ObjectIdentifier: (bucket: Int, offset: Int)] = [:]
    private var layoutKey: [ObjectIdentifier] = []
    /// Buckets [0, nextLaunch) are in flight: every rank launches them in index order.
    private var nextLaunch = 0
    /// The first failure of an allreduce started during the backward (thrown by finishBackward).
    private var failure: Error?

    /// Whether a bucket's allreduce starts during the backward, as soon as its gradients are in
    /// (true, the default), or only when the backward is over (false: no overlap, for measuring
    /// what the overlap saves; the results are the same).
    public var overlapsCommunication = true

    /// Time this rank spent in ``finishBackward()`` waiting for gradient allreduces, and the
    /// number of steps, since the start (the communication the backward did not hide).
    public private(set) var communicationWait: (seconds: Double, steps: Int) = (0, 0)

    public init(group: any ProcessGroup, bucketMegabytes: Double = 25) {
        self.group = group
        bucketBytes = Swift.max(1, Int(bucketMegabytes * 1_048_576))
    }

    /// How the gradients were packed (for tests and logs): parameter counts per bucket.
    public var bucketSizes: [Int] { buckets.map(\.members.count) }

    // MARK: Start

    public func start(model: Module, optimizer: any Optimizer, fingerprint: [(name: String, value: String)]) throws {
        let state = optimizer.stateDict()
        let all =
            fingerprint + extraFingerprint + [
                ("ranks", "\(size)"), ("bucket bytes", "\(bucketBytes)"),
                ("optimizer state", state.keys.sorted().joined(separator: ",")),
            ]
        try compare(all)
        for (_, t) in model.stateDict() { try group.broadcast(t, root: 0) }
        for key in state.keys.sorted() { try group.broadcast(state[key]!, root: 0) }
        if !state.isEmpty { try optimizer.loadStateDict(state) }
    }

    /// Throws on every rank, naming each item that differs from rank 0's, when the ranks' items differ.
    func compare(_ items: [(name: String, value: String)]) throws {
        var hashes: [Double] = []
        for item in items {
            let h = fnv1a(item.name + "\u{1F}" + item.value)
            hashes += [Double(h >> 32), Double(h & 0xFFFF_FFFF)]
        }
        let gathered = try group.allGather(Tensor(hashes, shape: [hashes.count])).map(\.doubles)
        let differing = items.indices.filter { i in
            gathered.contains { $0[2 * i] != gathered[0][2 * i] || $0[2 * i + 1] != gathered[0][2 * i + 1] }
        }
        guard !differing.isEmpty else { return }
        // Every rank knows which items differ: exchange their values (as bytes) to name them.
        let text = Array(differing.map { items[$0].value }.joined(separator: "\u{1F}").utf8)
        let lengths = try group.allGather(Tensor([Double(text.count)], shape: [1])).map { Int($0.doubles[0]) }
        let longest = lengths.max() ?? 0
        let padded = text.map(Double.init) + [Double](repeating: 0, count: longest - text.count)
        let texts = try group.allGather(Tensor(padded, shape: [Swift.max(longest, 0)])).enumerated().map { r, t in
            String(decoding: t.doubles.prefix(lengths[r]).map { UInt8($0) }, as: UTF8.self)
                .split(separator: "\u{1F}", omittingEmptySubsequences: false).map(String.init)
        }
        var parts: [String] = []
        for (k, i) in differing.enumerated() {
            var byValue: [(String, [Int])] = []
            for r in 0..<size {
                let v = k < texts[r].count ? texts[r][k] : "?"
                if let j = byValue.firstIndex(where: { $0.0 == v }) {
                    byValue[j].1.append(r)
                } else {
                    byValue.append((v, [r]))
                }
            }
            let said = byValue.map { v, ranks in
                "\(shorten(v)) on rank\(ranks.count > 1 ? "s" : "") \(ranks.map(String.init).joined(separator: ", "))"
            }
            parts.append("\(items[i].name): " + said.joined(separator: "; "))
        }
        throw DataParallelError(
            message: "the \(size) ranks do not train the same thing: " + parts.joined(separator: " | ")
                + " (every rank must run the same command on the same data)", collective: true)
    }

    // MARK: Steps

    public func sum(_ values: [Double]) throws -> [Double] {
        let t = Tensor(values, shape: [values.count])
        try group.allReduce(t, op: .sum)
        return t.doubles
    }

    public func beginBackward(parameters: [Tensor]) {
        let key = parameters.map { ObjectIdentifier($0) }
        if key != layoutKey {
            makeBuckets(parameters)
            layoutKey = key
        }
        for b in buckets {
            b.ready = 0
            b.filled.removeAll(keepingCapacity: true)
            b.handle = nil
        }
        nextLaunch = 0
        failure = nil
    }

    /// Buckets in reverse parameter order, one dtype each, at most ``bucketBytes`` (a larger
    /// parameter gets a bucket of its own).
    private func makeBuckets(_ parameters: [Tensor]) {
        buckets = []
        place = [:]
        var open: [DType: Int] = [:]
        for p in parameters.reversed() {
            let bytes = p.count * p.dtype.byteCount
            var index = open[p.dtype]
            if let i = index, buckets[i].elements * p.dtype.byteCount + bytes > bucketBytes { index = nil }
            if index == nil {
                buckets.append(Bucket(dtype: p.dtype))
                index = buckets.count - 1
                open[p.dtype] = index
            }
            let b = buckets[index!]
            place[ObjectIdentifier(p)] = (index!, b.elements)
            b.members.append((p, b.elements))
            b.elements += p.count
        }
        for b in buckets { b.flat = Tensor.zeros([b.elements], dtype: b.dtype) }
    }

    public func gradientReady(_ parameter: Tensor) {
        guard let (i, offset) = place[ObjectIdentifier(parameter)], let g = parameter.grad else { return }
        let b = buckets[i]
        guard b.filled.insert(ObjectIdentifier(parameter)).inserted else { return }
        copy(g, into: b, at: offset)
        b.ready += 1
        guard overlapsCommunication else { return }
        if b.ready == b.members.count { launchReady() }
        // MPI moves non-blocking collectives forward only inside MPI calls: poke the oldest one.
        if let h = buckets.prefix(nextLaunch).first(where: { $0.handle != nil })?.handle { _ = try? h.isComplete() }
    }

    /// Starts, in index order, every bucket whose gradients are all in.
    private func launchReady() {
        while nextLaunch < buckets.count && buckets[nextLaunch].ready == buckets[nextLaunch].members.count {
            launch(buckets[nextLaunch])
            nextLaunch += 1
        }
    }

    private func launch(_ b: Bucket) {
        guard failure == nil else { return }
        do { b.handle = try group.allReduceAsync(b.flat!, op: .average) } catch { failure = error }
    }

    public func finishBackward() throws {
        // Parameters that got no gradient on this rank count as zeros (another rank may have one).
        for b in buckets where b.ready < b.members.count {
            for (p, offset) in b.members where !b.filled.contains(ObjectIdentifier(p)) {
                let start = b.flat!.storage.pointer + offset * b.dtype.byteCount
                start.initializeMemory(as: UInt8.self, repeating: 0, count: p.count * b.dtype.byteCount)
                b.filled.insert(ObjectIdentifier(p))
            }
            b.ready = b.members.count
        }
        let waitStart = MonotonicClock.now()
        launchReady()
        for b in buckets { do { try b.handle?.wait() } catch { failure = failure ?? error } }
        communicationWait = (communicationWait.seconds + MonotonicClock.now() - waitStart, communicationWait.steps + 1)
        if let failure { throw failure }
        for b in buckets {
            let source = b.flat!.storage.pointer
            for (p, offset) in b.members {
                let s = TensorStorage(dtype: b.dtype, count: p.count)
                s.pointer.copyMemory(from: source + offset * b.dtype.byteCount, byteCount: p.count * b.dtype.byteCount)
                p.grad = Tensor(shape: p.shape, storage: s)
            }
        }
    }

    private func copy(_ g: Tensor, into b: Bucket, at offset: Int) {
        let g = g.dtype == b.dtype ? g : withNoGrad { g.to(b.dtype) }
        let destination = b.flat!.storage.pointer + offset * b.dtype.byteCount
        destination.copyMemory(from: g.storage.pointer, byteCount: g.count * b.dtype.byteCount)
        b.flat!.storage.markModified()
    }

    // MARK: Evaluation

    public func evaluate(_ dataset: any Dataset, model: Module, _ evaluate: (any Dataset) -> EvaluationResult) throws
        -> EvaluationResult
    {
        // Rank 0's buffers (per-rank batch norm leaves each rank its own running statistics).
        for (_, t) in model.namedBuffers() { try group.broadcast(t, root: 0) }
        let part = Subset(dataset, range: dataset.count * rank / size..<dataset.count * (rank + 1) / size)
        let k = dataset.classNames.count
        var values = [Double](repeating: 0, count: 4 + k * k)
        if part.count > 0 {
            let r = evaluate(part)
            let n = Double(r.count)
            values[0] = n
            values[1] = r.loss * n
            values[2] = (r.top1 * n).rounded()
            values[3] = (r.top5 * n).rounded()
            for i in 0..<k { for j in 0..<k { values[4 + i * k + j] = Double(r.confusion[i][j]) } }
        }
        let t = try sum(values)
        let n = Swift.max(t[0], 1)
        let confusion = (0..<k).map { i in (0..<k).map { j in Int(t[4 + i * k + j]) } }
        return EvaluationResult(loss: t[1] / n, top1: t[2] / n, top5: t[3] / n, confusion: confusion)
    }

    // MARK: Synchronized batch norm and failures

    /// Makes every `BatchNorm2d` of `model` use the statistics of all ranks' batches together in
    /// training (``ProcessGroupSum``); returns how many.
    @discardableResult
    public static func synchronizeBatchNorm(in model: Module, group: any ProcessGroup) -> Int {
        let sum = ProcessGroupSum(group: group)
        var n = 0
        for (_, m) in model.namedModules() {
            if let bn = m as? BatchNorm2d {
                bn.synchronization = sum
                n += 1
            }
        }
        return n
    }

    /// For a rank that cannot go on: prints `error` on standard error (a collective
    /// ``DataParallelError``, which every rank reached alike, only on rank 0) and ends every rank
    /// of the job (`ProcessGroup.abort(exitCode:)` of StrataDistributed), so that none waits for this one.
    public static func fail(_ error: Error, group: any ProcessGroup, exitCode: Int32 = 1) -> Never {
        let collective = (error as? DataParallelError)?.collective ?? false
        if !collective || group.rank == 0 {
            let place = collective ? "" : " (rank \(group.rank) of \(group.size); ending every rank)"
            FileHandle.standardError.write(Data("error\(place): \(error)\n".utf8))
        } else {
            usleep(200_000) // let rank 0 say it before the job ends
        }
        group.abort(exitCode: exitCode)
    }
}

/// A failure that data-parallel training detected; `collective` when every rank finds it alike.
public struct DataParallelError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var collective: Bool
    public init(message: String, collective: Bool) { (self.message, self.collective) = (message, collective) }
    public var description: String { message }
}

/// `CrossProcessSum` over a process group (synchronized batch norm). A failed allreduce ends the job.
public final class ProcessGroupSum: CrossProcessSum {
    public let group: any ProcessGroup
    public init(group: any ProcessGroup) { self.group = group }
    public func sumAcrossProcesses(_ tensor: Tensor) {
        do { try group.allReduce(tensor, op: .sum) } catch { DataParallel.fail(error, group: group) }
    }
}

/// The examples `range` of a dataset.
struct Subset: Dataset {
    let base: any Dataset
    let range: Range<Int>
    init(_ base: any Dataset, range: Range<Int>) { (self.base, self.range) = (base, range) }
    var count: Int { range.count }
    var imageShape: [Int] { base.imageShape }
    var classNames: [String] { base.classNames }
    func load(_ index: Int, into pixels: UnsafeMutableBufferPointer<Float>) -> Int {
        base.load(range.lowerBound + index, into: pixels)
    }
    func label(_ index: Int) -> Int { base.label(range.lowerBound + index) }
    func shape(of index: Int) -> [Int] { base.shape(of: range.lowerBound + index) }
}

/// At most 80 characters of `s`.
func shorten(_ s: String) -> String { s.count <= 80 ? s : String(s.prefix(77)) + "…" }

/// FNV-1a, 64 bits.
func fnv1a(_ s: String) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    return h
}
