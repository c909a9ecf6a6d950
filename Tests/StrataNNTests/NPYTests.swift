import Foundation
import StrataNN
import StrataTensor
import StrataTestSupport
import Testing

/// An .npy file from a header dict literal (padded with spaces and '\n' to a multiple of 64
/// unless `raw`), a format version and the data bytes.
func npyBytes(_ dict: String, version: UInt8 = 1, data: [UInt8] = [], headerLength: Int? = nil, raw: Bool = false)
    -> [UInt8]
{
    var header = Array(dict.utf8)
    let prefix = version == 1 ? 10 : 12
    if !raw {
        header += Array(repeating: UInt8(ascii: " "), count: (64 - (prefix + header.count + 1) % 64) % 64) + [0x0A]
    }
    let n = headerLength ?? header.count
    let length = version == 1 ? le(UInt16(truncatingIfNeeded: n)) : le(UInt32(truncatingIfNeeded: n))
    return [0x93] + Array("NUMPY".utf8) + [version, 0] + length + header + data
}

@Suite struct NPYTests {
    // MARK: Round trips

    @Test(arguments: [[2, 3], [5], [], [0, 4], [1, 2, 1, 3]])
    func roundTripFloat32AndFloat64(shape: [Int]) throws {
        let dir = TemporaryDirectory()
        let count = shape.reduce(1, *)
        let f = Tensor((0..<count).map { Float($0) * 0.7 - 1 }, shape: shape)
        let d = Tensor((0..<count).map { Double($0) / 3 }, shape: shape)
        try NPY.write(f, to: dir.file("f.npy"))
        try NPY.write(d, to: dir.file("d.npy"))
        let f2 = try NPY.read(path: dir.file("f.npy"))
        let d2 = try NPY.read(path: dir.file("d.npy"), as: .float64)
        #expect(f2.shape == shape && f2.dtype == .float32 && bits(f2) == bits(f))
        #expect(d2.shape == shape && d2.dtype == .float64 && bits(d2) == bits(d))
        #expect(dir.listing() == ["d.npy", "f.npy"])
    }

