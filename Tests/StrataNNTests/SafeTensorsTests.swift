import Foundation
import StrataNN
import StrataTensor
import StrataTestSupport
import Testing

/// A safetensors file from a header string and a data buffer; `length` overrides the
/// 8-byte header-length field.
func safetensorsBytes(_ header: String, data: [UInt8] = [], length: UInt64? = nil) -> [UInt8] {
    let h = Array(header.utf8)
    return le(length ?? UInt64(h.count)) + h + data
}

@Suite struct SafeTensorsTests {
    // MARK: Round trips

    @Test func roundTripFloat32AndFloat64WithMetadata() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("model.safetensors")
        let a = Tensor([Float(1.5), -2, 0.1, -0.0, .infinity, 3], shape: [2, 3])
        let b = Tensor([0.1, -1e300, Double.leastNonzeroMagnitude], shape: [3])
        let c = Tensor([Float(7)], shape: [1, 1, 1, 1])
        let scalar = Tensor(scalar: 4.25)
        let empty = Tensor.zeros([0, 5])
        let emptyDouble = Tensor.zeros([3, 0], dtype: .float64)
        let metadata = ["format": "pt", "quote\"back\\slash": "line\nbreak\ttab \u{1} π 🎉", "": ""]
        try SafeTensors.write(
            [
                "conv.weight": a, "bn.running_var": b, "fc.bias": c, "scalar": scalar,
                "empty": empty, "emptyDouble": emptyDouble,
            ],
            metadata: metadata, to: path)

        let file = try SafeTensorsFile(path: path)
        #expect(file.metadata == metadata)
        #expect(file.names == ["bn.running_var", "conv.weight", "empty", "emptyDouble", "fc.bias", "scalar"])
        #expect(file.info("conv.weight")! == ("F32", [2, 3]))
        #expect(file.info("bn.running_var")! == ("F64", [3]))
        #expect(file.info("scalar")! == ("F32", []))
        #expect(file.info("missing") == nil)

        let a2 = try file.tensor("conv.weight")
        #expect(a2.shape == [2, 3] && a2.dtype == .float32 && bits(a2) == bits(a))
        let b2 = try file.tensor("bn.running_var", as: .float64)
        #expect(b2.shape == [3] && b2.dtype == .float64 && bits(b2) == bits(b))
        #expect(bits(try file.tensor("bn.running_var")) == bits(b.doubles.map(Float.init)))
        #expect(bits(try file.tensor("conv.weight", as: .float64)) == bits(a.floats.map(Double.init)))
        #expect(try file.tensor("fc.bias").shape == [1, 1, 1, 1])
        let s2 = try file.tensor("scalar")
        #expect(s2.shape == [] && s2.floats == [4.25])
        #expect(try file.tensor("empty").shape == [0, 5])
        #expect(try file.tensor("emptyDouble", as: .float64).shape == [3, 0])

