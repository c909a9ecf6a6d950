import Foundation
import StrataNN
import StrataTensor
import StrataTestSupport
import Testing

/// The committed fixtures made by Scripts/make_io_fixtures.py.
func fixturePath(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)").path
}

/// Little-endian bytes of an integer.
func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

/// Bit patterns, so -0.0 ≠ 0.0 and NaN = NaN in comparisons.
func bits(_ t: Tensor) -> [UInt64] {
    switch t.dtype {
    case .float32: return t.floats.map { UInt64($0.bitPattern) }
    case .float64: return t.doubles.map(\.bitPattern)
    case .bfloat16: return t.withUnsafeBuffer(as: BFloat16.self) { $0.map { UInt64($0.bitPattern) } }
    case .float16: return t.withUnsafeBuffer(as: Half.self) { $0.map { UInt64($0.bitPattern) } }
    case .int32: return t.withUnsafeBuffer(as: Int32.self) { $0.map { UInt64(UInt32(bitPattern: $0)) } }
    case .int64: return t.withUnsafeBuffer(as: Int64.self) { $0.map { UInt64(bitPattern: $0) } }
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
func expectFormatError(
    path: String, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) -> FileFormatError? {
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
