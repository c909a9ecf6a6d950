import StrataTestSupport
import Testing

@testable import StrataTensor

/// Storage dtypes apart from compute (Core/DType.swift, Core/Conversion.swift): bfloat16/float16
/// rounding, conversion between every pair of dtypes, the guard on kernels that were not taught a
/// storage-only dtype, max-pooling indices as an int32 tensor, and a small conv net whose weights and
/// activations are stored in bfloat16 (float32 accumulation) against the same net in float32.
@Suite("Storage dtypes")
struct StorageDTypeTests {
    @Test func bfloat16RoundsToNearestEvenLikePyTorch() {
        #expect(BFloat16(1).bitPattern == 0x3F80)
        #expect(BFloat16(1 + 0x1p-8).bitPattern == 0x3F80) // tie: down to even
        #expect(BFloat16(1 + 3 * 0x1p-8).bitPattern == 0x3F82) // tie: up to even
        #expect(BFloat16(1 + 0x1p-8 + 0x1p-20).bitPattern == 0x3F81) // above the tie
        #expect(BFloat16(Float.greatestFiniteMagnitude).bitPattern == 0x7F80) // overflow → inf
        #expect(BFloat16(-Float.infinity).bitPattern == 0xFF80)
        #expect(BFloat16(-0.0).bitPattern == 0x8000)
        #expect(BFloat16(.nan).float.isNaN && BFloat16(-.nan).float.isNaN)
        #expect(BFloat16(bitPattern: 0x4049).float == 3.140625)
    }

    @Test func float16MatchesSwiftFloat16AndTheSoftwarePath() {
        #expect(Half(65504).float == 65504 && Half(65520).float == .infinity)
        #expect(Half(0x1p-24).bitPattern == 0x0001 && Half(0x1p-25).bitPattern == 0) // tie to even: 0
        // The software conversion (for platforms without Float16) against the hardware one.
        var rng = RandomGenerator(seed: 5)
        var values: [Float] = [
            0, -0.0, 1, 65504, 65519.99, 65520, 0x1p-14, 0x1p-24, 0x1.8p-24, 0x1p-25, .infinity, -.infinity,
        ]
        for _ in 0..<2000 {
            values.append(
                Float(rng.nextNormal()) * Float(sign: .plus, exponent: Int(rng.nextFloat() * 40) - 24, significand: 1))
        }
        for v in values {
            #expect(Half.softwareBits(v) == Float16(v).bitPattern, "\(v)")
            let h = Float16(v).bitPattern
            #expect(Half.softwareFloat(h).bitPattern == Float(Float16(bitPattern: h)).bitPattern, "\(v)")
        }
        #expect(Half.softwareFloat(Half.softwareBits(.nan)).isNaN)
    }

    @Test("every pair of dtypes converts", arguments: DType.allCases)
    func everyPairConverts(_ source: DType) {
        let values: [Double] = [0, 1, -2, 3, 100, -7, 0.5 * 512]
        let t = Tensor(values, shape: [7]).to(source)
        #expect(t.dtype == source && t.shape == [7])
        for target in DType.allCases {
            let u = t.to(target)
            #expect(u.dtype == target)
            #expect(u.doubles == values, "\(source) → \(target)")
        }
    }

    @Test func integerConversionTruncatesAndSaturates() {
        let t = Tensor([-2.7, 2.7, .nan, 1e20, -1e20])
        #expect(t.to(.int32).withHostBuffer(as: Int32.self) { Array($0) } == [-2, 2, 0, .max, .min])
        #expect(t.to(.int64).withHostBuffer(as: Int64.self) { Array($0) } == [-2, 2, 0, .max, .min])
        // float64 → bfloat16 goes through float32 (as PyTorch): 1 + 2⁻⁸ + 2⁻³⁰ is 1 + 2⁻⁸ in float32,
        // a tie that rounds to 1.
        #expect(Tensor([1 + 0x1p-8 + 0x1p-30]).to(.bfloat16).doubles == [1])
    }

    @Test func storageOnlyDTypesCreateAndPrint() {
        #expect(Tensor.full([3], 1.5, dtype: .bfloat16).doubles == [1.5, 1.5, 1.5])
        #expect(Tensor(scalar: 0.1, dtype: .bfloat16).item() == Double(BFloat16(0.1).float))
        #expect(Tensor.arange(0, 4, dtype: .int64).withHostBuffer(as: Int64.self) { Array($0) } == [0, 1, 2, 3])
        #expect(Tensor.zeros([2], dtype: .float16).description.contains("dtype: float16"))
        #expect(DType.computableCases == [.float32, .float64])
        #expect(DType.bfloat16.byteCount == 2 && DType.int64.byteCount == 8 && DType.int32.byteCount == 4)
    }

