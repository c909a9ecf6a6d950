import StrataTensor
import StrataTestSupport
import Testing

/// Gradient checks (Float64 central differences, see `checkGradients`) and forward values
/// of the elementwise ops in Ops/Elementwise.swift.
@Suite("Elementwise ops")
struct ElementwiseTests {
    /// Operand shape pairs covering every broadcasting path of the binary kernel:
    /// equal shapes, a one-element operand on either side, and general broadcasting
    /// (missing leading dimensions, size-1 dimensions on both sides).
    static let broadcastPairs: [([Int], [Int])] = [
        ([2, 3], [2, 3]),
        ([2, 3, 4], []),
        ([1], [3, 5]),
        ([2, 3, 4], [3, 1]),
        ([2, 1, 4], [3, 1]),
        ([1, 4], [3, 1]),
        ([3, 1, 5], [2, 1, 1, 5]),
    ]

    @Test("add, sub, mul, div with broadcasting", arguments: broadcastPairs)
    func binaryOpsBroadcast(_ shapes: ([Int], [Int])) {
        let a = randomTensor(shapes.0, seed: 1)
        // Divisors stay away from zero.
        let b = awayFromZeroTensor(shapes.1, seed: 2, margin: 0.5)
        checkGradients([a, b], "add \(shapes)") { $0[0] + $0[1] }
        checkGradients([a, b], "sub \(shapes)") { $0[0] - $0[1] }
        checkGradients([a, b], "mul \(shapes)") { $0[0] * $0[1] }
        checkGradients([a, b], "div \(shapes)") { $0[0] / $0[1] }
        // Swapped operands: the broadcast operand on the left.
        checkGradients([b, a], "add swapped \(shapes)") { $0[0] + $0[1] }
        checkGradients([b, a], "sub swapped \(shapes)") { $0[0] - $0[1] }
        let c = awayFromZeroTensor(shapes.0, seed: 3, margin: 0.5)
        checkGradients([b, c], "div swapped \(shapes)") { $0[0] / $0[1] }
    }

    @Test("binary backward when only one operand requires grad")
    func binaryOneSided() {
        let a = randomTensor([2, 3, 4], seed: 4)
        let b = awayFromZeroTensor([3, 1], seed: 5, margin: 0.5)
        for side in [0, 1] {
            checkGradients([a, b], wrt: [side], "mul wrt \(side)") { $0[0] * $0[1] }
            checkGradients([a, b], wrt: [side], "div wrt \(side)") { $0[0] / $0[1] }
            checkGradients([a, b], wrt: [side], "sub wrt \(side)") { $0[0] - $0[1] }
        }
    }

    @Test("neg and scalar ops")
    func negAndScalars() {
        let a = awayFromZeroTensor([3, 5], seed: 6, margin: 0.5)
        checkGradients([a], "neg") { -$0[0] }
        checkGradients([a], "x + s") { $0[0] + 2.5 }
        checkGradients([a], "s + x") { 2.5 + $0[0] }
        checkGradients([a], "x - s") { $0[0] - 1.5 }
        checkGradients([a], "s - x") { 1.5 - $0[0] }
        checkGradients([a], "x * s") { $0[0] * -3 }
        checkGradients([a], "s * x") { 0.75 * $0[0] }
        checkGradients([a], "x / s") { $0[0] / 4 }
        checkGradients([a], "s / x") { 2 / $0[0] }
    }

    @Test(
        "maximum and minimum, with broadcasting",
        arguments: [([3, 4], [3, 4]), ([2, 3, 4], [3, 1]), ([4], [2, 3, 4])])
    func maximumMinimum(_ shapes: ([Int], [Int])) {
        // Both operands drawn from one set of distinct values: no ties within a step.
        let n0 = shapes.0.reduce(1, *)
        let n1 = shapes.1.reduce(1, *)
        let pool = distinctTensor([n0 + n1], seed: 7, spacing: 0.1).doubles
        let a = Tensor(Array(pool[..<n0]), shape: shapes.0)
        let b = Tensor(Array(pool[n0...]), shape: shapes.1)
        checkGradients([a, b], "maximum \(shapes)") { $0[0].maximum($0[1]) }
        checkGradients([a, b], "minimum \(shapes)") { $0[0].minimum($0[1]) }
    }

    @Test("maximum and minimum forward values and tie rule")
    func maximumMinimumValues() {
        let a = Tensor([1.0, 5, 3, -2])
        let b = Tensor([2.0, 4, 3, -3])
        #expect(a.maximum(b).doubles == [2, 5, 3, -2])
        #expect(a.minimum(b).doubles == [1, 4, 3, -3])
        // Ties: the gradient goes to self only.
        let x = Tensor([3.0]).requiringGrad()
        let y = Tensor([3.0]).requiringGrad()
        x.maximum(y).sum().backward()
        #expect(x.grad?.doubles == [1])
        #expect(y.grad?.doubles == [0])
    }

