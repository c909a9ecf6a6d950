#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A single pass over a ``BatchLoader``'s batches, assembled ahead of time on background
/// threads while the consumer (the model, on the calling thread) computes.
///
/// The batches and their order are exactly the synchronous loader's: each batch is a pure
/// function of its index, and batches are handed out in index order whichever worker
/// finished first. The worker threads are plain POSIX threads (not Dispatch), each
/// assembling whole batches serially, so nothing here runs on the threads of a compute
/// library. Records how long the consumer waited for data:
///
/// ```swift
/// let batches = loader.prefetching(workers: 2)
/// for batch in batches { step(batch) }
/// print("waited for data \(Int(batches.waitFraction * 100))% of the epoch")
/// ```
///
/// Breaking out of the loop early is fine: the workers stop when the loader is released
/// (or on ``cancel()``). One consumer thread only: ``next()`` is not itself thread-safe.
public final class PrefetchingLoader: Sequence, IteratorProtocol {
    public let loader: BatchLoader
    /// Background threads assembling batches (0: on the consumer's thread, in ``next()``).
    public let workers: Int
    /// The most batches built or waiting at once.
    public let depth: Int
    /// The first batch index delivered.
    public let startBatch: Int
    /// Seconds the consumer spent inside ``next()`` waiting for a batch.
    public private(set) var waitingSeconds = 0.0
    /// Batches delivered so far.
    public private(set) var delivered = 0

    private let state: PrefetchState
    private var threads: [PThread] = []
    private var startTime: Double?
    private var endTime: Double?

    /// - Parameters:
    ///   - loader: the batches to build.
    ///   - workers: background threads (0 loads synchronously in ``next()``).
    ///   - depth: batches built ahead (at least `workers`).
    ///   - start: the first batch to deliver (resuming within an epoch).
    public init(_ loader: BatchLoader, workers: Int = 2, depth: Int = 3, startingAt start: Int = 0) {
        precondition(workers >= 0, "PrefetchingLoader: negative worker count \(workers)")
        precondition(
            start >= 0 && start <= loader.batchCount, "PrefetchingLoader: start batch \(start) of \(loader.batchCount)")
        self.loader = loader
        self.workers = workers
        self.depth = Swift.max(depth, workers, 1)
        startBatch = start
        state = PrefetchState(start: start, end: loader.batchCount, limit: self.depth)
        let state = self.state
        for _ in 0..<workers {
            threads.append(PThread { [loader] in state.work(loader) })
        }
    }

    deinit {
        cancel()
    }

    /// Seconds from the first ``next()`` call to the end of the pass (or to now).
    public var elapsedSeconds: Double {
        guard let startTime else { return 0 }
        return (endTime ?? MonotonicClock.now()) - startTime
    }

    /// The share of ``elapsedSeconds`` the consumer spent waiting for data (0 when nothing elapsed).
    public var waitFraction: Double {
        let e = elapsedSeconds
        return e > 0 ? Swift.min(1, waitingSeconds / e) : 0
    }

    /// The next batch in order, waiting for it if it is not ready; `nil` after the last.
    public func next() -> Batch? {
        let now = MonotonicClock.now()
        if startTime == nil { startTime = now }
        let b = startBatch + delivered
        guard b < loader.batchCount, endTime == nil else {
            if endTime == nil { endTime = now }
            return nil
        }
        let batch: Batch
        if workers == 0 {
            batch = loader.assemble(b, parallel: false)
        } else {
            batch = state.take(b)
        }
        let after = MonotonicClock.now()
        waitingSeconds += after - now
        delivered += 1
        if startBatch + delivered == loader.batchCount { endTime = after }
        return batch
    }

    /// Stops the workers (after the batches they are building) and waits for them to exit.
    /// Further ``next()`` calls return `nil`.
    public func cancel() {
        state.cancel()
        for t in threads { t.join() }
        threads.removeAll()
        if endTime == nil, startTime != nil { endTime = MonotonicClock.now() }
        if startTime == nil {
            startTime = MonotonicClock.now()
            endTime = startTime
        }
    }
}

/// The shared queue between the consumer and the workers (guarded by one mutex).
final class PrefetchState: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var nextToClaim: Int
    private var nextToDeliver: Int
    private let end: Int
    private let limit: Int
    private var ready: [Int: Batch] = [:]
    private var cancelled = false

    init(start: Int, end: Int, limit: Int) {
        nextToClaim = start
        nextToDeliver = start
        self.end = end
        self.limit = limit
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(changed, nil)
    }

    deinit {
        pthread_cond_destroy(changed)
        pthread_mutex_destroy(mutex)
        changed.deallocate()
        mutex.deallocate()
    }

    /// A worker's loop: claim the next batch index while fewer than `limit` are ahead of the consumer, build it, publish it.
    func work(_ loader: BatchLoader) {
        while true {
            pthread_mutex_lock(mutex)
            while !cancelled && nextToClaim < end && nextToClaim - nextToDeliver >= limit {
                pthread_cond_wait(changed, mutex)
            }
            if cancelled || nextToClaim >= end {
                pthread_mutex_unlock(mutex)
                return
            }
            let b = nextToClaim
            nextToClaim += 1
            pthread_mutex_unlock(mutex)

            let batch = loader.assemble(b, parallel: false)

            pthread_mutex_lock(mutex)
            ready[b] = batch
            pthread_cond_broadcast(changed)
            pthread_mutex_unlock(mutex)
        }
    }

    /// Waits for batch `b` (the next in order) and removes it from the queue.
    func take(_ b: Int) -> Batch {
        pthread_mutex_lock(mutex)
        precondition(b == nextToDeliver, "PrefetchingLoader: batch \(b) requested, \(nextToDeliver) is next")
        while ready[b] == nil { pthread_cond_wait(changed, mutex) }
        let batch = ready.removeValue(forKey: b)!
        nextToDeliver += 1
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(mutex)
        return batch
    }

    func cancel() {
        pthread_mutex_lock(mutex)
        cancelled = true
        ready.removeAll()
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(mutex)
    }
}

/// A joinable POSIX thread running a closure.
final class PThread {
    private final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    #if canImport(Glibc)
        private var thread = pthread_t()
    #else
        private var thread: pthread_t?
    #endif
    private var joined = false

    init(_ run: @escaping () -> Void) {
        let context = Unmanaged.passRetained(Body(run)).toOpaque()
        #if canImport(Glibc)
            let rc = pthread_create(
                &thread, nil,
                { raw in
                    Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue().run()
                    return nil
                }, context)
        #else
            let rc = pthread_create(
                &thread, nil,
                { raw in
                    Unmanaged<Body>.fromOpaque(raw).takeRetainedValue().run()
                    return nil
                }, context)
        #endif
        precondition(rc == 0, "PrefetchingLoader: pthread_create failed (error \(rc))")
    }

    func join() {
        guard !joined else { return }
        joined = true
        #if canImport(Glibc)
            pthread_join(thread, nil)
        #else
            if let thread { pthread_join(thread, nil) }
        #endif
    }

    deinit { join() }
}

/// Seconds from a monotonic clock (for timing loads, steps and benchmarks).
public enum MonotonicClock {
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
