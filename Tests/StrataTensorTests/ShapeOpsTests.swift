import StrataTensor
import StrataTestSupport
import Testing

/// reshape, flatten, permute, transpose, slice, concatenate, stack, pad, squeeze
/// (Ops/ShapeOps.swift) and the dtype conversion `to(_:)`.
@Suite("Shape ops")
struct ShapeOpsTests {
    @Test("reshape, flatten, unsqueeze, squeeze gradients")
    func reshapeGrad() {
        let x = randomTensor([2, 3, 4], seed: 40)
        checkGradients([x], "reshaped [6, 4]") { $0[0].reshaped([6, 4]) }
        checkGradients([x], "reshaped [4, -1]") { $0[0].reshaped([4, -1]) }
        checkGradients([x], "flattened") { $0[0].flattened() }
        checkGradients([x], "flattened(startAxis: 0)") { $0[0].flattened(startAxis: 0) }
        checkGradients([x], "unsqueezed(1)") { $0[0].unsqueezed(1) }
        checkGradients([x.unsqueezed(2)], "squeezed(2)") { $0[0].squeezed(2) }
        let y = randomTensor([2, 3, 4, 5], seed: 41)
        checkGradients([y], "flattened 4-D") { $0[0].flattened() }
    }

    @Test("reshape, flatten values and shapes")
    func reshapeValues() {
        let x = Tensor.arange(0, 24, dtype: .float64).reshaped([2, 3, 4])
        #expect(x.reshaped([4, -1]).shape == [4, 6])
        #expect(x.reshaped([-1]).doubles == (0..<24).map(Double.init))
        #expect(x.flattened().shape == [2, 12])
        #expect(x.flattened(startAxis: 0).shape == [24])
        #expect(x.flattened(startAxis: -2).shape == [2, 12])
        #expect(x.unsqueezed(0).shape == [1, 2, 3, 4])
        #expect(x.unsqueezed(-1).shape == [2, 3, 4, 1])
        #expect(x.unsqueezed(3).squeezed(3).shape == [2, 3, 4])
    }

    @Test(
        "permute and transpose gradients",
        arguments: [[0, 1, 2], [2, 0, 1], [1, 2, 0], [2, 1, 0], [0, 2, 1], [-1, 0, 1]])
    func permuteGrad(_ order: [Int]) {
        let x = randomTensor([2, 3, 4], seed: 42)
        checkGradients([x], "permuted \(order)") { $0[0].permuted(order) }
    }

    @Test("permute and transpose values")
    func permuteValues() {
        let x = Tensor.arange(0, 24, dtype: .float64).reshaped([2, 3, 4])
        let p = x.permuted([2, 0, 1])
        #expect(p.shape == [4, 2, 3])
        let xv = x.doubles
        let pv = p.doubles
        for i in 0..<4 {
            for j in 0..<2 {
                for k in 0..<3 {
                    #expect(pv[(i * 2 + j) * 3 + k] == xv[(j * 3 + k) * 4 + i])
                }
            }
        }
        let m = Tensor([1.0, 2, 3, 4, 5, 6], shape: [2, 3])
        #expect(m.transposed().shape == [3, 2])
        #expect(m.transposed().doubles == [1, 4, 2, 5, 3, 6])
        let y = randomTensor([2, 3, 4, 5], seed: 43)
        checkGradients([y], "transposed()") { $0[0].transposed() }
        checkGradients([y], "transposed(0, 2)") { $0[0].transposed(0, 2) }
        #expect(y.transposed(1, 3).shape == [2, 5, 4, 3])
    }

    @Test(
        "slice gradients, with step",
        arguments: [
            (0, 0, nil, 1), (0, 1, 2, 1), (1, 1, nil, 2), (1, 0, 5, 3), (2, 2, 6, 2), (-1, 1, nil, 4), (2, 0, 100, 1),
            (1, 3, 3, 1),
        ] as [(Int, Int, Int?, Int)])
    func sliceGrad(_ s: (Int, Int, Int?, Int)) {
        let (axis, start, end, step) = s
        let x = randomTensor([2, 5, 7], seed: 44)
        let out = x.slice(axis: axis, start: start, end: end, step: step)
        if out.count == 0 {
            // An empty slice still records and gives a zero gradient.
            let leaf = x.copy().requiringGrad()
            let y = leaf.slice(axis: axis, start: start, end: end, step: step)
            #expect(y.shape[axis < 0 ? axis + 3 : axis] == 0)
            y.backward(y.zerosLike())
            #expect(leaf.grad?.doubles.allSatisfy { $0 == 0 } == true)
            return
        }
        checkGradients([x], "slice \(s)") { $0[0].slice(axis: axis, start: start, end: end, step: step) }
    }