        let all = try file.tensors(as: .float64)
        #expect(all.count == 6 && all.values.allSatisfy { $0.dtype == .float64 })
        #expect(dir.listing() == ["model.safetensors"])
    }

    @Test func layoutMatchesThePythonLibrary() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("layout.safetensors")
        // Odd element counts: alignment only holds because F64 tensors are laid out first.
        try SafeTensors.write(
            [
                "z32": Tensor([Float(1), 2, 3]), "a32": Tensor([Float(4)]),
                "m64": Tensor([1.0, 2.0, 3.0]), "b64": Tensor([5.0]),
            ],
            metadata: ["k": "v"], to: path)
        let bytes = readBytes(path)
        let n = Int(bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        #expect(n % 8 == 0)
        let header = String(decoding: bytes[8..<(8 + n)], as: UTF8.self)
        let json = header.trimmingCharacters(in: .whitespaces)
        #expect(n - json.utf8.count < 8) // padded with at most 7 spaces
        #expect(header.utf8.dropFirst(json.utf8.count).allSatisfy { $0 == UInt8(ascii: " ") })
        #expect(
            json == #"{"__metadata__":{"k":"v"},"a32":{"dtype":"F32","shape":[1],"data_offsets":[32,36]},"#
                + #""b64":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"#
                + #""m64":{"dtype":"F64","shape":[3],"data_offsets":[8,32]},"#
                + #""z32":{"dtype":"F32","shape":[3],"data_offsets":[36,48]}}"#)
        #expect(bytes.count == 8 + n + 48)
    }

    @Test func writeWithoutTensorsOrMetadata() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("empty.safetensors")
        try SafeTensors.write([:], to: path)
        #expect(readBytes(path) == le(UInt64(8)) + Array("{}      ".utf8))
        let file = try SafeTensorsFile(path: path)
        #expect(file.names.isEmpty && file.metadata.isEmpty)
        #expect(try file.tensors().isEmpty)
    }

    @Test func overwritingKeepsTheOldFileWhenTheNewOneIsInvalid() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("w.safetensors")
        try SafeTensors.write(["x": Tensor([Float(1)])], to: path)
        let e = expectFormatError(path: path) { try SafeTensors.write(["__metadata__": Tensor([Float(2)])], to: path) }
        #expect(e?.found.contains("__metadata__") == true)
        #expect(try SafeTensorsFile(path: path).tensor("x").floats == [1])
    }

    @Test func missingTensorAndMissingFileThrow() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("one.safetensors")
        try SafeTensors.write(["x": Tensor([Float(1)])], to: path)
        let file = try SafeTensorsFile(path: path)
        expectFormatError(path: path) { _ = try file.tensor("y") }
        #expect(throws: FileSystemError.self) { _ = try SafeTensorsFile(path: dir.file("absent.safetensors")) }
        expectFormatError(path: dir.path) { _ = try SafeTensorsFile(path: dir.path) } // a directory
    }

    // MARK: Files written by Python (Scripts/make_io_fixtures.py)

    @Test func readsEveryDtypeWrittenByPython() throws {
        let path = fixturePath("python.safetensors")
        let file = try SafeTensorsFile(path: path)
        #expect(file.metadata == ["format": "pt", "producer": "make_io_fixtures.py", "text": "π ≈ 3.14, \"quoted\""])
        #expect(
            file.names == ["bf16", "bool", "empty", "f16", "f32", "f64", "i16", "i32", "i64", "i8", "scalar", "u8"])
        #expect(file.info("bf16")! == ("BF16", [5]))
        #expect(file.info("f16")! == ("F16", [8]))

        let f32 = try file.tensor("f32")
        #expect(f32.shape == [2, 3])
        #expect(bits(f32) == bits([Float(0.5), -1.25, 3.0, 0.375, -0.0, 1024.5]))

        let f16: [Float] = [1.0, -2.5, 65504.0, 0x1p-24, 0x1p-14, .infinity, -.infinity, 0.333251953125]
        #expect(bits(try file.tensor("f16")) == bits(f16))
        #expect(bits(try file.tensor("f16", as: .float64)) == bits(f16.map(Double.init)))

        #expect(bits(try file.tensor("bf16")) == bits([Float(1.0), -3.5, 0x1p100, 0.0078125, 3.140625]))

        let f64: [Double] = [0.1, -1e300, .leastNonzeroMagnitude, 1.0 / 3.0]
        let f64Tensor = try file.tensor("f64", as: .float64)
        #expect(f64Tensor.shape == [2, 2] && bits(f64Tensor) == bits(f64))
        #expect(bits(try file.tensor("f64")) == bits(f64.map(Float.init))) // -1e300 → -inf, 5e-324 → 0

        let i64: [Int64] = [-9_007_199_254_740_993, 0, 42, 1 << 40]
        #expect(bits(try file.tensor("i64", as: .float64)) == bits(i64.map(Double.init)))
        #expect(bits(try file.tensor("i64")) == bits(i64.map(Float.init)))
        #expect(try file.tensor("i32", as: .float64).doubles == [-7, 2_147_483_647])
        #expect(try file.tensor("i16").floats == [-32768, 300])
        #expect(try file.tensor("i8").floats == [-128, 127])
        #expect(try file.tensor("u8").floats == [0, 255, 7])
        #expect(try file.tensor("bool").floats == [1, 0, 1])
        let scalar = try file.tensor("scalar")
        #expect(scalar.shape == [] && scalar.floats == [2.5])
        #expect(try file.tensor("empty").shape == [0, 3])
        #expect(try file.tensors().count == 12)
    }

    @Test func readsFloat8AndUnsignedTypes() throws {
        // Not in the Python fixture (torch's FP8 needs newer hardware paths); values by hand.
        // E4M3FN: 0x38 = 1.0, 0xBC = -1.5 (s=1 e=7 m=4), 0x7E = 448 (max), 0x01 = 2^-9, 0x7F = NaN.
        // E5M2:   0x3C = 1.0, 0xC2 = -3.0, 0x7C = +inf, 0x01 = 2^-16.
        let header =
            #"{"e4":{"dtype":"F8_E4M3","shape":[5],"data_offsets":[0,5]},"#
            + #""e5":{"dtype":"F8_E5M2","shape":[4],"data_offsets":[5,9]},"#
            + #""u16":{"dtype":"U16","shape":[1],"data_offsets":[9,11]},"#
            + #""u32":{"dtype":"U32","shape":[1],"data_offsets":[11,15]},"#
            + #""u64":{"dtype":"U64","shape":[1],"data_offsets":[15,23]}}"#
        let data: [UInt8] =
            [0x38, 0xBC, 0x7E, 0x01, 0x7F, 0x3C, 0xC2, 0x7C, 0x01]
            + le(UInt16(65535)) + le(UInt32(4_000_000_000)) + le(UInt64(1) << 63)
        let dir = TemporaryDirectory()
        let path = dir.write(safetensorsBytes(header, data: data), to: "fp8.safetensors")
        let file = try SafeTensorsFile(path: path)
        let e4 = try file.tensor("e4").floats
        #expect(Array(e4[0..<4]) == [1.0, -1.5, 448, 0x1p-9] && e4[4].isNaN)
        #expect(try file.tensor("e5").floats == [1.0, -3.0, .infinity, 0x1p-16])
        #expect(try file.tensor("u16").floats == [65535])
        #expect(try file.tensor("u32", as: .float64).doubles == [4_000_000_000])
        #expect(try file.tensor("u64", as: .float64).doubles == [0x1p63])
    }

    @Test func acceptsNullMetadataWhitespaceAndUnknownEntryFields() throws {
        let header =
            " {\"__metadata__\": null,\n \"x\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4], \"extra\": 1}} \t\r\n"
        let dir = TemporaryDirectory()
        let path = dir.write(safetensorsBytes(header, data: le(Float(2).bitPattern)), to: "ok.safetensors")
        let file = try SafeTensorsFile(path: path)
        #expect(file.metadata.isEmpty)
        #expect(try file.tensor("x").floats == [2])
    }

    // MARK: Malformed files

    static let four = le(Float(1).bitPattern)
    static func entry(_ name: String, _ dtype: String = "F32", shape: String = "[1]", offsets: String = "[0,4]")
        -> String
    {
        "\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":\(offsets)}"
    }

    static let badFiles: [BadFile] = [
        BadFile(label: "empty file", bytes: []),
        BadFile(label: "7 bytes", bytes: [2, 0, 0, 0, 0, 0, 0]),
        BadFile(label: "header length beyond the file", bytes: safetensorsBytes("{}", length: 3)),
        BadFile(label: "header length UInt64.max", bytes: safetensorsBytes("{}", length: .max)),
        BadFile(label: "header length 2^40", bytes: safetensorsBytes("{}", length: 1 << 40)),
        BadFile(label: "header not JSON", bytes: safetensorsBytes("{not json}")),
        BadFile(label: "header truncated JSON", bytes: safetensorsBytes("{\"x\":")),
        BadFile(label: "header is an array", bytes: safetensorsBytes("[1,2]")),
        BadFile(label: "header is a string", bytes: safetensorsBytes("\"hi\"")),
        BadFile(label: "garbage after the object", bytes: safetensorsBytes("{} x")),
        BadFile(label: "NUL padding", bytes: safetensorsBytes("{}\0\0")),
        BadFile(label: "invalid UTF-8 in a key", bytes: le(UInt64(6)) + [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31]),
        BadFile(label: "control character in a string", bytes: safetensorsBytes("{\"a\u{1}\":1}")),
        BadFile(
            label: "deeply nested", bytes: safetensorsBytes("{\"x\":" + String(repeating: "[", count: 10_000) + "}")),
        BadFile(
            label: "duplicate tensor name",
            bytes: safetensorsBytes("{" + entry("x") + "," + entry("x") + "}", data: four)),
        BadFile(
            label: "integer overflows 64 bits",
            bytes: safetensorsBytes("{" + entry("x", offsets: "[0,99999999999999999999]") + "}", data: four)),
        BadFile(label: "unknown dtype", bytes: safetensorsBytes("{" + entry("x", "F17") + "}", data: four)),
        BadFile(
            label: "dtype not a string",
            bytes: safetensorsBytes("{\"x\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", data: four)),
        BadFile(
            label: "missing dtype",
            bytes: safetensorsBytes("{\"x\":{\"shape\":[1],\"data_offsets\":[0,4]}}", data: four)),
        BadFile(
            label: "negative dimension", bytes: safetensorsBytes("{" + entry("x", shape: "[-1]") + "}", data: four)),
        BadFile(
            label: "fractional dimension", bytes: safetensorsBytes("{" + entry("x", shape: "[1.0]") + "}", data: four)),
        BadFile(
            label: "shape not an array", bytes: safetensorsBytes("{" + entry("x", shape: "\"1\"") + "}", data: four)),
        BadFile(
            label: "element count overflows",
            bytes: safetensorsBytes("{" + entry("x", shape: "[4294967296,4294967296,4294967296]") + "}", data: four)),
        BadFile(
            label: "byte count overflows",
            bytes: safetensorsBytes("{" + entry("x", "F64", shape: "[2305843009213693952]") + "}", data: four)),
        BadFile(
            label: "data_offsets with one number",
            bytes: safetensorsBytes("{" + entry("x", offsets: "[4]") + "}", data: four)),
        BadFile(
            label: "data_offsets with strings",
            bytes: safetensorsBytes("{" + entry("x", offsets: "[\"0\",\"4\"]") + "}", data: four)),
        BadFile(
            label: "data_offsets begin > end",
            bytes: safetensorsBytes("{" + entry("x", shape: "[0]", offsets: "[4,0]") + "}", data: four)),
        BadFile(
            label: "data_offsets negative",
            bytes: safetensorsBytes("{" + entry("x", shape: "[0]", offsets: "[-4,-4]") + "}", data: four)),
        BadFile(
            label: "end beyond the buffer",
            bytes: safetensorsBytes("{" + entry("x", shape: "[2]", offsets: "[0,8]") + "}", data: four)),
        BadFile(
            label: "byte length ≠ count × size",
            bytes: safetensorsBytes("{" + entry("x", shape: "[2]") + "}", data: four)),
        BadFile(
            label: "F16 byte length mismatch",
            bytes: safetensorsBytes("{" + entry("x", "F16", shape: "[1]") + "}", data: four)),
        BadFile(
            label: "overlapping tensors",
            bytes: safetensorsBytes(
                "{" + entry("a", shape: "[2]", offsets: "[0,8]") + "," + entry("b", shape: "[2]", offsets: "[4,12]")
                    + "}",
                data: four + four + four)),
        BadFile(
            label: "hole between tensors",
            bytes: safetensorsBytes(
                "{" + entry("a") + "," + entry("b", offsets: "[8,12]") + "}", data: four + four + four)),
        BadFile(
            label: "hole at the start",
            bytes: safetensorsBytes("{" + entry("a", offsets: "[4,8]") + "}", data: four + four)),
        BadFile(label: "trailing bytes", bytes: safetensorsBytes("{" + entry("a") + "}", data: four + four)),
        BadFile(label: "no tensors but data", bytes: safetensorsBytes("{}", data: four)),
        BadFile(label: "entry is a number", bytes: safetensorsBytes("{\"x\":3}")),
        BadFile(label: "metadata not an object", bytes: safetensorsBytes("{\"__metadata__\":[\"a\"]}")),
        BadFile(label: "metadata value not a string", bytes: safetensorsBytes("{\"__metadata__\":{\"epoch\":3}}")),
        BadFile(
            label: "missing data_offsets",
            bytes: safetensorsBytes("{\"x\":{\"dtype\":\"F32\",\"shape\":[1]}}", data: four)),
    ]

    @Test(arguments: badFiles)
    func malformedFileThrows(_ bad: BadFile) throws {
        let dir = TemporaryDirectory()
        let path = dir.write(bad.bytes, to: "bad.safetensors")
        let e = expectFormatError(path: path) { _ = try SafeTensorsFile(path: path) }
        #expect(e.map { !$0.found.isEmpty && !$0.expected.isEmpty } == true)
    }

    @Test func errorMessagesSayWhatAndWhere() throws {
        let dir = TemporaryDirectory()
        let path = dir.write(safetensorsBytes("{}", length: 1 << 40), to: "long.safetensors")
        let e = expectFormatError(path: path) { _ = try SafeTensorsFile(path: path) }
        #expect(e?.offset == 0)
        #expect(
            e?.description
                == "\(path): at byte 0: header length 1099511627776; expected at most 2 bytes (the file size minus 8)")

        let hole = dir.write(
            safetensorsBytes(
                "{" + Self.entry("a") + "," + Self.entry("b", offsets: "[8,12]") + "}",
                data: Self.four + Self.four + Self.four), to: "hole.safetensors")
        let h = expectFormatError(path: hole) { _ = try SafeTensorsFile(path: hole) }
        #expect(h?.found.contains("hole of 4 bytes before tensor \"b\"") == true)
    }
}
