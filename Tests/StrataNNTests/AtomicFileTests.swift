import Foundation
import StrataTestSupport
import Testing

@testable import StrataNN

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

    // What is at the path decides how it is written (issue 11: outputs never replace what is not a regular file).

    @Test func symbolicLinksAreFollowedAndStayLinks() throws {
        let dir = TemporaryDirectory()
        let real = dir.file("real.bin")
        let link = dir.file("link.bin")
        let dangling = dir.file("dangling.bin")
        try AtomicFile.write([1], to: real)
        #expect(symlink("real.bin", link) == 0)
        try AtomicFile.write([2, 3], to: link)
        #expect(fileType(link) == S_IFLNK, "the link is still a link")
        #expect(readBytes(real) == [2, 3], "its target got the bytes")
        // A link to a file that does not exist yet creates that file.
        #expect(symlink("made.bin", dangling) == 0)
        try AtomicFile.write([4], to: dangling)
        #expect(fileType(dangling) == S_IFLNK)
        #expect(readBytes(dir.file("made.bin")) == [4])
        #expect(dir.listing() == ["dangling.bin", "link.bin", "made.bin", "real.bin"])
    }

    @Test func aNamedPipeIsWrittenInPlaceNotReplaced() throws {
        let dir = TemporaryDirectory()
        let fifo = dir.file("pipe")
        #expect(mkfifo(fifo, 0o600) == 0)
        let reader = open(fifo, O_RDONLY | O_NONBLOCK) // a reader, so opening for writing does not wait
        #expect(reader >= 0)
        defer { close(reader) }
        try AtomicFile.write([7, 8, 9], to: fifo)
        var buffer = [UInt8](repeating: 0, count: 16)
        let n = read(reader, &buffer, 16)
        #expect(n == 3 && Array(buffer[0..<3]) == [7, 8, 9])
        #expect(fileType(fifo) == S_IFIFO, "still a FIFO")
        #expect(dir.listing() == ["pipe"], "no temporary file")
    }

    @Test func aDirectoryAtThePathIsAClearError() throws {
        let dir = TemporaryDirectory()
        let target = dir.file("d")
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
        do {
            try AtomicFile.write([1], to: target)
            Issue.record("writing over a directory succeeded")
        } catch let e as FileSystemError {
            #expect(e.code == EISDIR && e.description.contains(target) && e.description.contains("directory"), "\(e)")
        }
    }

    @Test func temporariesOfKilledWritersAreRemovedOnTheNextWrite() throws {
        let dir = TemporaryDirectory()
        let target = dir.file("ckpt.bin")
        let dead = dir.file(".ckpt.bin.tmp-2147483647-x1")
        let live = dir.file(".ckpt.bin.tmp-\(getpid())-y2")
        let other = dir.file(".other.bin.tmp-2147483647-z3")
        for path in [dead, live, other] { try AtomicFile.write([0], to: path) }
        try AtomicFile.write([5], to: target)
        #expect(readBytes(target) == [5])
        #expect(!FileManager.default.fileExists(atPath: dead), "a dead writer's temporary is removed")
        #expect(FileManager.default.fileExists(atPath: live), "a live writer's is kept")
        #expect(FileManager.default.fileExists(atPath: other), "another file's is not touched")
    }

    private func fileType(_ path: String) -> mode_t {
        var st = stat()
        guard lstat(path, &st) == 0 else { return 0 }
        return st.st_mode & S_IFMT
    }
}
