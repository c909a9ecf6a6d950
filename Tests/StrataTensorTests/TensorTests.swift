import StrataTensor
import StrataTestSupport
import Testing

/// The tensor type itself (Core/): creation, element access, shapes and strides,
/// broadcasting rules, comparisons and printing.
@Suite("Tensor basics")
struct TensorTests {
    @Test("zeros, ones, full, in both dtypes", arguments: DType.computableCases)
    func constants(_ dtype: DType) {
        let z = Tensor.zeros([2, 3], dtype: dtype)
        #expect(z.shape == [2, 3] && z.dtype == dtype && z.count == 6 && z.rank == 2)
        #expect(z.doubles == [Double](repeating: 0, count: 6))
        #expect(Tensor.ones([4], dtype: dtype).doubles == [1, 1, 1, 1])
        #expect(Tensor.full([2, 2], 2.5, dtype: dtype).doubles == [2.5, 2.5, 2.5, 2.5])
        #expect(Tensor.zeros([], dtype: dtype).count == 1)
        #expect(Tensor.zeros([3, 0], dtype: dtype).count == 0)
        #expect(z.onesLike().doubles == [1, 1, 1, 1, 1, 1] && z.onesLike().dtype == dtype)
        #expect(Tensor.full([3], 7, dtype: dtype).zerosLike().doubles == [0, 0, 0])
        #expect(dtype.byteCount == (dtype == .float32 ? 4 : 8))
    }

    @Test("default dtype is float32")
    func defaults() {
        #expect(Tensor.zeros([1]).dtype == .float32)
        #expect(Tensor.arange(0, 3).dtype == .float32)
        #expect(Tensor(scalar: 1).dtype == .float32)
        #expect(Tensor([Float(1), 2]).dtype == .float32)
        #expect(Tensor([1.0, 2]).dtype == .float64)
    }

    @Test("arange")
    func arange() {
        #expect(Tensor.arange(0, 5, dtype: .float64).doubles == [0, 1, 2, 3, 4])
        #expect(Tensor.arange(2, 3, step: 0.25, dtype: .float64).doubles == [2, 2.25, 2.5, 2.75])
        #expect(Tensor.arange(5, 0, step: -2, dtype: .float64).doubles == [5, 3, 1])
        #expect(Tensor.arange(0, 1, step: 0.3, dtype: .float64).count == 4)
        #expect(Tensor.arange(3, 3).count == 0)
        #expect(Tensor.arange(3, 1).count == 0)
        #expect(Tensor.arange(0, 4).floats == [0, 1, 2, 3])
    }

    @Test("from arrays, scalars and functions")
    func fromArrays() {
        let t = Tensor([1.0, 2, 3, 4, 5, 6], shape: [2, 3])
        #expect(t.shape == [2, 3] && t.dtype == .float64)
        #expect(t.doubles == [1, 2, 3, 4, 5, 6])
        #expect(t.floats == [1, 2, 3, 4, 5, 6])
        #expect(t.scalars(as: Float.self) == [1, 2, 3, 4, 5, 6])
        let f = Tensor([Float(0.5), -1])
        #expect(f.shape == [2] && f.dtype == .float32 && f.floats == [0.5, -1])
        let s = Tensor(scalar: 3.25, dtype: .float64)
        #expect(s.shape == [] && s.rank == 0 && s.count == 1 && s.item() == 3.25)
        #expect(Tensor(scalar: 0.1).item() == Double(Float(0.1)))
        let g = Tensor.fromFunction([2, 2], dtype: .float64) { Double($0 * $0) }
        #expect(g.doubles == [0, 1, 4, 9])
        #expect(Tensor([Float](), shape: [0]).count == 0)
        #expect(Tensor([2.0], shape: [1, 1, 1]).item() == 2)
        let buffered = t.withUnsafeBuffer(as: Double.self) { Array($0) }
        #expect(buffered == t.doubles)
    }

    @Test("copy, assign and in-place writes")
    func copyAssign() {
        let a = Tensor([1.0, 2, 3])
        let b = a.copy()
        b.withUnsafeMutableBuffer(as: Double.self) { $0[0] = 10 }
        #expect(a.doubles == [1, 2, 3] && b.doubles == [10, 2, 3])
        a.assign(Tensor([4.0, 5, 6]))
        #expect(a.doubles == [4, 5, 6])
        a.assign(Tensor([Float(7), 8, 9])) // converts
        #expect(a.doubles == [7, 8, 9] && a.dtype == .float64)
        // Reshape shares storage; a detached tensor too.
        let r = a.reshaped([3, 1])
        #expect(r.storage === a.storage && a.detached().storage === a.storage)
    }

