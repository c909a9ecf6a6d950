import Foundation
import StrataFuzzTargets
import StrataTestSupport
import Testing

/// The kept fuzz corpus (Fuzz/Corpus/TARGET: seeds, and inputs that once broke a parser) replayed
/// through every target in a normal build, plus cheap deterministic mutations of each seed, so a
/// regression shows up in `swift test` without libFuzzer. A trap fails the run; so does a rejection
/// that does not name its input (the targets check that).
@Suite struct CorpusReplayTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz/Corpus").path

    static func inputs(_ target: FuzzTarget) throws -> [(name: String, bytes: [UInt8])] {
        let dir = corpus + "/" + target.name
        return try FileManager.default.contentsOfDirectory(atPath: dir).sorted().map { name in
            (name, Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name))))
        }
    }

    @Test func everyTargetHasASeedCorpus() throws {
        #expect(
            FuzzTarget.all.map(\.name) == [
                "safetensors", "npy", "idx", "cifar", "image-header", "image-decode",
                "checkpoint-state", "cli-strings",
            ])
        for target in FuzzTarget.all {
            #expect(try !Self.inputs(target).isEmpty, "Fuzz/Corpus/\(target.name) is empty")
        }
    }

    /// Valid seeds parse (a target that rejects everything would fuzz nothing but its first check).
    @Test(arguments: FuzzTarget.all.map(\.name))
    func seedsReplay(name: String) throws {
        let target = FuzzTarget.named(name)!
        let dir = TemporaryDirectory()
        var accepted = 0
        for input in try Self.inputs(target) {
            let outcome = target.run(input.bytes, scratch: dir.path)
            if outcome == .accepted { accepted += 1 }
            if case .rejected(let why) = outcome { #expect(!why.isEmpty, "\(name)/\(input.name)") }
        }
        #expect(accepted > 0, "no seed of \(name) is accepted")
    }

    /// Every seed cut short at several points, and with single bytes changed near its start (headers
    /// live there), is accepted or rejected with a message: never a trap.
    @Test(arguments: FuzzTarget.all.map(\.name))
    func mutatedSeedsAreRejectedCleanly(name: String) throws {
        let target = FuzzTarget.named(name)!
        let dir = TemporaryDirectory()
        var rejected = 0
        var tried = 0
        for input in try Self.inputs(target) {
            let b = input.bytes
            var variants = [0, 1, 7, b.count / 3, b.count / 2, b.count - 1].filter { $0 >= 0 && $0 < b.count }.map {
                Array(b[..<$0])
            }
            for offset in stride(from: 0, to: min(b.count, 48), by: 5) {
                for value: UInt8 in [0x00, 0xFF, 0x7F] where b[offset] != value {
                    var m = b
                    m[offset] = value
                    variants.append(m)
                }
            }
            for v in variants {
                tried += 1
                if case .rejected(let why) = target.run(v, scratch: dir.path) {
                    rejected += 1
                    #expect(!why.isEmpty)
                }
            }
        }
        #expect(tried > 0 && rejected > 0, "\(name): \(tried) variants, none rejected")
    }
}