    @Test("slice values")
    func sliceValues() {
        let x = Tensor.arange(0, 10, dtype: .float64)
        #expect(x.slice(axis: 0, start: 1, end: 8, step: 3).doubles == [1, 4, 7])
        #expect(x.slice(axis: 0, start: 0, step: 2).doubles == [0, 2, 4, 6, 8])
        #expect(x.slice(axis: 0, start: 7).doubles == [7, 8, 9])
        #expect(x.slice(axis: 0, start: 9, end: 10, step: 5).doubles == [9])
        let m = Tensor.arange(0, 12, dtype: .float64).reshaped([3, 4])
        #expect(m.slice(axis: 1, start: 1, end: 3).doubles == [1, 2, 5, 6, 9, 10])
        #expect(m.slice(axis: 0, start: 0, step: 2).doubles == [0, 1, 2, 3, 8, 9, 10, 11])
    }

    @Test("concatenate gradients", arguments: [0, 1, 2, -1])
    func concatenateGrad(_ axis: Int) {
        var shapes = [[2, 3, 4], [2, 3, 4], [2, 3, 4]]
        let a = axis < 0 ? axis + 3 : axis
        shapes[1][a] = 1
        shapes[2][a] = 2
        let xs = shapes.enumerated().map { randomTensor($1, seed: 45 + UInt64($0)) }
        checkGradients(xs, "concatenate axis \(axis)") { Tensor.concatenate($0, axis: axis) }
        checkGradients(xs, wrt: [1], "concatenate axis \(axis), only the middle input") {
            Tensor.concatenate($0, axis: axis)
        }
    }

    @Test("concatenate and stack values")
    func concatenateValues() {
        let a = Tensor([1.0, 2, 3, 4], shape: [2, 2])
        let b = Tensor([5.0, 6], shape: [2, 1])
        let c = Tensor.concatenate([a, b], axis: 1)
        #expect(c.shape == [2, 3])
        #expect(c.doubles == [1, 2, 5, 3, 4, 6])
        let d = Tensor.concatenate([a, a.slice(axis: 0, start: 1)], axis: 0)
        #expect(d.doubles == [1, 2, 3, 4, 3, 4])
        let s = Tensor.stack([Tensor([1.0, 2]), Tensor([3.0, 4])], axis: 1)
        #expect(s.shape == [2, 2])
        #expect(s.doubles == [1, 3, 2, 4])
        #expect(Tensor.stack([a, a, a]).shape == [3, 2, 2])
    }

    @Test("stack gradients", arguments: [0, 1, 2, -1])
    func stackGrad(_ axis: Int) {
        let xs = (0..<3).map { randomTensor([2, 3], seed: 50 + UInt64($0)) }
        checkGradients(xs, "stack axis \(axis)") { Tensor.stack($0, axis: axis) }
    }

    @Test("padded gradients, asymmetric and with a fill value")
    func paddedGrad() {
        let x = randomTensor([2, 3, 4], seed: 55)
        checkGradients([x], "pad last two") { $0[0].padded([(1, 2), (0, 3)]) }
        checkGradients([x], "pad all three") { $0[0].padded([(2, 0), (1, 1), (3, 1)], value: -1.5) }
        checkGradients([x], "pad last only") { $0[0].padded([(0, 2)], value: 7) }
        checkGradients([x], "no padding") { $0[0].padded([(0, 0)]) }
    }

    @Test("padded values")
    func paddedValues() {
        let x = Tensor([1.0, 2, 3, 4], shape: [2, 2])
        let y = x.padded([(1, 0), (0, 2)], value: 9)
        #expect(y.shape == [3, 4])
        #expect(y.doubles == [9, 9, 9, 9, 1, 2, 9, 9, 3, 4, 9, 9])
        #expect(Tensor([1.0, 2]).padded([(2, 1)]).doubles == [0, 0, 1, 2, 0])
    }

    @Test("to(dtype) gradients convert back", arguments: [DType.float32, .float64])
    func toDtype(_ target: DType) {
        // Values and step that Float32 holds exactly, so the round trip through the
        // narrower type loses nothing and finite differences stay exact.
        let x = Tensor.fromFunction([3, 4], dtype: .float64) { Double($0 * 37 % 23 - 11) / 1024 }
        checkGradients([x], step: 1.0 / 64, "to(\(target))") { $0[0].to(target) }
        // Float32 leaf through Float64 ops: the gradient arrives in Float32.
        let leaf = Tensor([Float(1), -2, 0.5]).requiringGrad()
        let r = Tensor([0.25, -3, 1.5])
        (leaf.to(.float64) * r).sum().backward()
        #expect(leaf.grad?.dtype == .float32)
        #expect(leaf.grad?.floats == [0.25, -3, 1.5])
        // Values convert; a same-dtype conversion is the tensor itself.
        let t = Tensor([0.1, 2.5])
        #expect(t.to(.float32).dtype == .float32)
        #expect(t.to(.float32).floats == [Float(0.1), 2.5])
        #expect(t.to(.float64) === t)
    }
}
