// Convolution as im2col + GEMM, one image (and group) at a time, images split across cores.
//
// For image n and group g, with R = (C/g)·kh·kw rows and P = OH·OW columns:
//   col[r, p]  = x[n, g·C/g + c, oh·sh − pt + i·dh, ow·sw − pl + j·dw]   (0 outside), r = (c, i, j)
//   forward:        y[n, g]  = W[g] (K/g × R) · col (R × P)
//   backward data:  dcol     = W[g]ᵀ · dy[n, g];  dx[n] += col2im(dcol)
//   backward weight: dW[g]  += dy[n, g] · colᵀ

struct ConvGeometry {
    let n: Int, c: Int, h: Int, w: Int
    let k: Int, kh: Int, kw: Int
    let oh: Int, ow: Int
    let p: Conv2dParameters
    var cg: Int { c / p.groups }
    var kg: Int { k / p.groups }
    var rows: Int { cg * kh * kw }
    var cols: Int { oh * ow }

    init(input: [Int], weight: [Int], _ p: Conv2dParameters) {
        (n, c, h, w) = (input[0], input[1], input[2], input[3])
        (k, kh, kw) = (weight[0], weight[2], weight[3])
        (oh, ow) = p.outputSize(h: h, w: w, kh: kh, kw: kw)
        self.p = p
    }

    /// Fills `col` (rows × cols) from channels [g·cg, (g+1)·cg) of one image `x` (C×H×W).
    func im2col<T: TensorScalar>(_ x: UnsafePointer<T>, group g: Int, into col: UnsafeMutablePointer<T>) {
        for c in 0..<cg {
            let plane = x + (g * cg + c) * h * w
            for i in 0..<kh {
                for j in 0..<kw {
                    let row = col + ((c * kh + i) * kw + j) * cols
                    for y in 0..<oh {
                        let iy = y * p.strideH - p.padTop + i * p.dilationH
                        let dst = row + y * ow
                        if iy < 0 || iy >= h {
                            for x in 0..<ow { dst[x] = 0 }
                            continue
                        }
                        let src = plane + iy * w
                        for x in 0..<ow {
                            let ix = x * p.strideW - p.padLeft + j * p.dilationW
                            dst[x] = (ix >= 0 && ix < w) ? src[ix] : 0
                        }
                    }
                }
            }
        }
    }

    /// Adds `col` back into channels of one image `dx` (the adjoint of ``im2col``).
    func col2im<T: TensorScalar>(_ col: UnsafePointer<T>, group g: Int, into dx: UnsafeMutablePointer<T>) {
        for c in 0..<cg {
            let plane = dx + (g * cg + c) * h * w
            for i in 0..<kh {
                for j in 0..<kw {
                    let row = col + ((c * kh + i) * kw + j) * cols
                    for y in 0..<oh {
                        let iy = y * p.strideH - p.padTop + i * p.dilationH
                        if iy < 0 || iy >= h { continue }
                        let dst = plane + iy * w
                        let src = row + y * ow
                        for x in 0..<ow {
                            let ix = x * p.strideW - p.padLeft + j * p.dilationW
                            if ix >= 0 && ix < w { dst[ix] += src[x] }
                        }
                    }
                }
            }
        }
    }
}

struct ConvForwardKernel: ScalarKernel {
    let x: Tensor, weight: Tensor, bias: Tensor?, geo: ConvGeometry
    func run<T: TensorScalar>(_: T.Type) -> Tensor {
        let g = geo
        let y = Tensor.empty([g.n, g.k, g.oh, g.ow], T.dtype)
        let xp = x.storage.typed(T.self)
        let wp = weight.storage.typed(T.self)
        let yp = y.storage.typed(T.self)
        let bp = bias?.storage.typed(T.self)
        let parallelImages = g.n > 1
        parallelFor(g.n, parallel: parallelImages) { n in
            let col = UnsafeMutablePointer<T>.allocate(capacity: Swift.max(g.rows * g.cols, 1))
            defer { col.deallocate() }
            for grp in 0..<g.p.groups {
                g.im2col(xp + n * g.c * g.h * g.w, group: grp, into: col)
                gemm(
                    transA: false, transB: false, m: g.kg, n: g.cols, k: g.rows,
                    a: wp + grp * g.kg * g.rows, lda: g.rows, b: col, ldb: g.cols,
                    c: yp + (n * g.k + grp * g.kg) * g.cols, ldc: g.cols, parallel: !parallelImages)
            }
            if let bp {
                for k in 0..<g.k {
                    let row = yp + (n * g.k + k) * g.cols
                    for i in 0..<g.cols { row[i] += bp[k] }
                }
            }
        }
        return y
    }
}

