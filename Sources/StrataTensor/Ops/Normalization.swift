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
public func batchNorm2d(
    _ x: Tensor, runningMean: Tensor?, runningVar: Tensor?,
    weight: Tensor?, bias: Tensor?, training: Bool,
    momentum: Double = 0.1, eps: Double = 1e-5
) -> Tensor {
    batchNorm2d(
        x, runningMean: runningMean, runningVar: runningVar, weight: weight, bias: bias, training: training,
        momentum: momentum, eps: eps, across: nil)
}

/// Sums small Float64 tensors over the cooperating processes of data-parallel training, in place
/// (implemented over a process group by StrataParallel). Synchronized batch norm calls it in its
/// forward and backward; every process must make the same calls in the same order. It does not
/// return on failure: an implementation ends the job instead (a process left behind would wait forever).
public protocol CrossProcessSum: AnyObject {
    func sumAcrossProcesses(_ tensor: Tensor)
}

/// ``batchNorm2d(_:runningMean:runningVar:weight:bias:training:momentum:eps:)``; in training mode
/// with `across`, synchronized over processes, as PyTorch's `SyncBatchNorm`: the statistics are those
/// of the union of every process's batch (per-channel count, sum and sum of squares summed in Float64
/// in the forward), and the backward sums the two per-channel gradient sums (Σ∂y, Σ∂y·x̂) the same way,
/// so every process gets ∂x of the global batch. Weight and bias gradients stay this process's own
/// (data-parallel averaging combines them).
public func batchNorm2d(
    _ x: Tensor, runningMean: Tensor?, runningVar: Tensor?,
    weight: Tensor?, bias: Tensor?, training: Bool,
    momentum: Double = 0.1, eps: Double = 1e-5, across: (any CrossProcessSum)?
) -> Tensor {
    if training, let across {
        return synchronizedBatchNorm2d(
            x, runningMean: runningMean, runningVar: runningVar, weight: weight,
            bias: bias, momentum: momentum, eps: eps, across: across)
    }
    shapeCheck(x.rank == 4 || x.rank == 2, "batchNorm2d", got: "input \(x.shape)", expected: "[N, C, H, W] (or [N, C])")
    let c = x.shape[1]
    for (name, t) in [("weight", weight), ("bias", bias), ("runningMean", runningMean), ("runningVar", runningVar)] {
        if let t {
            shapeCheck(
                t.shape == [c] && t.dtype == x.dtype, "batchNorm2d", got: "\(name) \(t.shape) \(t.dtype)",
                expected: "[\(c)] \(x.dtype)")
        }
    }
    let backend = Backends.current
    let saved: BatchNormSaved
    let y: Tensor
    let useBatchStats = training || runningMean == nil || runningVar == nil
    if useBatchStats {
        let perChannel = x.count / Swift.max(c, 1)
        shapeCheck(
            !training || perChannel > 1, "batchNorm2d", got: "input \(x.shape) in training mode",
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
        let grads = Backends.current.batchNormBackward(
            g, input: x, saved: saved, weight: weight, trainingStatistics: useBatchStats)
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
            precondition(
                weight?.storage.version == weightVersion && bias?.storage.version == biasVersion,
                "batchNorm2d: weight or bias changed between the forward and the backward")
            return Backends.current.batchNormApply(x, saved: saved, weight: weight, bias: bias)
        }
    }
    return out
}

