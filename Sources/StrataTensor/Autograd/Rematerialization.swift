// Rebuilding cheap activations in the backward instead of keeping them from the forward.
//
// In conv → batch norm → ReLU → conv, the second convolution's backward needs its input
// r = relu(bn(c)), and the ReLU's backward needs to know where r > 0. Batch norm keeps c and
// its per-channel statistics for its own backward anyway, and r = relu(γ·(c − μ)·invStd + β)
// is one memory-bound pass over c. So batch norm's output and the ReLU's output carry a recipe
// (a ``Rematerialization``) instead of being kept: both are freed as soon as the forward no longer
// needs them and are rebuilt, once, when the backward reaches them. That is one activation
// tensor less per conv-BN-ReLU unit (ResNet-50 training at batch 32: about 450 MiB less;
// DenseNet's concatenated inputs are no longer kept a second time as BN-ReLU outputs), for one
// extra pass per unit in the backward. ``Rematerialization/$isEnabled`` (or the environment
// variable STRATA_REMATERIALIZE=0) turns it off.

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How to rebuild a tensor an op's backward needs, from values the graph keeps anyway.
public final class Rematerialization: @unchecked Sendable {
    /// Whether ops attach recipes to their outputs (default: ``StrataConfiguration/rematerialize``,
    /// on unless STRATA_REMATERIALIZE=0). Off, every saved tensor is kept.
    @TaskLocal public static var isEnabled: Bool = StrataConfiguration.current.rematerialize

    private let rebuild: () -> Tensor
    private let keepsValue: Bool
    private var value: Tensor?

    /// - Parameters:
    ///   - keepsValue: keep the rebuilt tensor for later callers (while this recipe lives: the
    ///     backward closures that hold it release it once they have run).
    ///   - rebuild: recomputes the tensor; runs without recording gradients.
    init(keepsValue: Bool, _ rebuild: @escaping () -> Tensor) {
        self.keepsValue = keepsValue
        self.rebuild = rebuild
    }

    /// The tensor, rebuilt on first use.
    func tensor() -> Tensor {
        if let value { return value }
        let v = withNoGrad { rebuild() }
        if keepsValue { value = v }
        return v
    }
}

/// A tensor an op's backward needs: the tensor itself, or the recipe that rebuilds it when it has one.
struct SavedTensor {
    private let kept: Tensor?
    private let recipe: Rematerialization?

    init(_ t: Tensor) {
        if let r = t.rematerialization {
            (kept, recipe) = (nil, r)
        } else {
            (kept, recipe) = (t.detached(), nil)
        }
    }

    /// The saved values (rebuilt now if they were not kept).
    var tensor: Tensor { kept ?? recipe!.tensor() }
}
