// Large buffers for primitive results, recycled.
//
// A network allocates the same buffers every iteration, and a fresh large allocation costs a
// page fault and the kernel zeroing each page on first touch: measured on resnet50 training at
// batch 32, returning freed activations to the kernel and mapping them again made batch norm,
// ReLU and addition 3–10× slower than their memory bandwidth allows (training 6.1 img/s with
// mapping again, 8.6 with reuse). So freed buffers stay mapped, and new ones are carved from them.
//
// Freed memory is kept as free extents, merged with their free neighbours, and a request takes
// the smallest extent that fits (best fit), split if larger. Because any freed memory serves any
// later size, keeping it does not raise the peak: what stays mapped is at most the most ever in
// use plus fragmentation. When no extent fits, free extents worth the request are unmapped
// first (the smallest, the fragments) so that fragmentation does not grow the mapped total.
// New memory is mapped with transparent huge pages where the kernel allows (512× fewer faults).

import Foundation
import StrataTensor
import _CDNNL

public enum BufferPool {
    /// Below this, malloc's own free lists do the job.
    static let minimumBytes = 1 << 18
    /// The most memory kept idle (mapped but unused): STRATA_DNNL_POOL_MIB, default no limit (the
    /// high-water mark of use stays mapped, as with PyTorch's GPU caching allocator; ``trim()``
    /// returns it). Beyond the limit, free extents are unmapped. Idle memory counts in the RSS.
    static let capacity: Int = StrataConfiguration.current.bufferPoolMiB.map { $0 << 20 } ?? Int.max

    private static let lock = NSLock()
    nonisolated(unsafe) private static var arena = FreeExtents()
    nonisolated(unsafe) private static var liveBytes = 0
    nonisolated(unsafe) private static var peakLiveBytes = 0

    /// Bytes in pooled buffers now in use, the most ever in use, and idle in the pool.
    public static var statistics: (live: Int, peakLive: Int, idle: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (liveBytes, peakLiveBytes, arena.idleBytes)
    }

    /// Unmaps every idle extent (for a long-running process after a training run).
    public static func trim() {
        lock.lock()
        let released = arena.release(atLeast: Int.max)
        lock.unlock()
        for (start, size) in released { unmap(start, size) }
    }

    /// Page-rounded size of a request.
    private static func rounded(_ bytes: Int) -> Int { (bytes + 4095) & ~4095 }

    /// Storage for at least `bytes` bytes, counted in elements of `dtype` (the pool itself is
    /// keyed by byte size only, so buffers of every dtype share it).
    static func storage(bytes: Int, dtype: DType = .float32) -> TensorStorage {
        let count = (bytes + dtype.byteCount - 1) / dtype.byteCount
        if bytes < minimumBytes { return TensorStorage(dtype: dtype, count: count) }
        let size = rounded(count * dtype.byteCount)
        let pointer = take(size)
        return TensorStorage(dtype: dtype, count: count, pointer: pointer) { p in give(p, size) }
    }

    private static func take(_ size: Int) -> UnsafeMutableRawPointer {
        lock.lock()
        var start = arena.takeBestFit(size)
        var released: [(UInt, Int)] = []
        if start == nil && arena.idleBytes >= size { released = arena.release(atLeast: size) }
        liveBytes += size
        peakLiveBytes = max(peakLiveBytes, liveBytes)
        lock.unlock()
        for (s, n) in released { unmap(s, n) }
        if start == nil { start = map(size) }
        return UnsafeMutableRawPointer(bitPattern: start!)!
    }

    private static func give(_ p: UnsafeMutableRawPointer, _ size: Int) {
        lock.lock()
        liveBytes -= size
        arena.insert(start: UInt(bitPattern: p), size: size)
        let released = arena.idleBytes > capacity ? arena.release(atLeast: arena.idleBytes - capacity) : []
        lock.unlock()
        for (s, n) in released { unmap(s, n) }
    }

    private static func map(_ size: Int) -> UInt {
        guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED
        else {
            fatalError("StrataDNNL: cannot map \(size) bytes")
        }
        if size >= 2 << 20 { Platform.adviseHugePages(p, size) }
        return UInt(bitPattern: p)
    }

    private static func unmap(_ start: UInt, _ size: Int) {
        munmap(UnsafeMutableRawPointer(bitPattern: start), size)
    }
}

/// Free extents of mapped memory: merged with free neighbours on insertion, handed out best
/// fit. Sizes and starts are page multiples. Not thread-safe (``BufferPool`` locks around it).
struct FreeExtents {
    /// start → size.
    private(set) var byStart: [UInt: Int] = [:]
    /// end (start + size) → start.
    private var byEnd: [UInt: UInt] = [:]
    /// Every extent as (size, start), ascending: the best fit is the first with size ≥ the request.
    private var bySize: [(size: Int, start: UInt)] = []
    private(set) var idleBytes = 0

    /// Index of the first entry ≥ (size, start) in `bySize`.
    private func lowerBound(_ size: Int, _ start: UInt) -> Int {
        var lo = 0
        var hi = bySize.count
        while lo < hi {
            let mid = (lo + hi) / 2
            let e = bySize[mid]
            if e.size < size || (e.size == size && e.start < start) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    private mutating func add(_ start: UInt, _ size: Int) {
        byStart[start] = size
        byEnd[start + UInt(size)] = start
        bySize.insert((size, start), at: lowerBound(size, start))
        idleBytes += size
    }

    private mutating func remove(_ start: UInt) -> Int {
        let size = byStart.removeValue(forKey: start)!
        byEnd[start + UInt(size)] = nil
        bySize.remove(at: lowerBound(size, start))
        idleBytes -= size
        return size
    }

    /// Adds a freed extent, merged with the free extents just before and after it.
    mutating func insert(start: UInt, size: Int) {
        var (s, n) = (start, size)
        if let left = byEnd[s] {
            n += remove(left)
            s = left
        }
        if byStart[s + UInt(n)] != nil { n += remove(s + UInt(n)) }
        add(s, n)
    }

    /// The start of `size` bytes carved from the smallest extent that holds them, or nil.
    mutating func takeBestFit(_ size: Int) -> UInt? {
        let i = lowerBound(size, 0)
        guard i < bySize.count else { return nil }
        let start = bySize[i].start
        let available = remove(start)
        if available > size { add(start + UInt(size), available - size) }
        return start
    }

    /// Removes extents, smallest first, until at least `bytes` are removed (or none are left);
    /// returns them for unmapping.
    mutating func release(atLeast bytes: Int) -> [(UInt, Int)] {
        var out: [(UInt, Int)] = []
        var total = 0
        while total < bytes, let first = bySize.first {
            _ = remove(first.start)
            out.append((first.start, first.size))
            total += first.size
        }
        return out
    }
}
