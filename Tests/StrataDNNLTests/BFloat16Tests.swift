import StrataTensor
import StrataTestSupport
import Testing
import _CDNNL

@testable import StrataDNNL

/// bfloat16 storage on DNNLBackend (DNNLConvolution.swift `bfloat16Conv2d`, DNNLCore.swift dtype mapping):
/// without `avx512_bf16` every op falls back to the reference kernels (no crash, the same bits); with it,
/// convolutions run through oneDNN's bf16 primitives and agree with the reference within bf16 rounding.
@Suite("oneDNN backend: bfloat16 storage")
struct BFloat16DNNLTests {
    /// conv-bn-relu, max pooling, a second conv with bias, global average pooling, linear; all in `dtype`.
    func smallNet(_ x: Tensor, _ dtype: DType) -> Tensor {
        func w(_ shape: [Int], _ seed: UInt64, std: Double = 0.3, mean: Double = 0) -> Tensor {
            randomTensor(shape, seed: seed, mean: mean, std: std, dtype: .float32).to(dtype)
        }
        var h = conv2d(x.to(dtype), weight: w([8, 3, 3, 3], 1), Conv2dParameters(padding: 1))
        h = batchNorm2d(
            h, runningMean: w([8], 2, std: 0.1), runningVar: w([8], 3, std: 0.1, mean: 1).abs(),
            weight: w([8], 4, std: 0.1, mean: 1), bias: w([8], 5, std: 0.1), training: false
        ).relu()
        h = maxPool2d(h, .init(kernel: 2))
        h = conv2d(
            h, weight: w([16, 8, 3, 3], 6, std: 0.15), bias: w([16], 7, std: 0.1),
            Conv2dParameters(stride: 2, padding: 1)
        ).relu()
        h = adaptiveAvgPool2d(h, outputSize: (1, 1)).flattened()
        return linear(h, weight: w([10, 16], 8), bias: w([10], 9, std: 0.1))
    }

    @Test func dtypeMapsToOneDNNDataTypes() {
        #expect(DType.float32.dnnlDataType == dnnl_f32 && DType.bfloat16.dnnlDataType == dnnl_bf16)
        #expect(DType.float16.dnnlDataType == dnnl_f16 && DType.int32.dnnlDataType == dnnl_s32)
        #expect(DType.float64.dnnlDataType == nil && DType.int64.dnnlDataType == nil)
        #expect(DType(dnnl: dnnl_bf16) == .bfloat16 && DType(dnnl: dnnl_u8) == nil)
        let b = BufferPool.storage(bytes: 1 << 20, dtype: .bfloat16)
        #expect(b.dtype == .bfloat16 && b.count == 1 << 19)
        #expect(BufferPool.storage(bytes: 10, dtype: .bfloat16).count == 5)
    }

    @Test func bfloat16TensorsRunOnDNNLBackendAndMatchTheReference() {
        let x = randomTensor([2, 3, 16, 16], seed: 10, dtype: .float32)
        let backend = DNNLBackend()
        let (ref, viaDNNL, f32) = withNoGrad {
            (
                Backends.with(ReferenceBackend()) { smallNet(x, .bfloat16) },
                Backends.with(backend) { smallNet(x, .bfloat16) },
                Backends.with(ReferenceBackend()) { smallNet(x, .float32) }
            )
        }
        #expect(viaDNNL.dtype == .bfloat16 && viaDNNL.shape == [2, 10])
        let scale = f32.doubles.map(Swift.abs).max()!
        if DNNLCapabilities.hasBFloat16 {
            // Another summation order inside the bf16 convolutions: a few bf16 ulps apart at most.
            expectClose(viaDNNL.to(.float32), ref.to(.float32), tolerance: 2e-2, "oneDNN bf16 vs reference bf16")
        } else {
            // Every op fell back to the reference kernels: the very same bits.
            #expect(viaDNNL.doubles == ref.doubles)
        }
        let err = zip(viaDNNL.doubles, f32.doubles).map { Swift.abs($0 - $1) }.max()!
        #expect(err <= 3e-2 * scale && err > 0)
    }

    // Skipped on CPUs without avx512_bf16 (this project's 2-core AVX2 machine among them): oneDNN 2.x
    // has no bf16 convolution kernel there, and DNNLBackend falls back to the reference kernels
    // (checked by the test above).
    @Test(
        .enabled(
            if: DNNLCapabilities.hasBFloat16,
            "needs avx512_bf16 (oneDNN bf16 convolution kernels); this CPU: \(DNNLCapabilities.isa)"))
    func oneDNNBFloat16ConvolutionMatchesTheReference() throws {
        let x = randomTensor([2, 16, 12, 12], seed: 20, dtype: .float32).to(.bfloat16)
        let w = randomTensor([32, 16, 3, 3], seed: 21, std: 0.1, dtype: .float32).to(.bfloat16)
        let b = randomTensor([32], seed: 22, std: 0.1, dtype: .float32).to(.bfloat16)
        let backend = DNNLBackend()
        let y = try #require(backend.bfloat16Conv2d(x, weight: w, bias: b, Conv2dParameters(padding: 1)))
        let yRef = ReferenceBackend().conv2d(x, weight: w, bias: b, Conv2dParameters(padding: 1))
        #expect(y.dtype == .bfloat16)
        // Both accumulate in float32 and round once to bf16 (relative 2⁻⁹); sums in another order
        // can land on the neighbouring bf16 value: ≤ 2 ulps of the largest output.
        expectClose(y.to(.float32), yRef.to(.float32), tolerance: 1e-2, "bf16 conv")
    }

    @Test func reportsWhetherTheBFloat16PathRuns() {
        if !DNNLCapabilities.hasBFloat16 {
            print(
                "oneDNN bf16 convolution skipped: CPU lacks avx512_bf16 (isa \(DNNLCapabilities.isa)); bf16 tensors use the reference kernels"
            )
        }
        #expect(DNNLCapabilities.hasBFloat16 ? DNNLCapabilities.cpuHasAVX512BF16 : true)
    }
}
