import Foundation
import StrataNN
import StrataTensor
import Testing

/// The committed fixtures made by Scripts/make_io_fixtures.py.
func fixturePath(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)").path
}

/// A fresh directory under the system temp dir, removed when the value goes away.
final class TemporaryDirectory {
    let path: String

    init() {
        var template = Array((NSTemporaryDirectory() + "/strata-io-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(cString: template)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }

    /// Names in the directory, sorted (to spot leftover temporary files).
    func listing() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }

    /// Writes raw bytes (not atomically: this is for building test inputs).
    @discardableResult
    func write(_ bytes: [UInt8], to name: String) -> String {
        let p = file(name)
        precondition(FileManager.default.createFile(atPath: p, contents: Data(bytes)), "cannot create \(p)")
        return p
    }
}

func readBytes(_ path: String) -> [UInt8] { Array(FileManager.default.contents(atPath: path) ?? Data()) }

/// Little-endian bytes of an integer.
func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

/// Bit patterns, so -0.0 ≠ 0.0 and NaN = NaN in comparisons.
func bits(_ t: Tensor) -> [UInt64] {
    switch t.dtype {
    case .float32: return t.floats.map { UInt64($0.bitPattern) }
    case .float64: return t.doubles.map(\.bitPattern)
    }
}

func bits(_ values: [Float]) -> [UInt64] { values.map { UInt64($0.bitPattern) } }
func bits(_ values: [Double]) -> [UInt64] { values.map(\.bitPattern) }

/// A named malformed file for parameterized tests.
struct BadFile: Sendable, CustomTestStringConvertible {
    let label: String
    let bytes: [UInt8]
    var testDescription: String { label }
}

/// Asserts that reading throws a ``FileFormatError`` that names `path`, and returns it.
@discardableResult
func expectFormatError(path: String, sourceLocation: SourceLocation = #_sourceLocation,
                       _ body: () throws -> Void) -> FileFormatError? {
    do {
        try body()
        Issue.record("expected a FileFormatError for \(path), but reading succeeded", sourceLocation: sourceLocation)
    } catch let e as FileFormatError {
        #expect(e.path == path, sourceLocation: sourceLocation)
        #expect(e.description.hasPrefix(path + ": "), sourceLocation: sourceLocation)
        return e
    } catch {
        Issue.record("expected a FileFormatError, got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
    }
    return nil
}
