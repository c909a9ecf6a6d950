import StrataData
import StrataTensor
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Set STRATA_BENCH=1 to run (on a release build):
///   STRATA_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter cifarLoaderThroughput
let benchmarksEnabled: Bool = getenv("STRATA_BENCH").map { String(cString: $0) == "1" } ?? false

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

func fixed(_ x: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    return String((x * scale).rounded() / scale)
}

@Suite struct LoaderBenchmark {
    @Test(.enabled(if: benchmarksEnabled && hasCIFAR10)) func cifarLoaderThroughput() throws {
        var t = now()
        let train = try CIFAR10(directory: cifar10Folder, split: .train)
        print("bench: read CIFAR-10 train (50,000 images) in \(fixed(now() - t, 2)) s")
        let loader = BatchLoader(train, batchSize: 128, shuffleSeed: 1, transform: .cifarTraining())
        // Consumer does nothing: the loader's own throughput.
        t = now()
        var n = 0
        for b in loader { n += b.labels.count }
        print("bench: synchronous (Dispatch over examples): \(Int(Double(n) / (now() - t))) images/s")
        for workers in [0, 1, 2] {
            let p = loader.prefetching(workers: workers, depth: 4)
            t = now()
            n = 0
            for b in p { n += b.labels.count }
            print(
                "bench: prefetching, \(workers) workers: \(Int(Double(n) / (now() - t))) images/s, waiting \(fixed(p.waitFraction * 100, 1))%"
            )
        }
        // A busy consumer (40 ms of spinning per batch of 128 ≈ a 3,200 images/s model).
        for workers in [1, 2] {
            let p = PrefetchingLoader(loader, workers: workers, depth: 3)
            var batches = 0
            var firstWait = 0.0
            for _ in p {
                if batches == 0 { firstWait = p.waitingSeconds }
                let end = now() + 0.04
                while now() < end {}
                batches += 1
                if batches == 60 { break }
            }
            print(
                "bench: busy consumer, \(workers) workers: waiting \(fixed(p.waitFraction * 100, 1))% of \(fixed(p.elapsedSeconds, 2)) s (first batch: \(fixed(firstWait * 1000, 1)) ms)"
            )
        }
    }
}
