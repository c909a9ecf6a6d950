import Foundation
import Testing

@testable import StrataTraining

/// One writer per run directory (issue 11): the lock, its error, and its release.
@Suite struct RunLockTests {
    @Test func aSecondWriterIsRefusedWithTheHoldersPID() throws {
        let dir = NSTemporaryDirectory() + "strata-runlock-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var first: RunLock? = try RunLock(directory: dir)
        #expect(first != nil)
        do {
            _ = try RunLock(directory: dir)
            Issue.record("a second lock on the same run directory was granted")
        } catch let e as RunLockedError {
            #expect(e.holder == getpid())
            #expect(e.description.contains(dir) && e.description.contains("PID \(getpid())"), "\(e)")
        }
        first = nil // released when the holder goes away (the kernel does the same when a process dies)
        #expect(throws: Never.self) { _ = try RunLock(directory: dir) }
    }
}
