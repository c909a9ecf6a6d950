import StrataTensor
import Testing

@testable import StrataDNNL

/// The pool's free-extent bookkeeping (BufferPool.swift): merging, best fit, release; and real
/// buffers that never overlap.
@Suite struct BufferPoolTests {
    let page = 4096

    @Test func neighboursMergeAndServeALargerRequest() {
        var f = FreeExtents()
        let base: UInt = 1 << 30
        f.insert(start: base, size: 4 * page)
        f.insert(start: base + UInt(8 * page), size: 2 * page)
        #expect(f.byStart.count == 2 && f.idleBytes == 6 * page)
        // The gap between them comes back: one extent of 10 pages.
        f.insert(start: base + UInt(4 * page), size: 4 * page)
        #expect(f.byStart == [base: 10 * page] && f.idleBytes == 10 * page)
        #expect(f.takeBestFit(10 * page) == base)
        #expect(f.idleBytes == 0 && f.takeBestFit(page) == nil)
    }

    @Test func bestFitTakesTheSmallestExtentThatHoldsTheRequestAndSplitsIt() {
        var f = FreeExtents()
        let a: UInt = 1 << 30
        let b: UInt = 2 << 30
        let c: UInt = 3 << 30
        f.insert(start: a, size: 8 * page)
        f.insert(start: b, size: 3 * page)
        f.insert(start: c, size: 5 * page)
        #expect(f.takeBestFit(4 * page) == c) // 5 pages: the smallest that fits
        #expect(f.byStart[c + UInt(4 * page)] == page) // the rest stays free
        #expect(f.takeBestFit(3 * page) == b) // an exact fit
        #expect(f.takeBestFit(6 * page) == a)
        #expect(f.idleBytes == 3 * page)
        #expect(f.takeBestFit(4 * page) == nil)
    }

    @Test func releaseGivesBackTheSmallestExtentsFirst() {
        var f = FreeExtents()
        for (i, pages) in [6, 1, 3].enumerated() { f.insert(start: UInt(i + 1) << 30, size: pages * page) }
        let released = f.release(atLeast: 2 * page)
        #expect(released.map(\.1) == [page, 3 * page])
        #expect(f.idleBytes == 6 * page && f.byStart.count == 1)
        #expect(f.release(atLeast: Int.max).map(\.1) == [6 * page] && f.idleBytes == 0)
    }

    /// Buffers of many sizes, freed in a scrambled order and allocated again: each is filled with
    /// its own value and checked, so an overlap between live buffers would show.
    @Test func liveBuffersNeverOverlap() {
        var rng = RandomGenerator(seed: 3)
        var live: [(TensorStorage, Float)] = []
        for round in 0..<300 {
            if !live.isEmpty && (live.count > 24 || rng.nextDouble() < 0.4) {
                let i = rng.nextInt(below: live.count)
                let (s, v) = live.remove(at: i)
                #expect(values(s).allSatisfy { $0 == v }, "buffer \(v) was overwritten")
            } else {
                let bytes = BufferPool.minimumBytes + Int(rng.nextDouble() * Double(3 << 20))
                let s = BufferPool.storage(bytes: bytes)
                let v = Float(round)
                values(s).update(repeating: v)
                live.append((s, v))
            }
        }
        for (s, v) in live { #expect(values(s).allSatisfy { $0 == v }) }
    }

    func values(_ s: TensorStorage) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: s.typed(Float.self), count: s.count)
    }
}
