// Large buffers for primitive results, recycled.
//
// A network allocates the same buffer sizes every iteration. Fresh large allocations come
// from mmap, and touching a fresh page costs a page fault plus the kernel zeroing it: measured
// on resnet50 inference at batch 32, first-touch made batch norm and ReLU 2–10× slower than
// their memory bandwidth allows. Freed buffers therefore go back to a pool (by exact size) and
// are handed out again; new ones are mapped with transparent huge pages where the kernel
// allows (2 MiB pages: 512× fewer faults).

import _CDNNL
import Foundation
import StrataTensor

public enum BufferPool {
    /// Below this, malloc's own free lists do the job.
    static let minimumBytes = 1 << 18
    /// The most memory kept idle in the pool (STRATA_DNNL_POOL_MIB, default 256 MiB); beyond it,
    /// the buffers returned longest ago are unmapped. Idle memory counts in the process's RSS.
    static let capacity: Int = {
        if let s = ProcessInfo.processInfo.environment["STRATA_DNNL_POOL_MIB"], let mib = Int(s), mib >= 0 { return mib << 20 }
        return 256 << 20
    }()

    private static let lock = NSLock()
    nonisolated(unsafe) private static var free: [Int: [UnsafeMutableRawPointer]] = [:]
    nonisolated(unsafe) private static var idleBytes = 0
    /// Sizes in the order they were returned, oldest first (for eviction).
    nonisolated(unsafe) private static var returned: [Int] = []
    nonisolated(unsafe) private static var liveBytes = 0
    nonisolated(unsafe) private static var peakLiveBytes = 0

    /// Bytes in pooled buffers now in use, the most ever in use, and idle in the pool.
    public static var statistics: (live: Int, peakLive: Int, idle: Int) {
        lock.lock(); defer { lock.unlock() }
        return (liveBytes, peakLiveBytes, idleBytes)
    }

    /// Page-rounded size of a request.
    private static func rounded(_ bytes: Int) -> Int { (bytes + 4095) & ~4095 }

    /// Storage for at least `bytes` bytes, counted in Float32 elements.
    static func storage(bytes: Int) -> TensorStorage {
        let count = (bytes + 3) / 4
        if bytes < minimumBytes { return TensorStorage(dtype: .float32, count: count) }
        let size = rounded(bytes)
        let pointer = take(size) ?? map(size)
        lock.lock()
        liveBytes += size
        peakLiveBytes = max(peakLiveBytes, liveBytes)
        lock.unlock()
        return TensorStorage(dtype: .float32, count: count, pointer: pointer) { p in give(p, size) }
    }

    private static func take(_ size: Int) -> UnsafeMutableRawPointer? {
        lock.lock(); defer { lock.unlock() }
        guard let p = free[size]?.popLast() else { return nil }
        idleBytes -= size
        if let i = returned.lastIndex(of: size) { returned.remove(at: i) }
        return p
    }

    private static func give(_ p: UnsafeMutableRawPointer, _ size: Int) {
        lock.lock()
        liveBytes -= size
        free[size, default: []].append(p)
        returned.append(size)
        idleBytes += size
        var evicted: [(UnsafeMutableRawPointer, Int)] = []
        while idleBytes > capacity, !returned.isEmpty {
            let s = returned.removeFirst()
            if let q = free[s]?.popLast() {
                idleBytes -= s
                evicted.append((q, s))
            }
        }
        lock.unlock()
        for (q, s) in evicted { munmap(q, s) }
    }

    private static func map(_ size: Int) -> UnsafeMutableRawPointer {
        guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else {
            fatalError("StrataDNNL: cannot map \(size) bytes")
        }
        if size >= 2 << 20 { _ = madvise(p, size, MADV_HUGEPAGE) }
        return p
    }
}
