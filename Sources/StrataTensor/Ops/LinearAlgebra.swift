// Matrix products. The backward of C = A·B is ∂A = ∂C·Bᵀ and ∂B = Aᵀ·∂C.

extension Tensor {
    /// Matrix product of 2-D tensors [m, k]·[k, n] → [m, n].
    public func matmul(_ other: Tensor) -> Tensor {
        shapeCheck(
            rank == 2 && other.rank == 2 && shape[1] == other.shape[0] && dtype == other.dtype, "matmul",
            got: "\(shape) · \(other.shape)", expected: "[m, k] · [k, n] of one dtype")
        let a = self
        let b = other
        let out = Backends.current.matmul(a, b, transA: false, transB: false)
        return record("matmul", out, inputs: [a, b]) { g in
            let backend = Backends.current
            return [
                a.requiresGrad ? backend.matmul(g, b, transA: false, transB: true) : nil,
                b.requiresGrad ? backend.matmul(a, g, transA: true, transB: false) : nil,
            ]
        }
    }
}

/// Fully connected layer: y = x·Wᵀ + b, with x [N, in], weight [out, in], bias [out].
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) -> Tensor {
    shapeCheck(
        x.rank == 2 && weight.rank == 2 && x.shape[1] == weight.shape[1], "linear",
        got: "input \(x.shape), weight \(weight.shape)", expected: "input [N, in] and weight [out, in] with equal in")
    if let bias {
        shapeCheck(
            bias.shape == [weight.shape[0]], "linear", got: "bias \(bias.shape)", expected: "[\(weight.shape[0])]")
    }
    let backend = Backends.current
    var y = backend.matmul(x, weight, transA: false, transB: true)
    if let bias { y = withNoGrad { y + bias } }
    let inputs = [x, weight] + (bias.map { [$0] } ?? [])
    return Tensor.record("linear", y, inputs: inputs) { g in
        let b = Backends.current
        var grads: [Tensor?] = [
            x.requiresGrad ? b.matmul(g, weight, transA: false, transB: false) : nil,
            weight.requiresGrad ? b.matmul(g, x, transA: true, transB: false) : nil,
        ]
        if let bias { grads.append(bias.requiresGrad ? g.sum(axis: 0) : nil) }
        return grads
    }
}
