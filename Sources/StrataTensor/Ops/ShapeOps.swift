// Shape manipulation: reshape, permute, slice, concatenate, stack, pad.
// All results are contiguous copies (reshape shares storage), made by the backend's
// gatherStrided, scatterStrided, concatenate and split.

extension Tensor {
    /// The same elements viewed with a new shape; one dimension may be -1 (inferred).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var target = newShape
        if let i = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != i }.reduce(1) { $0 * $1.element }
            shapeCheck(
                known > 0 && count % known == 0, "reshape", got: "\(shape)",
                expected: "a shape compatible with \(newShape)")
            target[i] = count / known
        }
        shapeCheck(
            elementCount(target) == count, "reshape", got: "\(shape) (\(count) elements)", expected: "\(newShape)")
        if target == shape { return self }
        let out = viewed(as: target)
        let source = shape
        return record("reshape", out, inputs: [self]) { g in [g.reshaped(source)] }
    }

    /// Flattens dimensions `startAxis...` into one: [N, C, H, W] → [N, C·H·W].
    public func flattened(startAxis: Int = 1) -> Tensor {
        let a = normalizeAxis(startAxis, rank: rank, op: "flatten")
        return reshaped(Array(shape[..<a]) + [elementCount(Array(shape[a...]))])
    }

    /// Inserts a dimension of size 1 at `axis`.
    public func unsqueezed(_ axis: Int) -> Tensor {
        let a = normalizeAxis(axis, rank: rank + 1, op: "unsqueeze")
        var s = shape
        s.insert(1, at: a)
        return reshaped(s)
    }

    /// Removes a dimension of size 1 at `axis`.
    public func squeezed(_ axis: Int) -> Tensor {
        let a = normalizeAxis(axis, rank: rank, op: "squeeze")
        shapeCheck(shape[a] == 1, "squeeze", got: "size \(shape[a]) at axis \(axis)", expected: "1")
        var s = shape
        s.remove(at: a)
        return reshaped(s)
    }

    /// Reorders dimensions: output dimension i is input dimension `order[i]`.
    public func permuted(_ order: [Int]) -> Tensor {
        let ord = order.map { normalizeAxis($0, rank: rank, op: "permute") }
        shapeCheck(
            Set(ord).count == rank && ord.count == rank, "permute", got: "order \(order)",
            expected: "a permutation of 0..<\(rank)")
        let outShape = ord.map { shape[$0] }
        let inStrides = strides
        let out = Backends.current.gatherStrided(self, offset: 0, strides: ord.map { inStrides[$0] }, shape: outShape)
        var inverse = [Int](repeating: 0, count: rank)
        for (i, o) in ord.enumerated() { inverse[o] = i }
        return record("permute", out, inputs: [self]) { g in [g.permuted(inverse)] }
    }

    /// Swaps two dimensions (the last two by default).
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        var ord = Array(0..<rank)
        ord.swapAt(normalizeAxis(a, rank: rank, op: "transpose"), normalizeAxis(b, rank: rank, op: "transpose"))
        return permuted(ord)
    }

    /// Elements `start..<end` with `step` along `axis` (like `x[..., start:end:step, ...]`).
    public func slice(axis: Int, start: Int, end: Int? = nil, step: Int = 1) -> Tensor {
        let a = normalizeAxis(axis, rank: rank, op: "slice")
        let e = Swift.min(end ?? shape[a], shape[a])
        shapeCheck(
            step > 0 && start >= 0 && start <= e, "slice",
            got: "start \(start) end \(e) step \(step) on axis of size \(shape[a])",
            expected: "0 <= start <= end, step > 0")
        var outShape = shape
        outShape[a] = (e - start + step - 1) / step
        var src = strides
        let offset = start * src[a]
        src[a] *= step
        let out = Backends.current.gatherStrided(self, offset: offset, strides: src, shape: outShape)
        let source = shape
        return record("slice", out, inputs: [self]) { g in
            [Backends.current.scatterStrided(g, into: source, offset: offset, strides: src, fill: 0)]
        }
    }

    /// Joins tensors along `axis`; all other dimensions must agree.
    public static func concatenate(_ tensors: [Tensor], axis: Int) -> Tensor {
        precondition(!tensors.isEmpty, "concatenate: no tensors")
        let first = tensors[0]
        let a = normalizeAxis(axis, rank: first.rank, op: "concatenate")
        for t in tensors {
            var s1 = t.shape
            var s0 = first.shape
            shapeCheck(
                t.rank == first.rank && t.dtype == first.dtype, "concatenate", got: "\(t.shape) \(t.dtype)",
                expected: "rank \(first.rank), \(first.dtype)")
            s1[a] = 0
            s0[a] = 0
            shapeCheck(
                s1 == s0, "concatenate", got: "shapes \(tensors.map(\.shape))",
                expected: "equal sizes except along axis \(a)")
        }
        let out = Backends.current.concatenate(tensors, axis: a)
        // Saved for the backward: only the sizes along the axis and which inputs need gradients,
        // not the inputs themselves (DenseNet concatenates every earlier feature map).
        let sizes = tensors.map { $0.shape[a] }
        let needed = tensors.map(\.requiresGrad)
        return record("concatenate", out, inputs: tensors) { g in
            let parts = Backends.current.split(g, axis: a, sizes: sizes)
            return zip(needed, parts).map { need, part in need ? part : nil }
        }
    }

    /// Stacks equally shaped tensors along a new axis.
    public static func stack(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
        precondition(!tensors.isEmpty, "stack: no tensors")
        let a = normalizeAxis(axis, rank: tensors[0].rank + 1, op: "stack")
        return concatenate(tensors.map { $0.unsqueezed(a) }, axis: a)
    }

    /// Zero-pads (or pads with `value`): `padding[i]` = (before, after) for dimension i.
    /// Fewer pairs than dimensions pad the last dimensions.
    public func padded(_ padding: [(before: Int, after: Int)], value: Double = 0) -> Tensor {
        shapeCheck(padding.count <= rank, "pad", got: "\(padding.count) pairs", expected: "at most \(rank)")
        let pads = Array(repeating: (before: 0, after: 0), count: rank - padding.count) + padding
        shapeCheck(
            pads.allSatisfy { $0.before >= 0 && $0.after >= 0 }, "pad", got: "\(pads)", expected: "non-negative padding"
        )
        let outShape = zip(shape, pads).map { $0 + $1.before + $1.after }
        let outStrides = contiguousStrides(outShape)
        let offset = zip(pads, outStrides).reduce(0) { $0 + $1.0.before * $1.1 }
        let out = Backends.current.scatterStrided(
            self, into: outShape, offset: offset, strides: outStrides,
            fill: value)
        let source = shape
        return record("pad", out, inputs: [self]) { g in
            [Backends.current.gatherStrided(g, offset: offset, strides: outStrides, shape: source)]
        }
    }
}