private func synchronizedBatchNorm2d(
    _ x: Tensor, runningMean: Tensor?, runningVar: Tensor?, weight: Tensor?, bias: Tensor?,
    momentum: Double, eps: Double, across: any CrossProcessSum
) -> Tensor {
    shapeCheck(x.rank == 4 || x.rank == 2, "batchNorm2d", got: "input \(x.shape)", expected: "[N, C, H, W] (or [N, C])")
    let c = x.shape[1]
    let backend = Backends.current
    let local = Double(x.count / Swift.max(c, 1))
    // This process's count, per-channel sums and sums of squares (from its mean and biased variance).
    let mine = backend.batchNormStatistics(x, eps: eps)
    let (m, s) = (mine.mean.doubles, mine.invStd.doubles)
    var values = [Double](repeating: 0, count: 2 * c + 1)
    values[2 * c] = local
    for ch in 0..<c {
        let variance = Swift.max(0, 1 / (s[ch] * s[ch]) - eps)
        values[ch] = m[ch] * local
        values[c + ch] = (variance + m[ch] * m[ch]) * local
    }
    let sums = Tensor(values, shape: [2 * c + 1])
    across.sumAcrossProcesses(sums)
    let total = sums.doubles
    let count = total[2 * c]
    shapeCheck(
        count > 1, "batchNorm2d", got: "input \(x.shape) in training mode", expected: "more than one value per channel")
    var mean = [Double](repeating: 0, count: c)
    var invStd = mean
    var unbiased = mean
    for ch in 0..<c {
        mean[ch] = total[ch] / count
        let variance = Swift.max(0, total[c + ch] / count - mean[ch] * mean[ch])
        invStd[ch] = 1 / (variance + eps).squareRoot()
        unbiased[ch] = variance * count / (count - 1)
    }
    let saved = BatchNormSaved(
        mean: Tensor(mean, shape: [c]).to(x.dtype), invStd: Tensor(invStd, shape: [c]).to(x.dtype))
    let y = backend.batchNormApply(x, saved: saved, weight: weight, bias: bias)
    if let runningMean, let runningVar {
        withNoGrad {
            runningMean.assign(runningMean * (1 - momentum) + Tensor(mean, shape: [c]).to(x.dtype) * momentum)
            runningVar.assign(runningVar * (1 - momentum) + Tensor(unbiased, shape: [c]).to(x.dtype) * momentum)
        }
    }
    let inputs = [x] + (weight.map { [$0] } ?? []) + (bias.map { [$0] } ?? [])
    return Tensor.record("batchNorm2d", y, inputs: inputs) { g in
        let backend = Backends.current
        // With fixed statistics: ∂x = γ·s·∂y, and this process's Σ∂y·x̂ (weight) and Σ∂y (bias).
        let grads = backend.batchNormBackward(g, input: x, saved: saved, weight: weight, trainingStatistics: false)
        var out: [Tensor?] = [nil]
        if let weight { out.append(weight.requiresGrad ? grads.weight : nil) }
        if let bias { out.append(bias.requiresGrad ? grads.bias : nil) }
        guard x.requiresGrad else { return out }
        // The terms through the global mean and variance: ∂x −= γ·s·(Σ∂y + x̂·Σ∂y·x̂)/M over all processes.
        let sumGX = grads.weight.doubles
        let sumG = grads.bias.doubles
        let reduced = Tensor(sumG + sumGX, shape: [2 * c])
        across.sumAcrossProcesses(reduced)
        let r = reduced.doubles
        let gamma = weight?.doubles ?? [Double](repeating: 1, count: c)
        var scale = [Double](repeating: 0, count: c)
        var shift = scale
        for ch in 0..<c {
            let k = gamma[ch] * invStd[ch] / count
            scale[ch] = -k * r[c + ch]
            shift[ch] = -k * r[ch]
        }
        // x̂·scale + shift, per channel, is batchNormApply with those as weight and bias.
        let correction = backend.batchNormApply(
            x, saved: saved, weight: Tensor(scale, shape: [c]).to(x.dtype),
            bias: Tensor(shift, shape: [c]).to(x.dtype))
        out[0] = grads.input + correction
        return out
    }
}

/// Local response normalization across channels, as `torch.nn.functional.local_response_norm`:
/// y_c = x_c / (k + α/n · Σ x_{c'}²)^β over the `size` channels centred on c.
/// Saved for the backward: the input.
public func localResponseNorm(_ x: Tensor, size: Int, alpha: Double = 1e-4, beta: Double = 0.75, k: Double = 1)
    -> Tensor
{
    shapeCheck(
        x.rank == 4 && size > 0, "localResponseNorm", got: "input \(x.shape), size \(size)",
        expected: "[N, C, H, W] and size > 0")
    let y = Backends.current.localResponseNorm(x, size: size, alpha: alpha, beta: beta, k: k)
    return Tensor.record("localResponseNorm", y, inputs: [x]) { g in
        [Backends.current.localResponseNormBackward(g, input: x, size: size, alpha: alpha, beta: beta, k: k)]
    }
}
