import StrataData
import StrataTensor
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// 100 random 3×32×32 byte images with labels 0–9.
func smallCIFARLike(count: Int = 100) -> InMemoryDataset {
    var g = RandomGenerator(seed: 99)
    let pixels = (0..<(count * 3072)).map { _ in UInt8(truncatingIfNeeded: g.next()) }
    return InMemoryDataset(
        pixels: pixels, labels: (0..<count).map { ($0 * 7) % 10 }, imageShape: [3, 32, 32],
        classNames: CIFAR10.defaultClassNames)
}

/// A dataset that sleeps in every `load` (to make loading slower than a consumer).
struct SlowDataset: Dataset {
    let base: InMemoryDataset
    let microseconds: UInt32
    var count: Int { base.count }
    var imageShape: [Int] { base.imageShape }
    var classNames: [String] { base.classNames }
    func load(_ index: Int, into pixels: UnsafeMutableBufferPointer<Float>) -> Int {
        usleep(microseconds)
        return base.load(index, into: pixels)
    }
}

func expectSameBatches(_ a: [Batch], _ b: [Batch], sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.count == b.count, sourceLocation: sourceLocation)
    for (x, y) in zip(a, b) {
        #expect(
            x.labels == y.labels && x.indices == y.indices && x.images.shape == y.images.shape,
            sourceLocation: sourceLocation)
        #expect(
            floats(x.images).map(\.bitPattern) == floats(y.images).map(\.bitPattern), sourceLocation: sourceLocation)
    }
}

@Suite struct LoaderTests {
    @Test func batchesFollowTheSeededOrderAndPerExampleGenerators() {
        let d = smallCIFARLike()
        let loader = BatchLoader(d, batchSize: 16, shuffleSeed: 5, transform: .cifarTraining())
        #expect(loader.batchCount == 7 && loader.imageShape == [3, 32, 32])
        var g = RandomGenerator(seed: 5)
        #expect(loader.order == g.permutation(100))
        let b = loader.batch(6) // the last, smaller batch: positions 96–99
        #expect(b.images.shape == [4, 3, 32, 32] && b.indices == Array(loader.order[96...]))
        let x = floats(b.images)
        for i in 0..<4 {
            var eg = loader.exampleGenerator(position: 96 + i)
            let (pixels, label) = example(d, loader.order[96 + i])
            let expected = ImageTransform.cifarTraining().apply(pixels, shape: [3, 32, 32], generator: &eg).pixels
            #expect(Array(x[(i * 3072)..<((i + 1) * 3072)]) == expected)
            #expect(b.labels[i] == label)
        }
        // Parallel and serial assembly agree; a new loader with the same seeds gives the same batches.
        let again = BatchLoader(d, batchSize: 16, shuffleSeed: 5, transform: .cifarTraining())
        for k in 0..<loader.batchCount {
            expectSameBatches([loader.assemble(k, parallel: true)], [again.assemble(k, parallel: false)])
        }
        // Another epoch seed: another order and other augmentations.
        let other = BatchLoader(d, batchSize: 16, shuffleSeed: 6, transform: .cifarTraining())
        #expect(other.order != loader.order && other.augmentationSeed != loader.augmentationSeed)
        // dropLast, no transform: the raw [0, 1] pixels.
        let plain = BatchLoader(d, batchSize: 16, dropLast: true)
        #expect(plain.batchCount == 6 && plain.order == Array(0..<96))
        #expect(Array(floats(plain.batch(0).images).prefix(3072)) == example(d, 0).pixels)
    }

    @Test func prefetchingYieldsTheSynchronousBatches() {
        let d = smallCIFARLike()
        let loader = BatchLoader(d, batchSize: 16, shuffleSeed: 3, transform: .cifarTraining())
        let reference = Array(loader)
        for (workers, depth) in [(0, 1), (1, 1), (1, 3), (2, 2), (3, 4), (4, 1)] {
            let p = loader.prefetching(workers: workers, depth: depth)
            let got = Array(p)
            expectSameBatches(got, reference)
            #expect(p.delivered == loader.batchCount && p.next()?.labels == nil)
            #expect(p.waitFraction >= 0 && p.waitFraction <= 1 && p.waitingSeconds >= 0)
        }
        // Resuming inside an epoch: batches 4… only.
        expectSameBatches(Array(loader.prefetching(workers: 2, startingAt: 4)), Array(reference[4...]))
        #expect(Array(loader.prefetching(workers: 2, startingAt: loader.batchCount)).isEmpty)
    }

    @Test func stoppingEarlyReleasesTheWorkers() {
        let loader = BatchLoader(SlowDataset(base: smallCIFARLike(), microseconds: 200), batchSize: 8, shuffleSeed: 1)
        for _ in 0..<5 {
            let p = loader.prefetching(workers: 3, depth: 4)
            var n = 0
            for _ in p {
                n += 1
                if n == 2 { break }
            }
            #expect(n == 2)
            p.cancel()
            #expect(p.next()?.labels == nil)
        }
        // Dropped without cancel: deinit stops and joins the threads.
        for _ in 0..<5 { _ = loader.prefetching(workers: 2).next() }
    }

    @Test func waitingTimeIsMeasured() {
        let slow = SlowDataset(base: smallCIFARLike(count: 48), microseconds: 1000) // ≈ 8 ms per batch of 8
        let loader = BatchLoader(slow, batchSize: 8)
        // Loading on the consumer's thread: the consumer waits all the time.
        let sync = loader.prefetching(workers: 0)
        for _ in sync {}
        #expect(sync.waitFraction > 0.8, "waited \(sync.waitingSeconds) s of \(sync.elapsedSeconds) s")
        // A consumer slower than two workers: only the first batch is waited for.
        let ahead = loader.prefetching(workers: 2, depth: 3)
        for _ in ahead { usleep(30_000) }
        #expect(ahead.waitFraction < 0.5, "waited \(ahead.waitingSeconds) s of \(ahead.elapsedSeconds) s")
        #expect(ahead.elapsedSeconds > 0.15)
    }

    @Test func variableSizeExamplesNeedAResizingTransform() {
        /// Examples of different sizes, like an ImageFolder of photos.
        struct Photos: Dataset {
            var count: Int { 4 }
            var imageShape: [Int] { [3, 0, 0] }
            var classNames: [String] { ["a", "b"] }
            func shape(of index: Int) -> [Int] { [3, 10 + index * 7, 30 - index * 5] }
            func load(_ index: Int, into pixels: UnsafeMutableBufferPointer<Float>) -> Int {
                for i in pixels.indices { pixels[i] = Float((i + index) % 17) / 16 }
                return index % 2
            }
        }
        let t = ImageTransform.imageNetEvaluation(resize: 12, size: 8)
        let loader = BatchLoader(Photos(), batchSize: 4, transform: t)
        let b = loader.batch(0)
        #expect(b.images.shape == [4, 3, 8, 8] && b.labels == [0, 1, 0, 1])
        let train = BatchLoader(Photos(), batchSize: 2, shuffleSeed: 1, transform: .imageNetTraining(size: 8))
        expectSameBatches(Array(train), Array(train.prefetching(workers: 2)))
    }
}
