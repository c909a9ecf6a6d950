import Foundation
import Testing

// The seam between the ops and a backend's memory stays closed: the ops (Sources/StrataTensor/Ops)
// and the training code (Sources/StrataTraining) reach tensor elements only through a backend's
// methods or the host-access API (Tensor.withHostBuffer / withMutableHostBuffer, scalars,
// floats, doubles, item), never through raw storage. Otherwise a backend whose memory is not
// host memory would break there.

/// What raw access to tensor memory looks like in source, with why each is refused.
let rawStorageAccess: [(pattern: String, why: String)] = [
    (".pointer", "TensorStorage.pointer is host memory only"),
    ("typed(", "TensorStorage.typed is a raw host pointer"),
    ("assumingMemoryBound", "a raw pointer rebound to elements"),
    ("dispatch(", "a dtype-dispatched host kernel belongs in the backend (Reference/)"),
    ("stridedCopy(", "the host strided copy belongs in the backend (gatherStrided/scatterStrided)"),
    ("withUnsafeBuffer(as", "the old name of withHostBuffer: say host access"),
    ("withUnsafeMutableBuffer(as", "the old name of withMutableHostBuffer: say host access"),
    (".storage", "tensor storage (only .storage.version, the write counter, is allowed)"),
]

/// `file:line: pattern (why)` for every raw access in `source`; comment lines are skipped.
func rawStorageAccesses(in source: String, file: String) -> [String] {
    var found: [String] = []
    for (number, line) in source.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let code = line.trimmingCharacters(in: .whitespaces)
        if code.hasPrefix("//") { continue }
        let checked = code.replacingOccurrences(of: ".storage.version", with: "")
        for (pattern, why) in rawStorageAccess where checked.contains(pattern) {
            found.append("\(file):\(number + 1): \(pattern) (\(why))")
        }
    }
    return found
}

@Suite("The host-access seam")
struct HostAccessSeamTests {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func sources(in directory: String) throws -> [(String, String)] {
        let url = repository.appendingPathComponent(directory)
        let names = try FileManager.default.contentsOfDirectory(atPath: url.path).filter { $0.hasSuffix(".swift") }
            .sorted()
        return try names.map {
            ("\(directory)/\($0)", try String(contentsOf: url.appendingPathComponent($0), encoding: .utf8))
        }
    }

    @Test("Ops/ and StrataTraining touch tensor memory only through the backend and the host-access API")
    func noRawStorageAccess() throws {
        let files = try Self.sources(in: "Sources/StrataTensor/Ops") + Self.sources(in: "Sources/StrataTraining")
        #expect(files.count >= 15, "expected the Ops and StrataTraining sources, found \(files.map(\.0))")
        let found = files.flatMap { rawStorageAccesses(in: $0.1, file: $0.0) }
        #expect(found.isEmpty, "raw storage access outside the host-access API:\n\(found.joined(separator: "\n"))")
    }

    @Test("the scan finds raw access (so that it can fail)")
    func scanFindsRawAccess() {
        let source = """
            // x.storage.typed(Float.self) in a comment is fine
            let v = w.storage.version
            let p = x.storage.typed(Float.self)
            """
        let found = rawStorageAccesses(in: source, file: "Sample.swift")
        #expect(
            found == [
                "Sample.swift:3: typed( (TensorStorage.typed is a raw host pointer)",
                "Sample.swift:3: .storage (tensor storage (only .storage.version, the write counter, is allowed))",
            ])
    }
}
