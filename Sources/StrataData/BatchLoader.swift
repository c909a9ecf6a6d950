import Dispatch
import StrataTensor

/// One mini-batch: images [N, C, H, W] and labels.
public struct Batch: @unchecked Sendable {
    public let images: Tensor
    public let labels: [Int]
    /// The dataset index of each example.
    public let indices: [Int]
}

/// Splits 0..<count into mini-batches in a seeded shuffled (or fixed) order and assembles them,
/// applying an optional ``ImageTransform`` (augmentation, normalization) to every example.
///
/// Every batch is a pure function of (dataset, order, transform, augmentation seed, batch
/// index): example `i` of the epoch order gets its own generator seeded from
/// (``augmentationSeed``, `i`), so batches do not depend on thread count, on which thread
/// built them, or on whether they were prefetched (``prefetching(workers:depth:startingAt:)``).
///
/// ```swift
/// let loader = BatchLoader(train, batchSize: 128, shuffleSeed: seed &+ UInt64(epoch),
///                          transform: .cifarTraining())
/// for batch in loader.prefetching(workers: 2) { … }
/// ```
public struct BatchLoader: Sequence, Sendable {
    /// A per-example in-place augmentation on the (transformed) CHW pixels.
    public typealias Augmentation = @Sendable (UnsafeMutableBufferPointer<Float>, inout RandomGenerator) -> Void

    public let dataset: any Dataset
    public let batchSize: Int
    /// Dataset indices in epoch order.
    public let order: [Int]
    /// Applied to every example (CHW layout) before ``augment``.
    public let transform: ImageTransform?
    /// Optional per-example augmentation applied to the CHW pixels after ``transform``.
    public let augment: Augmentation?
    /// Seeds every example's generator together with its position in ``order``.
    public let augmentationSeed: UInt64
    /// [C, H, W] of the examples in a batch (after the transform).
    public let imageShape: [Int]
    /// Data-parallel sharding: this process's index and the number of processes. Batch `b` is then
    /// this process's part of global batch `b` (``batchSize`` is the global batch): the global batch's
    /// examples split into `count` contiguous parts as equal as possible (PyTorch's DistributedSampler
    /// splits the same global order), with each example's augmentation seeded by its global position,
    /// so the parts of all processes together are exactly the batch one process would assemble.
    public let shard: (rank: Int, count: Int)

    /// - Parameters:
    ///   - dataset: the examples to batch.
    ///   - batchSize: examples per batch (the global batch when sharded).
    ///   - shuffleSeed: when set, the order is a permutation drawn from this seed (an epoch's order).
    ///   - dropLast: leave out the last, smaller batch.
    ///   - transform: applied to every example (must be in CHW layout).
    ///   - augmentationSeed: seeds the per-example generators; by default derived from `shuffleSeed`.
    ///   - augment: per-example augmentation after the transform, seeded per example.
    ///   - shard: this process's part of every batch in data-parallel training (see ``shard``).
    public init(
        _ dataset: any Dataset, batchSize: Int, shuffleSeed: UInt64? = nil, dropLast: Bool = false,
        transform: ImageTransform? = nil, augmentationSeed: UInt64? = nil, augment: Augmentation? = nil,
        shard: (rank: Int, count: Int) = (0, 1)
    ) {
        precondition(batchSize > 0, "BatchLoader: batch size must be positive")
        precondition(
            shard.count > 0 && (0..<shard.count).contains(shard.rank),
            "BatchLoader: shard \(shard.rank) of \(shard.count)")
        self.shard = shard
        precondition(transform?.layout ?? .chw == .chw, "BatchLoader: the transform must work on CHW buffers")
        self.dataset = dataset
        self.batchSize = batchSize
        var order: [Int]
        if let shuffleSeed {
            var g = RandomGenerator(seed: shuffleSeed)
            order = g.permutation(dataset.count)
        } else {
            order = Array(0..<dataset.count)
        }
        if dropLast { order = Array(order.prefix(dataset.count / batchSize * batchSize)) }
        self.order = order
        self.transform = transform
        self.augment = augment
        self.augmentationSeed = augmentationSeed ?? ((shuffleSeed ?? 0) &* 0x9E37_79B9_7F4A_7C15 &+ 1)
        // The first example's shape (a variable-size dataset's nominal shape may not be a real one).
        let inShape = dataset.count > 0 ? dataset.shape(of: order.first ?? 0) : dataset.imageShape
        imageShape = transform?.outputShape(for: inShape) ?? inShape
    }

