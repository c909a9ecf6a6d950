import Foundation
import StrataNN
import StrataTensor
import StrataTestSupport
import Testing

/// Safetensors with storage-only dtypes (Serialization/SafeTensors.swift, ElementConversion.swift):
/// BF16/F16/I32/I64 read in their stored dtype on request (float32 stays the default), written back
/// under safetensors' dtype names, and checked bit for bit against a file PyTorch wrote
/// (Scripts/make_bf16_fixtures.py).
@Suite("Safetensors: bfloat16, float16 and integer storage")
struct SafeTensorsDTypeTests {
    /// Bit patterns of a 16-bit tensor, 0 for NaN elements (PyTorch's vectorized conversion writes
    /// NaN as 0xFFFF, its scalar one 0x7FC0: either is NaN; only NaN-ness is compared there).
    func bits16(_ t: Tensor) -> [UInt16] {
        switch t.dtype {
        case .bfloat16: return t.withHostBuffer(as: BFloat16.self) { $0.map { $0.float.isNaN ? 0 : $0.bitPattern } }
        case .float16: return t.withHostBuffer(as: Half.self) { $0.map { $0.float.isNaN ? 0 : $0.bitPattern } }
        default:
            Issue.record("not a 16-bit float: \(t.dtype)")
            return []
        }
    }

    @Test func pytorchFileKeepsStoredDTypesAndMatchesStrataRounding() throws {
        let file = try SafeTensorsFile(path: fixturePath("torch_bf16.safetensors"))
        #expect(file.storedDType("bf16") == .bfloat16 && file.storedDType("f16") == .float16)
        #expect(
            file.storedDType("i32") == .int32 && file.storedDType("i64") == .int64
                && file.storedDType("f32") == .float32)
        let source = try file.tensorInStoredDType("f32")
        let bf16 = try file.tensorInStoredDType("bf16")
        let f16 = try file.tensorInStoredDType("f16")
        #expect(bf16.dtype == .bfloat16 && bf16.shape == [16])
        #expect(f16.dtype == .float16 && f16.shape == [16])
        // Strata's conversion kernels round as PyTorch's .to(torch.bfloat16) / .to(torch.float16).
        #expect(bits16(source.to(.bfloat16)) == bits16(bf16))
        #expect(bits16(source.to(.float16)) == bits16(f16))
        #expect(bf16.doubles[12].isNaN && f16.doubles[12].isNaN)
        // The default read still widens to float32 (exactly).
        let widened = try file.tensor("bf16")
        #expect(widened.dtype == .float32)
        #expect(bits(widened) == bits(bf16.to(.float32)))
        #expect(
            try file.tensorInStoredDType("i64").withHostBuffer(as: Int64.self) { Array($0) } == [
                -9_007_199_254_740_993, 42, 1 << 40,
            ])
        #expect(try file.tensorInStoredDType("i32").withHostBuffer(as: Int32.self) { Array($0) } == [-7, 0, .max])
        #expect(try file.tensorInStoredDType("w_bf16").shape == [2, 3])
    }

    @Test func roundTripKeepsEveryDTypeBitForBit() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("mixed.safetensors")
        let values: [Float] = [1, -3.5, 0.1, .infinity, -0.0, 1e-40]
        let tensors: [String: Tensor] = [
            "bf16": Tensor(values, shape: [2, 3]).to(.bfloat16),
            "f16": Tensor(values).to(.float16),
            "i32": Tensor([Double(-7), 0, 2_147_483_647]).to(.int32),
            "i64": Tensor([Double(-5), 0x1p40]).to(.int64),
            "f32": Tensor(values),
            "f64": Tensor([0.1, -2.0]),
        ]
        try SafeTensors.write(tensors, to: path)
        let header = String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)).prefix(400), as: UTF8.self)
        for name in ["\"BF16\"", "\"F16\"", "\"I32\"", "\"I64\"", "\"F32\"", "\"F64\""] {
            #expect(header.contains("\"dtype\":\(name)"), "header lacks dtype \(name): \(header)")
        }
        let file = try SafeTensorsFile(path: path)
        for (name, t) in tensors {
            let back = try file.tensorInStoredDType(name)
            #expect(back.dtype == t.dtype && back.shape == t.shape, "\(name)")
            #expect(bits(back) == bits(t), "\(name)")
        }
        // A BF16 tensor requested as float32 is widened exactly; as bfloat16 it is copied.
        #expect(bits(try file.tensor("bf16")) == bits(tensors["bf16"]!.to(.float32)))
        #expect(bits(try file.tensor("bf16", as: .bfloat16)) == bits(tensors["bf16"]!))
        // F32 read as bfloat16 rounds like Tensor.to.
        #expect(bits(try file.tensor("f32", as: .bfloat16)) == bits(Tensor(values).to(.bfloat16)))
    }

    @Test func pythonSafetensorsReadsWhatStrataWrote() throws {
        let python = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Benchmarks/.venv/bin/python").standardized.path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            print("skipped: no Benchmarks/.venv (PyTorch + safetensors) to read the file back")
            return
        }
        let dir = TemporaryDirectory()
        let path = dir.file("strata.safetensors")
        try SafeTensors.write(
            [
                "w": Tensor([Float(1.00390625), -2.5, 3.140625]).to(.bfloat16),
                "h": Tensor([Float(0.5), 65504]).to(.float16),
                "n": Tensor([Double(3), -4]).to(.int64),
            ], to: path)
        let script = """
            from safetensors.torch import load_file
            import torch
            d = load_file('\(path)')
            assert d['w'].dtype == torch.bfloat16 and d['w'].tolist() == [1.0, -2.5, 3.140625], d['w']
            assert d['h'].dtype == torch.float16 and d['h'].tolist() == [0.5, 65504.0], d['h']
            assert d['n'].dtype == torch.int64 and d['n'].tolist() == [3, -4], d['n']
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }
}
