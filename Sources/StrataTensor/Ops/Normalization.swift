// Batch normalization (Ioffe & Szegedy 2015) and local response normalization
// (Krizhevsky et al. 2012), NCHW.

/// Batch normalization over (N, H, W) per channel, as `torch.nn.functional.batch_norm`.
///
/// In training mode the batch mean and *biased* variance normalize `x`, the backward
/// differentiates through both, and the running statistics (when given) are updated in
/// place: `running = (1 − momentum)·running + momentum·batch`, with the *unbiased*
/// variance, as PyTorch does. In eval mode the running statistics normalize `x`.
/// Saved for the backward: the input, the per-channel mean and 1/√(var + eps). The output carries
/// a recipe (``Rematerialization``) so that a following ReLU and convolution need not keep it.
public func batchNorm2d(_ x: Tensor, runningMean: Tensor?, runningVar: Tensor?,
                        weight: Tensor?, bias: Tensor?, training: Bool,
                        momentum: Double = 0.1, eps: Double = 1e-5) -> Tensor {
    shapeCheck(x.rank == 4 || x.rank == 2, "batchNorm2d", got: "input \(x.shape)", expected: "[N, C, H, W] (or [N, C])")
    let c = x.shape[1]
    for (name, t) in [("weight", weight), ("bias", bias), ("runningMean", runningMean), ("runningVar", runningVar)] {
        if let t { shapeCheck(t.shape == [c] && t.dtype == x.dtype, "batchNorm2d", got: "\(name) \(t.shape) \(t.dtype)", expected: "[\(c)] \(x.dtype)") }
    }
    let backend = Backends.current
    let saved: BatchNormSaved, y: Tensor
    let useBatchStats = training || runningMean == nil || runningVar == nil
    if useBatchStats {
        let perChannel = x.count / Swift.max(c, 1)
        shapeCheck(!training || perChannel > 1, "batchNorm2d", got: "input \(x.shape) in training mode",
                   expected: "more than one value per channel")
        (y, saved) = backend.batchNormTraining(x, eps: eps, weight: weight, bias: bias)
        if training, let runningMean, let runningVar {
            withNoGrad {
                let variance = 1 / (saved.invStd * saved.invStd) - eps
                let unbiased = variance * (Double(perChannel) / Double(Swift.max(perChannel - 1, 1)))
                runningMean.assign(runningMean * (1 - momentum) + saved.mean * momentum)
                runningVar.assign(runningVar * (1 - momentum) + unbiased * momentum)
            }
        }
    } else {
        saved = BatchNormSaved(mean: runningMean!.detached(), invStd: withNoGrad { 1 / (runningVar! + eps).sqrt() })
        y = backend.batchNormApply(x, saved: saved, weight: weight, bias: bias)
    }
    let inputs = [x] + (weight.map { [$0] } ?? []) + (bias.map { [$0] } ?? [])
    let out = Tensor.record("batchNorm2d", y, inputs: inputs) { g in
        let grads = Backends.current.batchNormBackward(g, input: x, saved: saved, weight: weight, trainingStatistics: useBatchStats)
        var out: [Tensor?] = [x.requiresGrad ? grads.input : nil]
        if let weight { out.append(weight.requiresGrad ? grads.weight : nil) }
        if let bias { out.append(bias.requiresGrad ? grads.bias : nil) }
        return out
    }
    // The output is x (kept for the backward above) normalized with the saved statistics: a
    // following ReLU and convolution rebuild it rather than keep it (see Rematerialization).
    if out.gradFn != nil && Rematerialization.isEnabled {
        let (weightVersion, biasVersion) = (weight?.storage.version, bias?.storage.version)
        out.rematerialization = Rematerialization(keepsValue: false) {
            precondition(weight?.storage.version == weightVersion && bias?.storage.version == biasVersion,
                         "batchNorm2d: weight or bias changed between the forward and the backward")
            return Backends.current.batchNormApply(x, saved: saved, weight: weight, bias: bias)
        }
    }
    return out
}

/// Local response normalization across channels, as `torch.nn.functional.local_response_norm`:
/// y_c = x_c / (k + α/n · Σ x_{c'}²)^β over the `size` channels centred on c.
/// Saved for the backward: the input.
public func localResponseNorm(_ x: Tensor, size: Int, alpha: Double = 1e-4, beta: Double = 0.75, k: Double = 1) -> Tensor {
    shapeCheck(x.rank == 4 && size > 0, "localResponseNorm", got: "input \(x.shape), size \(size)", expected: "[N, C, H, W] and size > 0")
    let y = Backends.current.localResponseNorm(x, size: size, alpha: alpha, beta: beta, k: k)
    return Tensor.record("localResponseNorm", y, inputs: [x]) { g in
        [Backends.current.localResponseNormBackward(g, input: x, size: size, alpha: alpha, beta: beta, k: k)]
    }
}