    public var batchCount: Int { (order.count + batchSize - 1) / batchSize }

    /// The generator of the example at `position` in ``order``.
    public func exampleGenerator(position: Int) -> RandomGenerator {
        RandomGenerator(seed: augmentationSeed ^ (UInt64(position) &* 0xD1B5_4A32_D192_ED03))
    }

    /// Assembles batch `b`, loading its examples in parallel on Dispatch's threads.
    public func batch(_ b: Int) -> Batch { assemble(b, parallel: true) }

    /// Assembles batch `b`; `parallel: false` loads on the calling thread only (what
    /// prefetching workers do). The result is the same either way.
    public func assemble(_ b: Int, parallel: Bool) -> Batch {
        precondition(b >= 0 && b < batchCount, "BatchLoader: batch \(b) of \(batchCount)")
        var start = b * batchSize
        var end = Swift.min(order.count, start + batchSize)
        if shard.count > 1 {
            let global = end - start
            (start, end) = (start + global * shard.rank / shard.count, start + global * (shard.rank + 1) / shard.count)
        }
        let n = end - start
        let per = imageShape.reduce(1, *)
        let storage = TensorStorage(dtype: .float32, count: n * per)
        var labels = [Int](repeating: 0, count: n)
        let base = storage.typed(Float.self)
        labels.withUnsafeMutableBufferPointer { lab in
            let labBase = lab.baseAddress!
            let body = { (i: Int) in
                var scratch: [Float] = []
                labBase[i] = fill(
                    position: start + i, into: UnsafeMutableBufferPointer(start: base + i * per, count: per),
                    scratch: &scratch)
            }
            if parallel {
                concurrentLoop(n, body)
            } else {
                for i in 0..<n { body(i) }
            }
        }
        return Batch(
            images: Tensor(shape: [n] + imageShape, storage: storage), labels: labels,
            indices: Array(order[start..<end]))
    }

    /// Loads, transforms and augments the example at `position` of the order into `slot`; returns its label.
    func fill(position: Int, into slot: UnsafeMutableBufferPointer<Float>, scratch: inout [Float]) -> Int {
        let index = order[position]
        var g = exampleGenerator(position: position)
        let label: Int
        if let transform {
            let inShape = dataset.shape(of: index)
            let n = inShape.reduce(1, *)
            if scratch.count != n { scratch = [Float](repeating: 0, count: n) }
            label = scratch.withUnsafeMutableBufferPointer { dataset.load(index, into: $0) }
            let outShape = transform.outputShape(for: inShape)
            precondition(
                outShape == imageShape,
                "BatchLoader: example \(index) of shape \(inShape) transforms to \(outShape), not \(imageShape)")
            scratch.withUnsafeBufferPointer { transform.apply($0, shape: inShape, generator: &g, into: slot) }
        } else {
            let inShape = dataset.shape(of: index)
            precondition(
                inShape == imageShape,
                "BatchLoader: example \(index) has shape \(inShape), not \(imageShape); use a transform that resizes")
            label = dataset.load(index, into: slot)
        }
        augment?(slot, &g)
        return label
    }

    public func makeIterator() -> AnyIterator<Batch> {
        var b = 0
        return AnyIterator {
            guard b < batchCount else { return nil }
            defer { b += 1 }
            return batch(b)
        }
    }

    /// The same batches, in the same order, assembled ahead of time on `workers` background
    /// threads (each builds whole batches; at most `max(depth, workers)` batches are built
    /// or waiting at once). `workers: 0` assembles on the consumer's thread. Start at batch
    /// `startingAt` to resume within an epoch.
    public func prefetching(workers: Int = 2, depth: Int = 3, startingAt start: Int = 0) -> PrefetchingLoader {
        PrefetchingLoader(self, workers: workers, depth: depth, startingAt: start)
    }
}

func concurrentLoop(_ n: Int, _ body: (Int) -> Void) {
    if n < 16 {
        for i in 0..<n { body(i) }
        return
    }
    withoutActuallyEscaping(body) { body in DispatchQueue.concurrentPerform(iterations: n, execute: body) }
}