    @Test("unary maps")
    func unaryMaps() {
        let shape = [2, 3, 5]
        let x = randomTensor(shape, seed: 8)
        let positive = uniformTensor(shape, seed: 9, low: 0.5, high: 3)
        let nonzero = awayFromZeroTensor(shape, seed: 10, margin: 0.1)
        checkGradients([x], "exp") { $0[0].exp() }
        checkGradients([positive], "log") { $0[0].log() }
        checkGradients([positive], "sqrt") { $0[0].sqrt() }
        checkGradients([nonzero], "abs") { $0[0].abs() }
        checkGradients([x], "squared") { $0[0].squared() }
        checkGradients([x * 3], "sigmoid") { $0[0].sigmoid() }
        checkGradients([x * 2], "tanh") { $0[0].tanh() }
        checkGradients([positive], "pow 2.5") { $0[0].pow(2.5) }
        checkGradients([positive], "pow -1.5") { $0[0].pow(-1.5) }
        checkGradients([x], "pow 3 (negative bases)") { $0[0].pow(3) }
        checkGradients([nonzero], "relu") { $0[0].relu() }
    }

    @Test("unary forward values")
    func unaryValues() {
        let x = Tensor([-2.0, -0.5, 0, 0.5, 4])
        let v = x.doubles
        expectClose(x.exp().doubles, v.map { Double.exp($0) }, tolerance: 1e-15, "exp")
        expectClose(x.abs().doubles, v.map { Swift.abs($0) }, tolerance: 0, "abs")
        expectClose(x.relu().doubles, [0, 0, 0, 0.5, 4], tolerance: 0, "relu")
        expectClose(x.squared().doubles, v.map { $0 * $0 }, tolerance: 0, "squared")
        expectClose(x.sigmoid().doubles, v.map { 1 / (1 + Double.exp(-$0)) }, tolerance: 1e-15, "sigmoid")
        expectClose(x.tanh().doubles, v.map { Double.tanh($0) }, tolerance: 1e-15, "tanh")
        let p = Tensor([0.25, 1, 4, 9])
        expectClose(p.sqrt().doubles, [0.5, 1, 2, 3], tolerance: 0, "sqrt")
        expectClose(p.log().doubles, p.doubles.map { Double.log($0) }, tolerance: 1e-15, "log")
        expectClose(p.pow(1.5).doubles, [0.125, 1, 8, 27], tolerance: 1e-14, "pow")
        expectClose((-x).doubles, v.map { -$0 }, tolerance: 0, "neg")
        expectClose((1 - x).doubles, v.map { 1 - $0 }, tolerance: 0, "s - x")
        expectClose((2 / p).doubles, [8, 2, 0.5, 2.0 / 9], tolerance: 1e-15, "s / x")
    }

    @Test("broadcast forward values")
    func broadcastValues() {
        let a = Tensor([1.0, 2, 3, 4, 5, 6], shape: [2, 3])
        let col = Tensor([10.0, 20], shape: [2, 1])
        let row = Tensor([100.0, 200, 300], shape: [3])
        #expect((a + col).doubles == [11, 12, 13, 24, 25, 26])
        #expect((a + row).doubles == [101, 202, 303, 104, 205, 306])
        #expect((col * row).shape == [2, 3])
        #expect((col * row).doubles == [1000, 2000, 3000, 2000, 4000, 6000])
        #expect((a - Tensor(scalar: 1, dtype: .float64)).doubles == [0, 1, 2, 3, 4, 5])
        #expect(a.expanded(to: [2, 2, 3]).doubles == [1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6])
    }

    @Test("expanded and sumTo")
    func expandAndSumTo() {
        let x = randomTensor([3, 1], seed: 11)
        checkGradients([x], "expanded") { $0[0].expanded(to: [2, 3, 4]) }
        let g = randomTensor([2, 3, 4], seed: 12)
        checkGradients([g], "sumTo [3, 1]") { $0[0].sumTo([3, 1]) }
        checkGradients([g], "sumTo [4]") { $0[0].sumTo([4]) }
        let s = Tensor([1.0, 2, 3, 4, 5, 6], shape: [2, 3]).sumTo([1, 3])
        #expect(s.shape == [1, 3])
        #expect(s.doubles == [5, 7, 9])
    }

    @Test("Float32 ops compute in Float32")
    func float32() {
        let a = Tensor([Float(1.5), 2.5, -3])
        let b = Tensor([Float(2), 4, 8])
        let y = (a * b + 1) / b
        #expect(y.dtype == .float32)
        #expect(y.floats == [Float(1.5 * 2 + 1) / 2, Float(2.5 * 4 + 1) / 4, Float(-3 * 8 + 1) / 8])
    }
}

@Suite struct ReLUNaNTests {
    /// As torch.relu: NaN passes through (so a NaN is not silently hidden), negatives become 0.
    @Test func nanPropagates() {
        let y = Tensor([Float.nan, -1, 2, 0], shape: [4]).relu().floats
        #expect(y[0].isNaN)
        #expect(Array(y[1...]) == [0, 2, 0])
    }
}
