import Dispatch

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Threads for the reference backend's parallel loops (``StrataConfiguration/threads``, else all cores).
var referenceThreadCount: Int { StrataConfiguration.current.threads ?? Platform.processorCount }

/// Runs `body(i)` for i in 0..<n, split across cores when `parallel` and n > 1.
func parallelFor(_ n: Int, parallel: Bool = true, _ body: (Int) -> Void) {
    if !parallel || n < 2 || referenceThreadCount < 2 {
        for i in 0..<n { body(i) }
        return
    }
    withoutActuallyEscaping(body) { body in
        DispatchQueue.concurrentPerform(iterations: n, execute: body)
    }
}

/// C ← α·op(A)·op(B) + β·C for row-major matrices; op(X) is X or Xᵀ.
/// A is m×k after op, B is k×n after op. Rows of C are split across cores when
/// the product is large enough to pay for it.
func gemm<T: TensorScalar>(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
    alpha: T = 1, a: UnsafePointer<T>, lda: Int,
    b: UnsafePointer<T>, ldb: Int,
    beta: T = 0, c: UnsafeMutablePointer<T>, ldc: Int,
    parallel: Bool = true
) {
    if m == 0 || n == 0 { return }
    let work = m * n * Swift.max(k, 1)
    let blocks = parallel && work > 1 << 16 ? Swift.min(m, referenceThreadCount * 4) : 1
    let rowsPerBlock = (m + blocks - 1) / blocks
    parallelFor(blocks, parallel: blocks > 1) { blk in
        let r0 = blk * rowsPerBlock
        let r1 = Swift.min(m, r0 + rowsPerBlock)
        if r0 >= r1 { return }
        for i in r0..<r1 {
            let ci = c + i * ldc
            if beta == 0 { for j in 0..<n { ci[j] = 0 } } else if beta != 1 { for j in 0..<n { ci[j] *= beta } }
        }
        if !transB {
            // i-p-j order: the inner loop streams a row of B and a row of C.
            for i in r0..<r1 {
                let ci = c + i * ldc
                for p in 0..<k {
                    let aip = alpha * (transA ? a[p * lda + i] : a[i * lda + p])
                    if aip == 0 { continue }
                    let bp = b + p * ldb
                    for j in 0..<n { ci[j] += aip * bp[j] }
                }
            }
        } else {
            // Bᵀ: each C element is a dot product of a row of op(A) with a row of B.
            for i in r0..<r1 {
                let ci = c + i * ldc
                if transA {
                    for p in 0..<k {
                        let aip = alpha * a[p * lda + i]
                        if aip == 0 { continue }
                        for j in 0..<n { ci[j] += aip * b[j * ldb + p] }
                    }
                } else {
                    let ai = a + i * lda
                    for j in 0..<n {
                        let bj = b + j * ldb
                        var s0: T = 0
                        var s1: T = 0
                        var s2: T = 0
                        var s3: T = 0
                        var p = 0
                        while p + 4 <= k {
                            s0 += ai[p] * bj[p]
                            s1 += ai[p + 1] * bj[p + 1]
                            s2 += ai[p + 2] * bj[p + 2]
                            s3 += ai[p + 3] * bj[p + 3]
                            p += 4
                        }
                        while p < k {
                            s0 += ai[p] * bj[p]
                            p += 1
                        }
                        ci[j] += alpha * ((s0 + s1) + (s2 + s3))
                    }
                }
            }
        }
    }
}
