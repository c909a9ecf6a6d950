import StrataData
import StrataTensor
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A fresh temporary folder, removed (with the files written through it) when released.
final class TempFolder {
    let path: String
    private var files: [String] = []
    private var folders: [String] = []

    init() {
        var template = Array("/tmp/strata-data-test-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(p != nil, "mkdtemp failed")
        path = String(cString: p!)
    }

    /// `path/name` (not created).
    func url(_ name: String) -> String { path + "/" + name }

    /// Creates `path/name` as a folder and returns its path.
    @discardableResult
    func folder(_ name: String) -> String {
        let p = url(name)
        mkdir(p, 0o755)
        folders.append(p)
        return p
    }

    /// Writes `bytes` to `path/name` and returns the path.
    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let p = url(name)
        let f = fopen(p, "wb")!
        if !bytes.isEmpty { _ = bytes.withUnsafeBytes { fwrite($0.baseAddress!, 1, bytes.count, f) } }
        fclose(f)
        files.append(p)
        return p
    }

    @discardableResult
    func write(_ name: String, text: String) -> String { write(name, Array(text.utf8)) }

    deinit {
        for f in files { unlink(f) }
        for d in folders.reversed() { rmdir(d) }
        rmdir(path)
    }
}

/// Reads a file's bytes (for tests that corrupt a fixture).
func readBytes(_ path: String) -> [UInt8] {
    guard let f = fopen(path, "rb") else { return [] }
    defer { fclose(f) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buf, 1, buf.count, f)
        if n <= 0 { break }
        out += buf[0..<n]
    }
    return out
}

/// The folder of the file that calls this, then `components` below it.
func testsFolder(_ filePath: String = #filePath) -> String {
    var parts = filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast()
    return parts.joined(separator: "/")
}

/// `<package root>/../shared/data`, where the real datasets live (absent in some checkouts).
let sharedDataFolder: String = {
    // Tests/StrataDataTests/<file> → package root is two folders up.
    var parts = testsFolder().split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(2)
    return parts.joined(separator: "/") + "/../shared/data"
}()

func fileExists(_ path: String) -> Bool { access(path, F_OK) == 0 }

func unlinkFile(_ path: String) { unlink(path) }

// MARK: gzip without zlib (stored deflate blocks), so tests can make gzip files of their own

func crc32(_ bytes: [UInt8]) -> UInt32 {
    var table = [UInt32](repeating: 0, count: 256)
    for i in 0..<256 {
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        table[i] = c
    }
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
    return crc ^ 0xFFFF_FFFF
}

func littleEndian32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
func bigEndian32(_ v: Int) -> [UInt8] { (0..<4).reversed().map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

/// A valid gzip member holding `data` in stored (uncompressed) deflate blocks.
func gzipStored(_ data: [UInt8]) -> [UInt8] {
    var out: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF]
    var offset = 0
    repeat {
        let n = Swift.min(65535, data.count - offset)
        let final: UInt8 = offset + n == data.count ? 1 : 0
        out.append(final)
        out += [UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
        out += data[offset..<(offset + n)]
        offset += n
    } while offset < data.count
    out += littleEndian32(crc32(data)) + littleEndian32(UInt32(truncatingIfNeeded: data.count))
    return out
}

// MARK: IDX and CIFAR file builders

func idxImages(count n: Int, rows: Int, cols: Int, pixel: (Int, Int) -> UInt8) -> [UInt8] {
    var out = bigEndian32(2051) + bigEndian32(n) + bigEndian32(rows) + bigEndian32(cols)
    for i in 0..<n { for k in 0..<(rows * cols) { out.append(pixel(i, k)) } }
    return out
}

func idxLabels(_ labels: [UInt8]) -> [UInt8] { bigEndian32(2049) + bigEndian32(labels.count) + labels }

/// Pixel byte `k` of record `r` in CIFAR test file number `file`.
func cifarPixel(file: Int, record r: Int, _ k: Int) -> UInt8 { UInt8((file * 53 + r * 31 + k * 7) % 256) }

/// CIFAR records: the label bytes then 3072 pixel bytes each.
func cifarRecords(file: Int, labels: [[UInt8]]) -> [UInt8] {
    var out: [UInt8] = []
    for (r, l) in labels.enumerated() {
        out += l
        for k in 0..<3072 { out.append(cifarPixel(file: file, record: r, k)) }
    }
    return out
}

/// Expects `body` to throw a ``FileFormatError`` for a file whose name ends with `file`,
/// at byte `offset` when given; returns the error.
@discardableResult
func expectFormatError(
    file: String, offset: Int? = nil, contains text: String? = nil,
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) -> FileFormatError? {
    do {
        try body()
        Issue.record("no error thrown (expected one for \(file))", sourceLocation: sourceLocation)
    } catch let e as FileFormatError {
        #expect(
            e.path.hasSuffix(file), "error names \(e.path), expected …\(file): \(e)", sourceLocation: sourceLocation)
        #expect(e.description.contains(file), "\(e)", sourceLocation: sourceLocation)
        if let offset {
            #expect(
                e.offset == offset, "offset \(String(describing: e.offset)), expected \(offset): \(e)",
                sourceLocation: sourceLocation)
            #expect(e.description.contains("at byte \(offset)"), "\(e)", sourceLocation: sourceLocation)
        }
        if let text { #expect(e.description.contains(text), "\(e)", sourceLocation: sourceLocation) }
        return e
    } catch {
        Issue.record("unexpected error \(type(of: error)): \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// Loads example `i` of a dataset as an array.
func example(_ d: any Dataset, _ i: Int) -> (pixels: [Float], label: Int) {
    var p = [Float](repeating: 0, count: d.shape(of: i).reduce(1, *))
    let l = p.withUnsafeMutableBufferPointer { d.load(i, into: $0) }
    return (p, l)
}

/// The floats of a batch's images.
func floats(_ t: Tensor) -> [Float] { t.scalars(as: Float.self) }