    @Test func kernelsNotTaughtAStorageOnlyDTypeStopWithTheOpAndDType() async {
        await #expect(processExitsWith: .failure) {
            _ = Tensor.zeros([2], dtype: .int32).exp()
        }
        await #expect(processExitsWith: .failure) {
            _ = Tensor.zeros([2, 2], dtype: .int64).matmul(Tensor.zeros([2, 2], dtype: .int64))
        }
    }

    @Test func maxPoolIndicesAreAnInt32Tensor() {
        let x = Tensor.arange(0, 16).reshaped([1, 1, 4, 4])
        let (y, indices) = ReferenceBackend().maxPool2d(x, .init(kernel: 2))
        #expect(y.doubles == [5, 7, 13, 15])
        #expect(indices.dtype == .int32 && indices.shape == [1, 1, 2, 2])
        #expect(indices.withHostBuffer(as: Int32.self) { Array($0) } == [5, 7, 13, 15])
        let dx = ReferenceBackend().maxPool2dBackward(
            Tensor([Float(1), 2, 3, 4], shape: [1, 1, 2, 2]), indices: indices,
            inputShape: [1, 1, 4, 4])
        #expect(dx.doubles == [0, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4])
        // bfloat16 storage: the same maxima and indices.
        let (yb, ib) = ReferenceBackend().maxPool2d(x.to(.bfloat16), .init(kernel: 2))
        #expect(
            yb.dtype == .bfloat16 && yb.doubles == [5, 7, 13, 15]
                && ib.withHostBuffer(as: Int32.self) { Array($0) } == [5, 7, 13, 15])
    }

    /// A small CIFAR-style residual net: conv-bn-relu stem, one basic block (identity shortcut),
    /// max pooling, a strided conv-bn-relu, global average pooling and a linear classifier.
    struct SmallResNet {
        var p: [String: Tensor] = [:]

        init(seed: UInt64) {
            var s = seed
            func next() -> UInt64 {
                s += 1
                return s
            }
            func conv(_ name: String, _ k: Int, _ c: Int) {
                p[name] = randomTensor([k, c, 3, 3], seed: next(), std: (2.0 / Double(c * 9)).squareRoot())
                p[name + ".bn.weight"] = randomTensor([k], seed: next(), mean: 1, std: 0.1)
                p[name + ".bn.bias"] = randomTensor([k], seed: next(), std: 0.1)
                p[name + ".bn.mean"] = randomTensor([k], seed: next(), std: 0.1)
                p[name + ".bn.var"] = randomTensor([k], seed: next(), mean: 1, std: 0.1).abs()
            }
            conv("stem", 8, 3)
            conv("b1", 8, 8)
            conv("b2", 8, 8)
            conv("down", 16, 8)
            p["fc.weight"] = randomTensor([10, 16], seed: next(), std: 0.25)
            p["fc.bias"] = randomTensor([10], seed: next(), std: 0.1)
            p = p.mapValues { $0.to(.float32) }
        }

        func converted(to dtype: DType) -> SmallResNet {
            var n = self
            n.p = p.mapValues { $0.to(dtype) }
            return n
        }

        func forward(_ x: Tensor) -> Tensor {
            func cbr(_ h: Tensor, _ name: String, stride: Int = 1, relu: Bool = true) -> Tensor {
                let c = conv2d(h, weight: p[name]!, Conv2dParameters(stride: stride, padding: 1))
                let b = batchNorm2d(
                    c, runningMean: p[name + ".bn.mean"], runningVar: p[name + ".bn.var"],
                    weight: p[name + ".bn.weight"], bias: p[name + ".bn.bias"], training: false)
                return relu ? b.relu() : b
            }
            var h = cbr(x, "stem")
            h = (cbr(cbr(h, "b1"), "b2", relu: false) + h).relu()
            h = maxPool2d(h, .init(kernel: 2))
            h = cbr(h, "down", stride: 2)
            h = adaptiveAvgPool2d(h, outputSize: (1, 1)).flattened()
            return linear(h, weight: p["fc.weight"]!, bias: p["fc.bias"])
        }
    }

    /// The bound: bfloat16 keeps 8 significant bits, so each rounding (input, weights, every
    /// layer's stored output: about a dozen in series here) has relative error ≤ 2⁻⁹ ≈ 0.2%.
    /// Accumulating in float32 adds nothing comparable. A dozen roundings in series give a few
    /// percent in the worst case (errors add and are amplified a little by the layers), and a
    /// random walk about √12·2⁻⁹ ≈ 0.7%; measured ≈ 0.5–1% of max |logit| here. Asserted:
    /// max |Δ| ≤ 3·10⁻²·max |logit|, and Δ ≠ 0 (the values really were rounded).
    @Test func bfloat16ConvNetMatchesFloat32WithinTheStatedBound() {
        let net = SmallResNet(seed: 900)
        let x = randomTensor([2, 3, 32, 32], seed: 901).to(.float32)
        let (reference, rounded) = Backends.with(ReferenceBackend()) {
            withNoGrad { (net.forward(x), net.converted(to: .bfloat16).forward(x.to(.bfloat16))) }
        }
        #expect(reference.dtype == .float32 && rounded.dtype == .bfloat16 && rounded.shape == [2, 10])
        let a = reference.doubles
        let b = rounded.doubles
        let scale = a.map(Swift.abs).max()!
        let err = zip(a, b).map { Swift.abs($0 - $1) }.max()!
        print("bf16 small ResNet: max |Δlogit| = \(err), max |logit| = \(scale), ratio \(err / scale)")
        #expect(err <= 3e-2 * scale)
        #expect(err > 0)
        #expect(b.allSatisfy { Double(BFloat16(Float($0)).float) == $0 })
    }
}
