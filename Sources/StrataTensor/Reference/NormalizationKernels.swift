// Batch normalization (per channel over N, H, W) and local response normalization
// (across channels), forward and backward.

struct BatchNormStatsKernel: ScalarKernel {
    let x: Tensor, eps: Double
    func run<T: TensorScalar>(_: T.Type) -> BatchNormSaved {
        let (n, c) = (x.shape[0], x.shape[1])
        let hw = x.count / Swift.max(n * c, 1)
        let mean = Tensor.empty([c], T.dtype)
        let invStd = Tensor.empty([c], T.dtype)
        let xp = x.storage.typed(T.self)
        let mp = mean.storage.typed(T.self)
        let sp = invStd.storage.typed(T.self)
        let count = Double(n * hw)
        parallelFor(c) { ch in
            // Two passes in Double: the mean, then the centered sum of squares.
            var s = 0.0
            for b in 0..<n {
                let p = xp + (b * c + ch) * hw
                for i in 0..<hw { s += Double(p[i]) }
            }
            let m = s / count
            var v = 0.0
            for b in 0..<n {
                let p = xp + (b * c + ch) * hw
                for i in 0..<hw {
                    let d = Double(p[i]) - m
                    v += d * d
                }
            }
            mp[ch] = T(m)
            sp[ch] = T(1 / (v / count + eps).squareRoot())
        }
        return BatchNormSaved(mean: mean, invStd: invStd)
    }
}

struct BatchNormApplyKernel: ScalarKernel {
    let x: Tensor, saved: BatchNormSaved, weight: Tensor?, bias: Tensor?
    func run<T: TensorScalar>(_: T.Type) -> Tensor {
        let (n, c) = (x.shape[0], x.shape[1])
        let hw = x.count / Swift.max(n * c, 1)
        let y = Tensor.empty(x.shape, T.dtype)
        let xp = x.storage.typed(T.self)
        let yp = y.storage.typed(T.self)
        let mp = saved.mean.storage.typed(T.self)
        let sp = saved.invStd.storage.typed(T.self)
        let wp = weight?.storage.typed(T.self)
        let bp = bias?.storage.typed(T.self)
        parallelFor(c) { ch in
            let scale = sp[ch] * (wp?[ch] ?? 1)
            let shift = (bp?[ch] ?? 0) - mp[ch] * scale
            for b in 0..<n {
                let off = (b * c + ch) * hw
                for i in 0..<hw { yp[off + i] = xp[off + i] * scale + shift }
            }
        }
        return y
    }
}

struct BatchNormBackwardKernel: ScalarKernel {
    let dy: Tensor, x: Tensor, saved: BatchNormSaved, weight: Tensor?, training: Bool
    // x̂ = (x − μ)·s, y = γ·x̂ + β, with s = 1/√(σ² + ε).
    // Eval (μ, s constant):   ∂x = γ·s·∂y.
    // Training (μ, σ² of the batch, M = N·H·W elements per channel):
    //   ∂x = γ·s·(∂y − mean(∂y) − x̂·mean(∂y·x̂))
    //   ∂γ = Σ ∂y·x̂,  ∂β = Σ ∂y
    func run<T: TensorScalar>(_: T.Type) -> (input: Tensor, weight: Tensor, bias: Tensor) {
        let (n, c) = (x.shape[0], x.shape[1])
        let hw = x.count / Swift.max(n * c, 1)
        let dx = Tensor.empty(x.shape, T.dtype)
        let dw = Tensor.empty([c], T.dtype)
        let db = Tensor.empty([c], T.dtype)
        let xp = x.storage.typed(T.self)
        let gp = dy.storage.typed(T.self)
        let dxp = dx.storage.typed(T.self)
        let mp = saved.mean.storage.typed(T.self)
        let sp = saved.invStd.storage.typed(T.self)
        let wp = weight?.storage.typed(T.self)
        let dwp = dw.storage.typed(T.self)
        let dbp = db.storage.typed(T.self)
        let m = Double(n * hw)
        let training = self.training
        parallelFor(c) { ch in
            let mu = Double(mp[ch])
            let s = Double(sp[ch])
            var sumG = 0.0
            var sumGX = 0.0
            for b in 0..<n {
                let off = (b * c + ch) * hw
                for i in 0..<hw {
                    let g = Double(gp[off + i])
                    sumG += g
                    sumGX += g * (Double(xp[off + i]) - mu) * s
                }
            }
            dbp[ch] = T(sumG)
            dwp[ch] = T(sumGX)
            let gamma = Double(wp?[ch] ?? 1)
            let k = gamma * s
            let meanG = training ? sumG / m : 0
            let meanGX = training ? sumGX / m : 0
            for b in 0..<n {
                let off = (b * c + ch) * hw
                for i in 0..<hw {
                    let xhat = (Double(xp[off + i]) - mu) * s
                    dxp[off + i] = T(k * (Double(gp[off + i]) - meanG - xhat * meanGX))
                }
            }
        }
        return (dx, dw, db)
    }
}

struct LocalResponseNormKernel: ScalarKernel {
    let x: Tensor, dy: Tensor?, size: Int, alpha: Double, beta: Double, k: Double
    // scale_c = k + α/n · Σ_{c' ∈ [c − n/2, c + (n−1)/2]} x_{c'}²,  y_c = x_c · scale_c^(−β)
    // ∂x_j = ∂y_j·scale_j^(−β) − (2αβ/n)·x_j·Σ_{c : j ∈ window(c)} ∂y_c·x_c·scale_c^(−β−1)
    func run<T: TensorScalar>(_: T.Type) -> Tensor {
        let (n, c) = (x.shape[0], x.shape[1])
        let hw = x.count / Swift.max(n * c, 1)
        let out = Tensor.empty(x.shape, T.dtype)
        let xp = x.storage.typed(T.self)
        let op = out.storage.typed(T.self)
        let gp = dy?.storage.typed(T.self)
        let before = size / 2
        let after = (size - 1) / 2
        let a = alpha / Double(size)
        parallelFor(n) { b in
            let base = b * c * hw
            var scale = [Double](repeating: 0, count: c)
            var t = [Double](repeating: 0, count: c) // ∂y_c·x_c·scale_c^(−β−1) for the backward
            for i in 0..<hw {
                for ch in 0..<c {
                    var s = 0.0
                    for cc in Swift.max(0, ch - before)...Swift.min(c - 1, ch + after) {
                        let v = Double(xp[base + cc * hw + i])
                        s += v * v
                    }
                    scale[ch] = k + a * s
                }
                if let gp {
                    for ch in 0..<c {
                        t[ch] =
                            Double(gp[base + ch * hw + i]) * Double(xp[base + ch * hw + i])
                            * Double.pow(scale[ch], -beta - 1)
                    }
                    for j in 0..<c {
                        var s = 0.0
                        for cc in Swift.max(0, j - after)...Swift.min(c - 1, j + before) { s += t[cc] }
                        let xj = Double(xp[base + j * hw + i])
                        op[base + j * hw + i] = T(
                            Double(gp[base + j * hw + i]) * Double.pow(scale[j], -beta) - 2 * a * beta * xj * s)
                    }
                } else {
                    for ch in 0..<c {
                        op[base + ch * hw + i] = T(Double(xp[base + ch * hw + i]) * Double.pow(scale[ch], -beta))
                    }
                }
            }
        }
        return out
    }
}