    @Test("strides are row-major")
    func strides() {
        #expect(Tensor.zeros([2, 3, 4]).strides == [12, 4, 1])
        #expect(Tensor.zeros([5]).strides == [1])
        #expect(Tensor.zeros([]).strides == [])
        #expect(Tensor.zeros([2, 1, 3]).strides == [3, 3, 1])
        #expect(contiguousStrides([4, 5, 6, 7]) == [210, 42, 7, 1])
        // Strides of a permuted tensor are those of its new (contiguous) shape.
        #expect(Tensor.zeros([2, 3, 4]).permuted([2, 0, 1]).strides == [6, 3, 1])
    }

    @Test("broadcast shapes follow NumPy's rules")
    func broadcasting() {
        #expect(broadcastShape([2, 3], [2, 3]) == [2, 3])
        #expect(broadcastShape([2, 3], [3]) == [2, 3])
        #expect(broadcastShape([2, 1], [1, 3]) == [2, 3])
        #expect(broadcastShape([4, 1, 5], [3, 1]) == [4, 3, 5])
        #expect(broadcastShape([], [2, 2]) == [2, 2])
        #expect(broadcastShape([1], []) == [1])
        #expect(broadcastShape([0, 3], [1, 3]) == [0, 3])
        #expect(broadcastShape([2, 3], [3, 2]) == nil)
        #expect(broadcastShape([2], [3]) == nil)
        #expect(broadcastShape([5, 2, 3], [4, 3]) == nil)
        #expect((Tensor.zeros([4, 1, 5]) + Tensor.zeros([3, 1])).shape == [4, 3, 5])
    }

    @Test("comparisons give 1 where true and 0 elsewhere")
    func comparisons() {
        let a = Tensor([1.0, 2, 3, 4])
        let b = Tensor([2.0, 2, 2, 5])
        #expect(a.eq(b).doubles == [0, 1, 0, 0])
        #expect(a.ne(b).doubles == [1, 0, 1, 1])
        #expect(a.lt(b).doubles == [1, 0, 0, 1])
        #expect(a.gt(b).doubles == [0, 0, 1, 0])
        #expect(a.le(b).doubles == [1, 1, 0, 1])
        #expect(a.ge(b).doubles == [0, 1, 1, 0])
        #expect(a.eq(3).doubles == [0, 0, 1, 0])
        #expect(a.lt(2.5).doubles == [1, 1, 0, 0])
        #expect(a.gt(2.5).doubles == [0, 0, 1, 1])
        // Broadcasting: a column against a row.
        let col = Tensor([1.0, 3], shape: [2, 1])
        let row = Tensor([0.0, 2, 4], shape: [3])
        #expect(col.gt(row).shape == [2, 3])
        #expect(col.gt(row).doubles == [1, 0, 0, 1, 1, 0])
        // Not differentiable: never recorded.
        let x = Tensor([1.0]).requiringGrad()
        #expect(!x.gt(0).requiresGrad)
    }

    @Test("description shows the values, the shape and the dtype")
    func description() {
        let t = Tensor([1.5, -2, 3.25, 4, 5, 6], shape: [2, 3])
        let d = t.description
        for part in ["1.5", "-2", "3.25", "4", "5", "6", "[2, 3]", "float64"] {
            #expect(d.contains(part), "\(d) lacks \(part)")
        }
        #expect(d.hasPrefix("Tensor("))
        #expect(Tensor(scalar: 0.5).description.contains("0.5"))
        #expect(Tensor(scalar: 0.5).description.contains("shape: []"))
        #expect(Tensor([1.0]).requiringGrad().description.contains("requiresGrad"))
        // Long dimensions are elided in the middle.
        let long = Tensor.arange(0, 100, dtype: .float64).description
        #expect(long.contains("...") && long.contains("99") && long.contains("[100]"))
        #expect(!long.contains("50"))
        #expect("\(Tensor([Float(0.125)]))".contains("0.125"))
    }

    @Test("shape errors describe op, input and expectation")
    func shapeError() {
        let e = ShapeError.mismatch(op: "conv2d", got: "[1, 2]", expected: "[N, C, H, W]")
        #expect(e.description == "conv2d: got [1, 2], expected [N, C, H, W]")
    }
}
