import StrataTensor
import StrataTestSupport
import Testing

/// sum, mean, max and argmax (Ops/Reduction.swift): gradients against finite differences
/// and forward values.
@Suite("Reductions")
struct ReductionTests {
    static let axesCases: [[Int]?] = [nil, [0], [1], [2], [-1], [0, 2], [1, 2], [0, 1, 2]]

    @Test("sum over axes, keepDims both ways", arguments: axesCases)
    func sumGrad(_ axes: [Int]?) {
        let x = randomTensor([2, 3, 4], seed: 20)
        for keep in [false, true] {
            checkGradients([x], "sum axes \(String(describing: axes)) keepDims \(keep)") {
                $0[0].sum(axes: axes, keepDims: keep)
            }
        }
    }

    @Test("mean over axes, keepDims both ways", arguments: axesCases)
    func meanGrad(_ axes: [Int]?) {
        let x = randomTensor([2, 3, 4], seed: 21)
        for keep in [false, true] {
            checkGradients([x], "mean axes \(String(describing: axes)) keepDims \(keep)") {
                $0[0].mean(axes: axes, keepDims: keep)
            }
        }
    }

    @Test("max along an axis, keepDims both ways", arguments: [0, 1, 2, -1])
    func maxGrad(_ axis: Int) {
        let x = distinctTensor([3, 4, 5], seed: 22)
        for keep in [false, true] {
            checkGradients([x], "max axis \(axis) keepDims \(keep)") { $0[0].max(axis: axis, keepDims: keep) }
        }
        checkGradients([x], "max of all") { $0[0].max() }
    }

    @Test("sum, mean and max values and shapes")
    func values() {
        let x = Tensor([1.0, 2, 3, 4, 5, 6], shape: [2, 3])
        #expect(x.sum().shape == [])
        #expect(x.sum().item() == 21)
        #expect(x.sum(axis: 0).doubles == [5, 7, 9])
        #expect(x.sum(axis: 1).doubles == [6, 15])
        #expect(x.sum(axis: 1, keepDims: true).shape == [2, 1])
        #expect(x.sum(axes: [0, 1], keepDims: true).shape == [1, 1])
        #expect(x.mean(axis: 0).doubles == [2.5, 3.5, 4.5])
        #expect(x.mean(axis: -1).doubles == [2, 5])
        #expect(x.mean().item() == 3.5)
        let y = Tensor([3.0, 9, 1, 7, 2, 8], shape: [2, 3])
        #expect(y.max(axis: 1).doubles == [9, 8])
        #expect(y.max(axis: 0).doubles == [7, 9, 8])
        #expect(y.max(axis: 0, keepDims: true).shape == [1, 3])
        #expect(y.max().item() == 9)
        #expect(y.argmax(axis: 1) == [1, 2])
        #expect(y.argmax(axis: 0) == [1, 0, 1])
    }

    @Test("max routes the gradient to the first maximum on ties")
    func maxTies() {
        let x = Tensor([2.0, 5, 5, 1], shape: [1, 4]).requiringGrad()
        x.max(axis: 1).sum().backward()
        #expect(x.grad?.doubles == [0, 1, 0, 0])
        #expect(Tensor([1.0, 4, 4]).argmax(axis: 0) == [1])
    }

    @Test("max gradient in Float32 stays Float32")
    func maxFloat32() {
        let x = Tensor([Float(1), 3, 2], shape: [3]).requiringGrad()
        x.max(axis: 0).backward()
        #expect(x.grad?.dtype == .float32)
        #expect(x.grad?.floats == [0, 1, 0])
    }
}
