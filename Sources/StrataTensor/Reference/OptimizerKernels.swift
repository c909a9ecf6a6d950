// The reference optimizer updates (the defaults of Backend.sgdUpdate and Backend.adamWUpdate):
// one pass over a parameter's elements on the host, through the host-access API, so that they
// also serve tensors a backend keeps off the host (copied in and back).

/// SGD with momentum, Nesterov momentum and weight decay, in place, as `torch.optim.SGD`
/// (dampening 0): d = g + λ·p; b = μ·b + d (b = d on the first step); d = d + μ·b (Nesterov) or b;
/// p −= lr·d. `momentumBuffer` is nil without momentum.
func referenceSGDUpdate(
    _ parameter: Tensor, gradient: Tensor, momentumBuffer: Tensor?, firstStep: Bool,
    learningRate: Double, momentum: Double, nesterov: Bool, weightDecay: Double
) {
    let kernel = SGDKernel(
        p: parameter, g: gradient, b: momentumBuffer, first: firstStep, lr: learningRate,
        wd: weightDecay, momentum: momentum, nesterov: nesterov)
    switch parameter.dtype {
    case .float32: kernel.run(Float.self)
    case .float64: kernel.run(Double.self)
    default: preconditionFailure("SGD: a \(parameter.dtype) parameter; optimizers update float32/float64 parameters")
    }
}

private struct SGDKernel {
    let p: Tensor, g: Tensor, b: Tensor?, first: Bool, lr: Double, wd: Double, momentum: Double, nesterov: Bool

    func run<T: TensorScalar>(_: T.Type) {
        let gc = g.dtype == p.dtype ? g : withNoGrad { g.to(p.dtype) }
        let (lrT, wdT, muT) = (T(lr), T(wd), T(momentum))
        let nesterov = self.nesterov
        let useMomentum = momentum != 0
        let first = self.first
        let wd = self.wd
        func update(
            _ pp: UnsafeMutableBufferPointer<T>, _ gp: UnsafeBufferPointer<T>, _ bp: UnsafeMutableBufferPointer<T>?
        ) {
            for j in 0..<pp.count {
                var d = gp[j]
                if wd != 0 { d = d + wdT * pp[j] }
                if useMomentum, let bp {
                    let v = first ? d : muT * bp[j] + d
                    bp[j] = v
                    d = nesterov ? d + muT * v : v
                }
                pp[j] = pp[j] - lrT * d
            }
        }
        p.withMutableHostBuffer(as: T.self) { pp in
            gc.withHostBuffer(as: T.self) { gp in
                if let b {
                    b.withMutableHostBuffer(as: T.self) { bp in update(pp, gp, bp) }
                } else {
                    update(pp, gp, nil)
                }
            }
        }
    }
}

/// AdamW, in place, exactly PyTorch's `torch.optim.AdamW` (amsgrad off), for the parameter's
/// `step`-th update (counting from 1):
///   p ← p·(1 − lr·λ);  m ← lerp(m, g, 1 − β₁);  v ← β₂·v + (1 − β₂)·g²;
///   p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
func referenceAdamWUpdate(
    _ parameter: Tensor, gradient: Tensor, expAvg: Tensor, expAvgSq: Tensor, step: Int,
    learningRate: Double, beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double
) {
    let kernel = AdamWKernel(
        p: parameter, g: gradient, m: expAvg, v: expAvgSq, t: step, lr: learningRate,
        wd: weightDecay, beta1: beta1, beta2: beta2, epsilon: epsilon)
    switch parameter.dtype {
    case .float32: kernel.run(Float.self)
    case .float64: kernel.run(Double.self)
    default: preconditionFailure("Adam: a \(parameter.dtype) parameter; optimizers update float32/float64 parameters")
    }
}

private struct AdamWKernel {
    let p: Tensor, g: Tensor, m: Tensor, v: Tensor, t: Int, lr: Double, wd: Double
    let beta1: Double, beta2: Double, epsilon: Double

    func run<T: TensorScalar>(_: T.Type) {
        let gc = g.dtype == p.dtype ? g : withNoGrad { g.to(p.dtype) }
        // Scalars as PyTorch computes them (Python floats, i.e. Double), applied in T.
        let decay = T(1 - lr * wd)
        let w = T(1 - beta1)
        let oneMinusW = 1 - w
        let b2 = T(beta2)
        let oneMinusB2 = T(1 - beta2)
        let biasCorrection1 = 1 - Double.pow(beta1, Double(t))
        let biasCorrection2 = 1 - Double.pow(beta2, Double(t))
        let stepSize = T(lr / biasCorrection1)
        let bc2Sqrt = T(biasCorrection2.squareRoot())
        let eps = T(epsilon)
        let lerpLow = w < 0.5
        let wd = self.wd
        p.withMutableHostBuffer(as: T.self) { pp in
            gc.withHostBuffer(as: T.self) { gp in
                m.withMutableHostBuffer(as: T.self) { mp in
                    v.withMutableHostBuffer(as: T.self) { vp in
                        for j in 0..<pp.count {
                            let gj = gp[j]
                            var pj = pp[j]
                            if wd != 0 { pj = pj * decay }
                            // torch.lerp: start + w·(end − start) for w < 0.5, else end − (end − start)·(1 − w).
                            let mj = lerpLow ? mp[j] + w * (gj - mp[j]) : gj - (gj - mp[j]) * oneMinusW
                            let vj = vp[j] * b2 + gj * gj * oneMinusB2
                            mp[j] = mj
                            vp[j] = vj
                            let denom = T.sqrt(vj) / bc2Sqrt + eps
                            pj = pj - stepSize * (mj / denom)
                            pp[j] = pj
                        }
                    }
                }
            }
        }
    }
}
