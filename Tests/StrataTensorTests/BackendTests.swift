import StrataTensor
import StrataTestSupport
import Testing

/// The Backend protocol and its scoping (Backend/Backend.swift, Reference/).
@Suite("Backend")
struct BackendTests {
    /// Delegates to the reference backend and records which primitives ran.
    final class CountingBackend: Backend, @unchecked Sendable {
        let name = "counting"
        let base = ReferenceBackend()
        var calls: [String] = []

        func matmul(_ a: Tensor, _ b: Tensor, transA: Bool, transB: Bool) -> Tensor {
            calls.append("matmul")
            return base.matmul(a, b, transA: transA, transB: transB)
        }
        func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, _ p: Conv2dParameters) -> Tensor {
            calls.append("conv2d")
            return base.conv2d(x, weight: weight, bias: bias, p)
        }
        func conv2dBackwardData(_ g: Tensor, weight: Tensor, inputShape: [Int], _ p: Conv2dParameters) -> Tensor {
            calls.append("conv2dBackwardData")
            return base.conv2dBackwardData(g, weight: weight, inputShape: inputShape, p)
        }
        func conv2dBackwardWeight(_ g: Tensor, input: Tensor, weightShape: [Int], _ p: Conv2dParameters) -> Tensor {
            calls.append("conv2dBackwardWeight")
            return base.conv2dBackwardWeight(g, input: input, weightShape: weightShape, p)
        }
        func maxPool2d(_ x: Tensor, _ p: Pool2dParameters) -> (output: Tensor, indices: Tensor) {
            calls.append("maxPool2d")
            return base.maxPool2d(x, p)
        }
        func maxPool2dBackward(_ g: Tensor, indices: Tensor, inputShape: [Int]) -> Tensor {
            calls.append("maxPool2dBackward")
            return base.maxPool2dBackward(g, indices: indices, inputShape: inputShape)
        }
        func avgPool2d(_ x: Tensor, _ p: Pool2dParameters) -> Tensor {
            calls.append("avgPool2d")
            return base.avgPool2d(x, p)
        }
        func avgPool2dBackward(_ g: Tensor, inputShape: [Int], _ p: Pool2dParameters) -> Tensor {
            calls.append("avgPool2dBackward")
            return base.avgPool2dBackward(g, inputShape: inputShape, p)
        }
        func adaptiveAvgPool2d(_ x: Tensor, outputSize: (Int, Int)) -> Tensor {
            calls.append("adaptiveAvgPool2d")
            return base.adaptiveAvgPool2d(x, outputSize: outputSize)
        }
        func adaptiveAvgPool2dBackward(_ g: Tensor, inputShape: [Int]) -> Tensor {
            calls.append("adaptiveAvgPool2dBackward")
            return base.adaptiveAvgPool2dBackward(g, inputShape: inputShape)
        }
        func batchNormStatistics(_ x: Tensor, eps: Double) -> BatchNormSaved {
            calls.append("batchNormStatistics")
            return base.batchNormStatistics(x, eps: eps)
        }
        func batchNormApply(_ x: Tensor, saved: BatchNormSaved, weight: Tensor?, bias: Tensor?) -> Tensor {
            calls.append("batchNormApply")
            return base.batchNormApply(x, saved: saved, weight: weight, bias: bias)
        }
        func batchNormBackward(
            _ g: Tensor, input: Tensor, saved: BatchNormSaved, weight: Tensor?,
            trainingStatistics: Bool
        ) -> (input: Tensor, weight: Tensor, bias: Tensor) {
            calls.append("batchNormBackward")
            return base.batchNormBackward(
                g, input: input, saved: saved, weight: weight, trainingStatistics: trainingStatistics)
        }
        func localResponseNorm(_ x: Tensor, size: Int, alpha: Double, beta: Double, k: Double) -> Tensor {
            calls.append("localResponseNorm")
            return base.localResponseNorm(x, size: size, alpha: alpha, beta: beta, k: k)
        }
        func localResponseNormBackward(_ g: Tensor, input: Tensor, size: Int, alpha: Double, beta: Double, k: Double)
            -> Tensor
        {
            calls.append("localResponseNormBackward")
            return base.localResponseNormBackward(g, input: input, size: size, alpha: alpha, beta: beta, k: k)
        }
    }

    @Test("Backends.with routes forward and backward kernels to the scoped backend")
    func scoping() {
        let counting = CountingBackend()
        let x = randomTensor([1, 2, 4, 4], seed: 150).requiringGrad()
        let w = randomTensor([2, 2, 3, 3], seed: 151).requiringGrad()
        Backends.with(counting) {
            #expect(Backends.current.name == "counting")
            var h = conv2d(x, weight: w, .init(padding: 1))
            h = batchNorm2d(h, runningMean: nil, runningVar: nil, weight: nil, bias: nil, training: true)
            h = localResponseNorm(h, size: 2)
            h = maxPool2d(h, .init(kernel: 2)) + avgPool2d(h, .init(kernel: 2))
            h = adaptiveAvgPool2d(h, outputSize: (1, 1)).flattened()
            linear(h, weight: w.reshaped([4, 9]).slice(axis: 1, start: 0, end: 2)).sum().backward()
        }
        #expect(!(Backends.current is CountingBackend), "the scope ends with the closure")
        let expected: Set<String> = [
            "conv2d", "conv2dBackwardData", "conv2dBackwardWeight", "batchNormStatistics", "batchNormApply",
            "batchNormBackward",
            "localResponseNorm", "localResponseNormBackward", "maxPool2d", "maxPool2dBackward", "avgPool2d",
            "avgPool2dBackward",
            "adaptiveAvgPool2d", "adaptiveAvgPool2dBackward", "matmul",
        ]
        #expect(Set(counting.calls) == expected, "\(Set(counting.calls).symmetricDifference(expected))")
        #expect(ReferenceBackend().name == "reference")
    }

    @Test(
        "matmul with every transposition of its operands",
        arguments: [(false, false), (false, true), (true, false), (true, true)])
    func matmulTranspositions(_ t: (Bool, Bool)) {
        let (m, k, n) = (5, 7, 3)
        // Stored shapes: op(A) is m×k, op(B) is k×n.
        let a = randomTensor(t.0 ? [k, m] : [m, k], seed: 152)
        let b = randomTensor(t.1 ? [n, k] : [k, n], seed: 153)
        let av = a.doubles
        let bv = b.doubles
        var expected = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                for p in 0..<k {
                    let aip = t.0 ? av[p * m + i] : av[i * k + p]
                    let bpj = t.1 ? bv[j * k + p] : bv[p * n + j]
                    expected[i * n + j] += aip * bpj
                }
            }
        }
        for dtype in DType.computableCases {
            let c = ReferenceBackend().matmul(a.to(dtype), b.to(dtype), transA: t.0, transB: t.1)
            #expect(c.dtype == dtype)
            expectClose(c, expected, shape: [m, n], tolerance: dtype == .float64 ? 1e-14 : 1e-6, "\(t) \(dtype)")
        }
    }
}
