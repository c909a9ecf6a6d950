// Max, average and adaptive-average pooling over NCHW planes; planes run in parallel.

struct MaxPoolKernel: ScalarKernel {
    let x: Tensor, p: Pool2dParameters
    func run<T: TensorScalar>(_: T.Type) -> (output: Tensor, indices: Tensor) {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (oh, ow) = p.outputSize(h: h, w: w)
        let y = Tensor.empty([n, c, oh, ow], T.dtype)
        let indices = Tensor.empty([n, c, oh, ow], .int32)
        let xp = x.storage.typed(T.self)
        let yp = y.storage.typed(T.self)
        let ip = indices.storage.typed(Int32.self)
        parallelFor(n * c) { plane in
            let src = xp + plane * h * w
            let dst = yp + plane * oh * ow
            let idx = ip + plane * oh * ow
            for oy in 0..<oh {
                let y0 = Swift.max(oy * p.strideH - p.padH, 0)
                let y1 = Swift.min(oy * p.strideH - p.padH + p.kernelH, h)
                for ox in 0..<ow {
                    let x0 = Swift.max(ox * p.strideW - p.padW, 0)
                    let x1 = Swift.min(ox * p.strideW - p.padW + p.kernelW, w)
                    var best = -T.infinity
                    var bi = y0 * w + x0
                    for iy in y0..<Swift.max(y0, y1) {
                        for ix in x0..<Swift.max(x0, x1) {
                            let v = src[iy * w + ix]
                            if v > best || v.isNaN {
                                best = v
                                bi = iy * w + ix
                                if v.isNaN { break }
                            }
                        }
                    }
                    dst[oy * ow + ox] = best
                    idx[oy * ow + ox] = Int32(bi)
                }
            }
        }
        return (y, indices)
    }
}

struct MaxPoolBackwardKernel: ScalarKernel {
    let dy: Tensor, indices: Tensor, inputShape: [Int]
    func run<T: TensorScalar>(_: T.Type) -> Tensor {
        precondition(
            indices.dtype == .int32 && indices.count == dy.count,
            "maxPool2dBackward: indices \(indices.shape) \(indices.dtype), expected \(dy.shape) int32")
        let dx = Tensor.zeros(inputShape, dtype: T.dtype)
        let planes = inputShape[0] * inputShape[1]
        let hw = inputShape[2] * inputShape[3]
        let ohw = dy.shape[2] * dy.shape[3]
        let gp = dy.storage.typed(T.self)
        let dp = dx.storage.typed(T.self)
        let ip = indices.storage.typed(Int32.self)
        parallelFor(planes) { plane in
            for o in 0..<ohw { dp[plane * hw + Int(ip[plane * ohw + o])] += gp[plane * ohw + o] }
        }
        return dx
    }
}

/// Window bounds and divisor of one average-pooling output position (PyTorch's rules).
@inline(__always)
func avgWindow(_ o: Int, stride: Int, pad: Int, kernel: Int, size: Int) -> (start: Int, end: Int, padded: Int) {
    let start = o * stride - pad
    let endPadded = Swift.min(start + kernel, size + pad)
    return (Swift.max(start, 0), Swift.min(endPadded, size), endPadded - start)
}

struct AvgPoolKernel: ScalarKernel {
    let x: Tensor, p: Pool2dParameters, forward: Bool, inputShape: [Int]
    // forward: x is the input; backward: x is ∂L/∂y and the result is ∂L/∂x.
    func run<T: TensorScalar>(_: T.Type) -> Tensor {
        let (n, c, h, w) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let (oh, ow) = p.outputSize(h: h, w: w)
        let out = forward ? Tensor.empty([n, c, oh, ow], T.dtype) : Tensor.zeros(inputShape, dtype: T.dtype)
        let src = x.storage.typed(T.self)
        let dst = out.storage.typed(T.self)
        parallelFor(n * c) { plane in
            let inPlane = plane * h * w
            let outPlane = plane * oh * ow
            for oy in 0..<oh {
                let wy = avgWindow(oy, stride: p.strideH, pad: p.padH, kernel: p.kernelH, size: h)
                for ox in 0..<ow {
                    let wx = avgWindow(ox, stride: p.strideW, pad: p.padW, kernel: p.kernelW, size: w)
                    let inside = Swift.max(wy.end - wy.start, 0) * Swift.max(wx.end - wx.start, 0)
                    let divisor = T(p.countIncludePad ? wy.padded * wx.padded : inside)
                    if forward {
                        var s: T = 0
                        for iy in wy.start..<Swift.max(wy.start, wy.end) {
                            for ix in wx.start..<Swift.max(wx.start, wx.end) { s += src[inPlane + iy * w + ix] }
                        }
                        dst[outPlane + oy * ow + ox] = divisor > 0 ? s / divisor : 0
                    } else {
                        if divisor == 0 { continue }
                        let g = src[outPlane + oy * ow + ox] / divisor
                        for iy in wy.start..<Swift.max(wy.start, wy.end) {
                            for ix in wx.start..<Swift.max(wx.start, wx.end) { dst[inPlane + iy * w + ix] += g }
                        }
                    }
                }
            }
        }
        return out
    }
}

struct AdaptiveAvgPoolKernel: ScalarKernel {
    let x: Tensor, inputShape: [Int], outH: Int, outW: Int, forward: Bool
    func run<T: TensorScalar>(_: T.Type) -> Tensor {
        let (n, c, h, w) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let (oh, ow) = (outH, outW)
        let out = forward ? Tensor.empty([n, c, oh, ow], T.dtype) : Tensor.zeros(inputShape, dtype: T.dtype)
        let src = x.storage.typed(T.self)
        let dst = out.storage.typed(T.self)
        parallelFor(n * c) { plane in
            let inPlane = plane * h * w
            let outPlane = plane * oh * ow
            for oy in 0..<oh {
                // start = ⌊o·in/out⌋, end = ⌈(o+1)·in/out⌉
                let y0 = (oy * h) / oh
                let y1 = ((oy + 1) * h + oh - 1) / oh
                for ox in 0..<ow {
                    let x0 = (ox * w) / ow
                    let x1 = ((ox + 1) * w + ow - 1) / ow
                    let divisor = T((y1 - y0) * (x1 - x0))
                    if forward {
                        var s: T = 0
                        for iy in y0..<y1 { for ix in x0..<x1 { s += src[inPlane + iy * w + ix] } }
                        dst[outPlane + oy * ow + ox] = s / divisor
                    } else {
                        let g = src[outPlane + oy * ow + ox] / divisor
                        for iy in y0..<y1 { for ix in x0..<x1 { dst[inPlane + iy * w + ix] += g } }
                    }
                }
            }
        }
        return out
    }
}
