/// Walks an output of shape `outShape` whose operands are read through broadcast strides
/// (stride 0 along broadcast dimensions). `body` gets one innermost row at a time:
/// (output offset, offsets into each operand, row length, each operand's inner stride).
func forEachBroadcastRow(
    outShape: [Int], operandStrides: [[Int]],
    _ body: (_ out: Int, _ offsets: [Int], _ n: Int, _ innerStrides: [Int]) -> Void
) {
    let rank = outShape.count
    if rank == 0 {
        body(0, operandStrides.map { _ in 0 }, 1, operandStrides.map { _ in 0 })
        return
    }
    let inner = outShape[rank - 1]
    let innerStrides = operandStrides.map { $0[rank - 1] }
    let rows = elementCount(Array(outShape[..<(rank - 1)]))
    if inner == 0 || rows == 0 { return }
    var index = [Int](repeating: 0, count: rank - 1)
    var offsets = [Int](repeating: 0, count: operandStrides.count)
    for row in 0..<rows {
        body(row * inner, offsets, inner, innerStrides)
        // Advance the multi-index over the outer dimensions.
        var d = rank - 2
        while d >= 0 {
            index[d] += 1
            for o in 0..<offsets.count { offsets[o] += operandStrides[o][d] }
            if index[d] < outShape[d] { break }
            for o in 0..<offsets.count { offsets[o] -= operandStrides[o][d] * outShape[d] }
            index[d] = 0
            d -= 1
        }
    }
}

/// Strides for reading a tensor of `shape` as if broadcast to `outShape`.
func broadcastStrides(_ shape: [Int], to outShape: [Int]) -> [Int] {
    let pad = outShape.count - shape.count
    let s = contiguousStrides(shape)
    return (0..<outShape.count).map { i in
        i < pad ? 0 : (shape[i - pad] == 1 && outShape[i] != 1 ? 0 : s[i - pad])
    }
}