    @Test func headerIsVersion1PaddedTo64LikeNumPy() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("x.npy")
        try NPY.write(Tensor([1.0, 2.0, 3.0], shape: [3, 1]), to: path)
        let bytes = readBytes(path)
        #expect(Array(bytes[0..<8]) == [0x93] + Array("NUMPY".utf8) + [1, 0])
        let n = Int(bytes[8]) | Int(bytes[9]) << 8
        #expect((10 + n) % 64 == 0 && bytes[10 + n - 1] == 0x0A)
        let header = String(decoding: bytes[10..<(10 + n)], as: UTF8.self)
        #expect(header.hasPrefix("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 1), }"))
        #expect(bytes.count == 10 + n + 24)
        let one = dir.file("one.npy")
        try NPY.write(Tensor([Float(1)]), to: one)
        #expect(String(decoding: readBytes(one), as: UTF8.self).contains("'shape': (1,), }"))
        let scalar = dir.file("scalar.npy")
        try NPY.write(Tensor(scalar: 1), to: scalar)
        #expect(
            String(decoding: readBytes(scalar), as: UTF8.self).contains(
                "'descr': '<f4', 'fortran_order': False, 'shape': (), }"))
    }

    // MARK: Files written by NumPy (Scripts/make_io_fixtures.py)

    @Test func readsFilesWrittenByNumPy() throws {
        let f4 = try NPY.read(path: fixturePath("f4.npy"))
        #expect(f4.shape == [2, 3] && bits(f4) == bits([Float(0.5), -1.25, 3.0, 0.375, -0.0, 1024.5]))

        let f64: [Double] = [0.1, -1e300, .leastNonzeroMagnitude, 1.0 / 3.0]
        let f8 = try NPY.read(path: fixturePath("f8.npy"), as: .float64)
        #expect(f8.shape == [4] && bits(f8) == bits(f64))
        #expect(bits(try NPY.read(path: fixturePath("f8.npy"))) == bits(f64.map(Float.init)))

        let i64: [Int64] = [-9_007_199_254_740_993, 0, 42, 1 << 40]
        #expect(bits(try NPY.read(path: fixturePath("i8.npy"), as: .float64)) == bits(i64.map(Double.init)))

        let u1 = try NPY.read(path: fixturePath("u1.npy"))
        #expect(u1.shape == [2, 2] && u1.floats == [0, 255, 7, 128])

        let f16: [Float] = [1.0, -2.5, 65504.0, 0x1p-24, 0x1p-14, .infinity, -.infinity, 0.333251953125]
        #expect(bits(try NPY.read(path: fixturePath("f2.npy"))) == bits(f16))
        #expect(try NPY.read(path: fixturePath("i1.npy")).floats == [-128, 127, 0])
        #expect(try NPY.read(path: fixturePath("b1.npy")).floats == [1, 0])
        #expect(try NPY.read(path: fixturePath("be_f4.npy")).floats == [1.5, -2.0, 3.25])
        #expect(try NPY.read(path: fixturePath("be_f4.npy"), as: .float64).doubles == [1.5, -2.0, 3.25])

        let scalar = try NPY.read(path: fixturePath("scalar.npy"))
        #expect(scalar.shape == [] && scalar.floats == [3.5])
        let empty = try NPY.read(path: fixturePath("empty.npy"))
        #expect(empty.shape == [0, 4] && empty.count == 0)
    }

    @Test func fortranOrderIsTransposedIntoRowMajor() throws {
        // np.asfortranarray(np.arange(24).reshape(2, 3, 4)): same array, column-major bytes.
        let t = try NPY.read(path: fixturePath("fortran.npy"))
        #expect(t.shape == [2, 3, 4])
        #expect(t.floats == (0..<24).map(Float.init))
        #expect(!t.requiresGrad)
    }

    @Test func readsVersions2And3() throws {
        let v2 = try NPY.read(path: fixturePath("v2.npy"), as: .float64)
        #expect(v2.shape == [3, 2] && v2.doubles == [0, 0.25, 0.5, 0.75, 1.0, 1.25])
        let v3 = try NPY.read(path: fixturePath("v3.npy"), as: .float64)
        #expect(v3.shape == [4] && v3.doubles == [-3, 0, 5, 1_073_741_824])
    }

    @Test func acceptsPython2LongsAndDoubleQuotes() throws {
        let dir = TemporaryDirectory()
        let path = dir.write(
            npyBytes(
                #"{"descr": "<f4", "shape": (1L, 2L), 'fortran_order': False}"#,
                data: le(Float(1).bitPattern) + le(Float(2).bitPattern)), to: "py2.npy")
        let t = try NPY.read(path: path)
        #expect(t.shape == [1, 2] && t.floats == [1, 2])
    }

    // MARK: Malformed files

    static let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"
    static let eight = le(Float(1).bitPattern) + le(Float(2).bitPattern)

    static let badFiles: [BadFile] = [
        BadFile(label: "empty file", bytes: []),
        BadFile(label: "9 bytes", bytes: Array(npyBytes(dict, data: eight)[0..<9])),
        BadFile(label: "bad magic", bytes: [0x93] + Array("NUMPZ".utf8) + Array(npyBytes(dict, data: eight)[6...])),
        BadFile(label: "version 4.0", bytes: npyBytes(dict, version: 4, data: eight)),
        BadFile(
            label: "version 1.1",
            bytes: {
                var b = npyBytes(dict, data: eight)
                b[7] = 1
                return b
            }()),
        BadFile(label: "v2 file ending in the length field", bytes: [0x93] + Array("NUMPY".utf8) + [2, 0, 0x10, 0]),
        BadFile(label: "header length beyond the file", bytes: npyBytes(dict, data: eight, headerLength: 65535)),
        BadFile(
            label: "v2 header length 4 GB",
            bytes: npyBytes(dict, version: 2, data: eight, headerLength: Int(UInt32.max))),
        BadFile(label: "header not a dict", bytes: npyBytes("('<f4', False, (2,))", data: eight)),
        BadFile(label: "header garbage", bytes: npyBytes("{'descr': <f4}", data: eight)),
        BadFile(label: "unterminated string", bytes: npyBytes("{'descr': '<f4, }", data: eight)),
        BadFile(label: "text after the dict", bytes: npyBytes(dict + " x", data: eight)),
        BadFile(label: "missing shape", bytes: npyBytes("{'descr': '<f4', 'fortran_order': False}", data: eight)),
        BadFile(
            label: "extra key",
            bytes: npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", data: eight)),
        BadFile(
            label: "duplicate key",
            bytes: npyBytes("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", data: eight)),
        BadFile(
            label: "unknown descr",
            bytes: npyBytes("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", data: eight)),
        BadFile(
            label: "object descr",
            bytes: npyBytes("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", data: eight)),
        BadFile(
            label: "structured descr",
            bytes: npyBytes(
                "{'descr': [('a', '<f4'), ('b', '<f4')], 'fortran_order': False, 'shape': (1,), }", data: eight)),
        BadFile(
            label: "fortran_order not a bool",
            bytes: npyBytes("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", data: eight)),
        BadFile(
            label: "shape a list",
            bytes: npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': [2], }", data: eight)),
        BadFile(
            label: "shape of strings",
            bytes: npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': ('2',), }", data: eight)),
        BadFile(
            label: "negative dimension",
            bytes: npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", data: eight)),
        BadFile(
            label: "element count overflows",
            bytes: npyBytes(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4), }", data: eight)),
        BadFile(
            label: "byte count overflows",
            bytes: npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,), }", data: eight)),
        BadFile(
            label: "dimension overflows 64 bits",
            bytes: npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", data: eight)
        ),
        BadFile(
            label: "absurd shape",
            bytes: npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }", data: eight)),
        BadFile(label: "truncated data", bytes: Array(npyBytes(dict, data: eight).dropLast())),
        BadFile(label: "trailing data", bytes: npyBytes(dict, data: eight + [0])),
        BadFile(label: "deeply nested header", bytes: npyBytes(String(repeating: "(", count: 5000), data: eight)),
        BadFile(
            label: "invalid UTF-8 header",
            bytes: npyBytes("{'descr': '\u{FF}'}", data: eight).map { $0 == 0xC3 ? 0xFF : $0 }),
    ]

    @Test(arguments: badFiles)
    func malformedFileThrows(_ bad: BadFile) throws {
        let dir = TemporaryDirectory()
        let path = dir.write(bad.bytes, to: "bad.npy")
        let e = expectFormatError(path: path) { _ = try NPY.read(path: path) }
        #expect(e.map { !$0.found.isEmpty && !$0.expected.isEmpty } == true)
    }

    @Test func errorsNameTheFileAndTheProblem() throws {
        let dir = TemporaryDirectory()
        let path = dir.write(Array(npyBytes(Self.dict, data: Self.eight).dropLast()), to: "short.npy")
        let e = expectFormatError(path: path) { _ = try NPY.read(path: path) }
        #expect(e?.description == "\(path): at byte 128: 7 data bytes; expected 8 bytes for shape [2] of '<f4'")
        #expect(throws: FileSystemError.self) { _ = try NPY.read(path: dir.file("absent.npy")) }
    }
}
