/// Shape helpers. A shape is an `[Int]` in row-major order (NCHW for images).
public enum ShapeError: Error, CustomStringConvertible, Equatable {
    case mismatch(op: String, got: String, expected: String)

    public var description: String {
        switch self {
        case .mismatch(let op, let got, let expected): return "\(op): got \(got), expected \(expected)"
        }
    }
}

@inline(__always) func elementCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }

/// Row-major (contiguous) strides of a shape, in elements.
public func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var acc = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[i] = acc
        acc *= shape[i]
    }
    return strides
}

/// Traps with a message naming the op, what it received and what it expected.
/// Shapes passed to ops are programmer input; data read from files is validated
/// with thrown errors before it reaches an op.
@inline(__always)
func shapeCheck(
    _ condition: @autoclosure () -> Bool, _ op: String, got: @autoclosure () -> String,
    expected: @autoclosure () -> String
) {
    if !condition() {
        preconditionFailure(ShapeError.mismatch(op: op, got: got(), expected: expected()).description)
    }
}

func normalizeAxis(_ axis: Int, rank: Int, op: String) -> Int {
    let a = axis < 0 ? axis + rank : axis
    shapeCheck(a >= 0 && a < rank, op, got: "axis \(axis)", expected: "an axis in -\(rank)..<\(rank)")
    return a
}

/// The shape two shapes broadcast to (NumPy rules), or nil.
public func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
    let rank = max(a.count, b.count)
    var out = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
        let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
        let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
        if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
    }
    return out
}

/// Collapses `shape` around `axis` into (outer, n, inner).
@inline(__always)
func splitAround(_ shape: [Int], axis: Int) -> (outer: Int, n: Int, inner: Int) {
    (elementCount(Array(shape[..<axis])), shape[axis], elementCount(Array(shape[(axis + 1)...])))
}
