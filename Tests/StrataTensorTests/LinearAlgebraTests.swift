import StrataTensor
import StrataTestSupport
import Testing

/// matmul and linear (Ops/LinearAlgebra.swift).
@Suite("Linear algebra")
struct LinearAlgebraTests {
    @Test("matmul gradients", arguments: [(3, 4, 5), (1, 7, 2), (5, 1, 3), (6, 9, 1)])
    func matmulGrad(_ dims: (Int, Int, Int)) {
        let (m, k, n) = dims
        let a = randomTensor([m, k], seed: 30)
        let b = randomTensor([k, n], seed: 31)
        checkGradients([a, b], "matmul \(dims)") { $0[0].matmul($0[1]) }
        checkGradients([a, b], wrt: [0], "matmul wrt a") { $0[0].matmul($0[1]) }
        checkGradients([a, b], wrt: [1], "matmul wrt b") { $0[0].matmul($0[1]) }
    }

    @Test("matmul values")
    func matmulValues() {
        let a = Tensor([1.0, 2, 3, 4, 5, 6], shape: [2, 3])
        let b = Tensor([7.0, 8, 9, 10, 11, 12], shape: [3, 2])
        #expect(a.matmul(b).shape == [2, 2])
        #expect(a.matmul(b).doubles == [58, 64, 139, 154])
        // Large enough for the GEMM to split rows across cores, with a 4-unrolled dot product.
        let x = randomTensor([70, 33], seed: 32)
        let y = randomTensor([33, 65], seed: 33)
        let xv = x.doubles
        let yv = y.doubles
        var expected = [Double](repeating: 0, count: 70 * 65)
        for i in 0..<70 {
            for j in 0..<65 { for p in 0..<33 { expected[i * 65 + j] += xv[i * 33 + p] * yv[p * 65 + j] } }
        }
        expectClose(x.matmul(y), expected, shape: [70, 65], tolerance: 1e-14, "70×33·33×65")
        expectClose(linear(x, weight: y.transposed()), expected, shape: [70, 65], tolerance: 1e-14, "linear 70×33")
    }

    @Test("linear gradients, with and without bias", arguments: [(1, 5, 3), (3, 7, 4), (4, 2, 6)])
    func linearGrad(_ dims: (Int, Int, Int)) {
        let (n, fin, fout) = dims
        let x = randomTensor([n, fin], seed: 34)
        let w = randomTensor([fout, fin], seed: 35)
        let b = randomTensor([fout], seed: 36)
        checkGradients([x, w, b], "linear with bias \(dims)") { linear($0[0], weight: $0[1], bias: $0[2]) }
        checkGradients([x, w], "linear without bias \(dims)") { linear($0[0], weight: $0[1]) }
        checkGradients([x, w, b], wrt: [0], "linear wrt x only") { linear($0[0], weight: $0[1], bias: $0[2]) }
        checkGradients([x, w, b], wrt: [1, 2], "linear wrt parameters only") {
            linear($0[0], weight: $0[1], bias: $0[2])
        }
    }

    @Test("linear equals x·Wᵀ + b")
    func linearValues() {
        let x = Tensor([1.0, 2, 3, 4], shape: [2, 2])
        let w = Tensor([1.0, 0, 0, 1, 1, 1], shape: [3, 2])
        let b = Tensor([0.5, -0.5, 1])
        #expect(linear(x, weight: w, bias: b).doubles == [1.5, 1.5, 4, 3.5, 3.5, 8])
        #expect(linear(x, weight: w).doubles == [1, 2, 3, 3, 4, 7])
    }
}
