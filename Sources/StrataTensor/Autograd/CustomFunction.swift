extension Tensor {
    /// Records a differentiable operation defined outside StrataTensor, as PyTorch's
    /// `torch.autograd.Function`: `output` was computed from `inputs` by code autograd did not
    /// see (a collective across processes, say), and `backward` maps ∂L/∂output to ∂L/∂input for
    /// each input (nil for an input without gradient; each non-nil gradient has its input's shape).
    ///
    /// ```swift
    /// let y = withNoGrad { someOpaqueComputation(x) }
    /// return Tensor.recordCustom("myOp", output: y, inputs: [x]) { g in [g * 2] }
    /// ```
    ///
    /// When grad mode is off or no input requires gradients, `output` is returned unrecorded and
    /// `backward` is dropped. `backward` runs inside the backward pass with grad mode off, once;
    /// it must not throw (a failure there cannot be undone: end the process instead).
    /// - Precondition: `output` is not itself recorded (compute it under ``withNoGrad(_:)`` or from raw storage).
    public static func recordCustom(
        _ name: String, output: Tensor, inputs: [Tensor],
        backward: @escaping (Tensor) -> [Tensor?]
    ) -> Tensor {
        precondition(output.gradFn == nil, "recordCustom(\(name)): the output is already recorded by another op")
        return record(name, output, inputs: inputs, backward: backward)
    }
}
