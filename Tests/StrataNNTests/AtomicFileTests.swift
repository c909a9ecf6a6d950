import Foundation
@testable import StrataNN
import Testing

@Suite struct AtomicFileTests {
    @Test func writesAndReplacesWithoutLeavingTemporaryFiles() throws {
        let dir = TemporaryDirectory()
        let target = dir.file("out.bin")
        try AtomicFile.write([1, 2, 3], to: target)
        #expect(readBytes(target) == [1, 2, 3])
        try AtomicFile.write(Array(repeating: 9, count: 100_000), to: target)
        #expect(readBytes(target) == Array(repeating: 9, count: 100_000))
        #expect(dir.listing() == ["out.bin"])
    }

    @Test func streamsPiecesAndCountsBytes() throws {
        let dir = TemporaryDirectory()
        let target = dir.file("s.bin")
        var written = 0
        try AtomicFile.write(to: target) { w in
            try w.write([1, 2])
            try w.write(repeating: 0xAA, count: 3)
            try [UInt8](arrayLiteral: 7).withUnsafeBytes { try w.write($0) }
            written = w.byteCount
        }
        #expect(written == 6)
        #expect(readBytes(target) == [1, 2, 0xAA, 0xAA, 0xAA, 7])
    }

    @Test func failureInBodyKeepsPreviousFileAndRemovesTemporary() throws {
        struct Boom: Error {}
        let dir = TemporaryDirectory()
        let target = dir.file("keep.bin")
        try AtomicFile.write([42], to: target)
        #expect(throws: Boom.self) {
            try AtomicFile.write(to: target) { w in
                try w.write(Array(repeating: 0, count: 4096))
                throw Boom()
            }
        }
        #expect(readBytes(target) == [42])
        #expect(dir.listing() == ["keep.bin"])
    }

    @Test func missingDirectoryNamesPathAndErrno() {
        let dir = TemporaryDirectory()
        let target = dir.file("no/such/dir/x.bin")
        do {
            try AtomicFile.write([1], to: target)
            Issue.record("write into a missing directory succeeded")
        } catch let e as FileSystemError {
            #expect(e.path == target)
            #expect(e.code == ENOENT)
            #expect(e.description.contains(target))
            #expect(e.description.contains("No such file or directory"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func renameFailureRemovesTemporaryAndKeepsTarget() throws {
        // A directory at the target path: the rename fails (EISDIR) after the data was written.
        let dir = TemporaryDirectory()
        let target = dir.file("occupied")
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
        #expect(throws: FileSystemError.self) { try AtomicFile.write([1, 2, 3], to: target) }
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: target, isDirectory: &isDirectory) && isDirectory.boolValue)
        #expect(dir.listing() == ["occupied"])
    }

    @Test(.enabled(if: getuid() != 0, "root ignores directory permissions"))
    func readOnlyDirectoryThrowsPermissionError() throws {
        let dir = TemporaryDirectory()
        let locked = dir.file("locked")
        try FileManager.default.createDirectory(atPath: locked, withIntermediateDirectories: false)
        chmod(locked, 0o555)
        defer { chmod(locked, 0o755) }
        do {
            try AtomicFile.write([1], to: locked + "/x.bin")
            Issue.record("write into a read-only directory succeeded")
        } catch let e as FileSystemError {
            #expect(e.code == EACCES)
            #expect(e.description.contains("Permission denied"))
        }
    }

    @Test func temporaryFileGoesInTheTargetsDirectory() {
        // Same directory = same file system, which is what makes the rename atomic.
        #expect(AtomicFile.split("model.safetensors") == (".", "model.safetensors"))
        #expect(AtomicFile.split("/model.npy") == ("/", "model.npy"))
        #expect(AtomicFile.split("runs/a/ckpt.bin") == ("runs/a", "ckpt.bin"))
    }
}