struct ConvBackwardDataKernel: ScalarKernel {
    let dy: Tensor, weight: Tensor, geo: ConvGeometry
    func run<T: TensorScalar>(_: T.Type) -> Tensor {
        let g = geo
        let dx = Tensor.zeros([g.n, g.c, g.h, g.w], dtype: T.dtype)
        let dyp = dy.storage.typed(T.self)
        let wp = weight.storage.typed(T.self)
        let dxp = dx.storage.typed(T.self)
        let parallelImages = g.n > 1
        parallelFor(g.n, parallel: parallelImages) { n in
            let col = UnsafeMutablePointer<T>.allocate(capacity: Swift.max(g.rows * g.cols, 1))
            defer { col.deallocate() }
            for grp in 0..<g.p.groups {
                gemm(
                    transA: true, transB: false, m: g.rows, n: g.cols, k: g.kg,
                    a: wp + grp * g.kg * g.rows, lda: g.rows,
                    b: dyp + (n * g.k + grp * g.kg) * g.cols, ldb: g.cols,
                    c: col, ldc: g.cols, parallel: !parallelImages)
                g.col2im(col, group: grp, into: dxp + n * g.c * g.h * g.w)
            }
        }
        return dx
    }
}

struct ConvBackwardWeightKernel: ScalarKernel {
    let dy: Tensor, x: Tensor, geo: ConvGeometry
    func run<T: TensorScalar>(_: T.Type) -> Tensor {
        let g = geo
        let wCount = g.k * g.rows
        let dw = Tensor.zeros([g.k, g.cg, g.kh, g.kw], dtype: T.dtype)
        let dyp = dy.storage.typed(T.self)
        let xp = x.storage.typed(T.self)
        let dwp = dw.storage.typed(T.self)
        // Each chunk of images accumulates a private dW; the partial sums are added in a fixed order.
        let chunks = Swift.min(g.n, referenceThreadCount)
        let partial = UnsafeMutablePointer<T>.allocate(capacity: Swift.max(chunks * wCount, 1))
        partial.initialize(repeating: 0, count: chunks * wCount)
        defer { partial.deallocate() }
        parallelFor(chunks, parallel: chunks > 1) { chunk in
            let col = UnsafeMutablePointer<T>.allocate(capacity: Swift.max(g.rows * g.cols, 1))
            defer { col.deallocate() }
            let mine = partial + chunk * wCount
            var n = chunk
            while n < g.n {
                for grp in 0..<g.p.groups {
                    g.im2col(xp + n * g.c * g.h * g.w, group: grp, into: col)
                    gemm(
                        transA: false, transB: true, m: g.kg, n: g.rows, k: g.cols,
                        a: dyp + (n * g.k + grp * g.kg) * g.cols, lda: g.cols, b: col, ldb: g.cols,
                        beta: 1, c: mine + grp * g.kg * g.rows, ldc: g.rows, parallel: chunks == 1)
                }
                n += chunks
            }
        }
        for chunk in 0..<chunks {
            let src = partial + chunk * wCount
            for i in 0..<wCount { dwp[i] += src[i] }
        }
        return dw
    }
}

/// Matrix product of 2-D tensors.
struct MatmulKernel: ScalarKernel {
    let a: Tensor, b: Tensor, transA: Bool, transB: Bool
    func run<T: TensorScalar>(_: T.Type) -> Tensor {
        let m = transA ? a.shape[1] : a.shape[0]
        let k = transA ? a.shape[0] : a.shape[1]
        let n = transB ? b.shape[0] : b.shape[1]
        let out = Tensor.empty([m, n], T.dtype)
        gemm(
            transA: transA, transB: transB, m: m, n: n, k: k,
            a: a.storage.typed(T.self), lda: a.shape[1], b: b.storage.typed(T.self), ldb: b.shape[1],
            c: out.storage.typed(T.self), ldc: n)
        return out
    }
}
