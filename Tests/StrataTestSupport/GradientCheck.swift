import StrataTensor
import Testing

/// What ``checkGradients(_:wrt:step:tolerance:seed:_:sourceLocation:_:)`` found for one input.
public struct GradientCheckResult: Sendable, CustomStringConvertible {
    /// Position of the input in the list passed to the checker.
    public var input: Int
    /// max_k |analytic_k − numeric_k|.
    public var maxAbsError: Double
    /// max_k |numeric_k|: the scale of the gradient.
    public var scale: Double
    /// maxAbsError / max(scale, 1e-3).
    public var relativeError: Double

    public var description: String {
        "input \(input): relative error \(relativeError) (max abs error \(maxAbsError), gradient scale \(scale))"
    }
}

/// Checks the backward of an op against central finite differences, in Float64.
///
/// The inputs are copied to fresh Float64 leaves; those selected by `wrt` (all by default)
/// require gradients, the others are constants (which exercises each backward's
/// "this input needs no gradient" branch). With `R` a fixed random tensor (standard normal,
/// from `seed`) shaped like the op's output, the scalar objective is
///
///     L(x₁, …, xₙ) = Σ f(x₁, …, xₙ) ⊙ R
///
/// so every output element enters L with its own weight and a gradient that is wrong for
/// one element, or permuted between elements, shows. The analytic gradient is ∂L/∂xᵢ from
/// `backward()`; the numeric one, for every element k of every checked input,
///
///     (L(x + h·eₖ) − L(x − h·eₖ)) / 2h,   h = `step`
///
/// with the forward rerun under `withNoGrad`. The reported error of each input is
///
///     relativeError = max_k |analytic_k − numeric_k| / max(max_k |numeric_k|, 1e-3)
///
/// and must be at most `tolerance` (1e-6 by default). Central differences in Float64 with
/// h = 1e-5 are accurate to about h²·|f'''| + 1e-16·|L|/h ≈ 1e-10, far inside that bound.
///
/// `f` is called once with gradient recording and then twice per input element, so it must
/// be deterministic: an op that draws random numbers creates its generator inside `f`.
/// Inputs must sit away from an op's kinks (see `awayFromZeroTensor`, `distinctTensor`).
/// Costs two forwards per input element: keep inputs to a few hundred elements.
@discardableResult
public func checkGradients(
    _ inputs: [Tensor], wrt: Set<Int>? = nil, step: Double = 1e-5, tolerance: Double = 1e-6,
    seed: UInt64 = 0x5EED, _ label: String = "",
    sourceLocation: SourceLocation = #_sourceLocation,
    _ f: ([Tensor]) -> Tensor
) -> [GradientCheckResult] {
    let checked = wrt ?? Set(inputs.indices)
    let xs = inputs.enumerated().map { i, t -> Tensor in
        let leaf = withNoGrad { t.to(.float64) }.copy()
        return leaf.requiringGrad(checked.contains(i))
    }

    // Analytic: L = Σ f(x) ⊙ R, backpropagated.
    let y = f(xs)
    guard y.requiresGrad else {
        Issue.record("\(label): the output does not require grad, nothing was recorded", sourceLocation: sourceLocation)
        return []
    }
    var rng = RandomGenerator(seed: seed)
    let r = Tensor.normal(y.shape, dtype: .float64, generator: &rng)
    let rValues = r.doubles
    let loss = (y.to(.float64) * r).sum()
    loss.backward()

    // Numeric: the same objective, computed in Double without the tape.
    func objective() -> Double {
        let values = withNoGrad { f(xs) }.doubles
        precondition(values.count == rValues.count, "checkGradients: the op's output changed size between calls")
        var s = 0.0
        for (v, w) in zip(values, rValues) { s += v * w }
        return s
    }

    var results: [GradientCheckResult] = []
    for i in checked.sorted() {
        let x = xs[i]
        guard let grad = x.grad else {
            Issue.record("\(label): input \(i) (shape \(x.shape)) got no gradient", sourceLocation: sourceLocation)
            continue
        }
        guard grad.shape == x.shape, grad.dtype == .float64 else {
            Issue.record(
                "\(label): input \(i) has gradient \(grad.shape) \(grad.dtype), expected \(x.shape) float64",
                sourceLocation: sourceLocation)
            continue
        }
        let analytic = grad.doubles
        var maxAbsError = 0.0
        var scale = 0.0
        x.withUnsafeMutableBuffer(as: Double.self) { p in
            for k in 0..<p.count {
                let v = p[k]
                p[k] = v + step
                let plus = objective()
                p[k] = v - step
                let minus = objective()
                p[k] = v
                let numeric = (plus - minus) / (2 * step)
                maxAbsError = Swift.max(maxAbsError, Swift.abs(analytic[k] - numeric))
                scale = Swift.max(scale, Swift.abs(numeric))
            }
        }
        let result = GradientCheckResult(
            input: i, maxAbsError: maxAbsError, scale: scale,
            relativeError: maxAbsError / Swift.max(scale, 1e-3))
        #expect(result.relativeError <= tolerance, "\(label): \(result)", sourceLocation: sourceLocation)
        results.append(result)
    }
    return results
}

/// Checks that an op's backward in Float32 agrees with its backward in Float64.
///
/// Runs `f` on the inputs converted to each dtype, backpropagates the same objective
/// L = Σ f(x) ⊙ R as ``checkGradients(_:wrt:step:tolerance:seed:_:sourceLocation:_:)`` and compares
/// every input's Float32 gradient with the Float64 one by ``scaledError(_:_:floor:)``.
/// Catches kernels whose single-precision path differs from the double one (the finite
/// difference check runs in Float64 only). Also checks that each gradient comes back in
/// the dtype of its input.
public func expectFloat32GradientsMatch(
    _ inputs: [Tensor], tolerance: Double = 1e-5, seed: UInt64 = 0x5EED,
    _ label: String = "", sourceLocation: SourceLocation = #_sourceLocation,
    _ f: ([Tensor]) -> Tensor
) {
    func gradients(_ dtype: DType) -> (output: Tensor, grads: [Tensor?]) {
        let xs = inputs.map { t in withNoGrad { t.to(dtype) }.copy().requiringGrad() }
        let y = f(xs)
        var rng = RandomGenerator(seed: seed)
        let r: Tensor = Tensor.normal(y.shape, dtype: dtype, generator: &rng)
        let loss: Tensor = (y * r).sum()
        loss.backward()
        return (y, xs.map { $0.grad })
    }
    let single = gradients(.float32)
    let double = gradients(.float64)
    #expect(
        single.output.dtype == .float32, "\(label): Float32 inputs gave a \(single.output.dtype) output",
        sourceLocation: sourceLocation)
    expectClose(single.output, double.output, tolerance: tolerance, "\(label) output", sourceLocation: sourceLocation)
    for (i, (g32, g64)) in zip(single.grads, double.grads).enumerated() {
        guard let g32, let g64 else {
            Issue.record("\(label): input \(i) got no gradient", sourceLocation: sourceLocation)
            continue
        }
        #expect(g32.dtype == .float32, "\(label): input \(i) gradient is \(g32.dtype)", sourceLocation: sourceLocation)
        expectClose(g32, g64, tolerance: tolerance, "\(label) gradient of input \(i)", sourceLocation: sourceLocation)
    }
}
