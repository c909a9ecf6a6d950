import StrataTensor
import StrataTestSupport
import Testing

/// conv2d (Ops/Convolution.swift, Reference/ConvolutionKernels.swift): gradients of x,
/// weight and bias against finite differences for every setting the op supports, and
/// forward values against a direct (non-im2col) evaluation. PyTorch values: FixtureTests.
@Suite("Convolution")
struct ConvolutionTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var input: [Int] // [N, C, H, W]
        var kernels: Int // K
        var kernel: (Int, Int)
        var p: Conv2dParameters
        var bias = true
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "3x3 pad 1", input: [2, 3, 5, 5], kernels: 4, kernel: (3, 3), p: .init(padding: 1)),
        Case(
            name: "3x3 stride 2 pad 1, odd 7x7, batch 1", input: [1, 2, 7, 7], kernels: 3, kernel: (3, 3),
            p: .init(stride: 2, padding: 1)),
        Case(
            name: "3x3 stride 2 no pad, 6x5 (last column unused)", input: [2, 2, 6, 5], kernels: 2, kernel: (3, 3),
            p: .init(stride: 2)),
        Case(
            name: "asymmetric pad t0 b2 l1 r0, 3x2 kernel, stride 2x1", input: [2, 2, 5, 6], kernels: 3, kernel: (3, 2),
            p: .init(stride: (2, 1), padding: (top: 0, bottom: 2, left: 1, right: 0))),
        Case(
            name: "asymmetric pad t2 b0 l0 r1, no bias", input: [1, 3, 4, 5], kernels: 2, kernel: (3, 3),
            p: .init(stride: (1, 1), padding: (top: 2, bottom: 0, left: 0, right: 1)), bias: false),
        Case(name: "groups 2", input: [2, 4, 5, 5], kernels: 6, kernel: (3, 3), p: .init(padding: 1, groups: 2)),
        Case(
            name: "groups 3 stride 2, odd size", input: [1, 6, 5, 5], kernels: 3, kernel: (3, 3),
            p: .init(stride: 2, padding: 1, groups: 3)),
        Case(name: "depthwise", input: [2, 3, 5, 5], kernels: 3, kernel: (3, 3), p: .init(padding: 1, groups: 3)),
        Case(
            name: "depthwise, channel multiplier 2, no bias, batch 1", input: [1, 2, 5, 5], kernels: 4, kernel: (3, 3),
            p: .init(padding: 1, groups: 2), bias: false),
        Case(
            name: "dilation 2 pad 2", input: [1, 2, 7, 7], kernels: 2, kernel: (3, 3), p: .init(padding: 2, dilation: 2)
        ),
        Case(name: "dilation 2 no pad", input: [2, 2, 7, 6], kernels: 2, kernel: (3, 3), p: .init(dilation: 2)),
        Case(
            name: "dilation 2x1 stride 1x2, groups 2, asymmetric pad", input: [2, 4, 6, 5], kernels: 2, kernel: (3, 2),
            p: .init(stride: (1, 2), padding: (top: 1, bottom: 2, left: 0, right: 1), dilation: (2, 1), groups: 2)),
        Case(name: "1x1 stride 2, batch 1", input: [1, 3, 5, 5], kernels: 4, kernel: (1, 1), p: .init(stride: 2)),
        Case(
            name: "5x5 stride 2 pad 2, no bias", input: [1, 2, 7, 7], kernels: 2, kernel: (5, 5),
            p: .init(stride: 2, padding: 2), bias: false),
        Case(name: "kernel as large as the input", input: [2, 2, 3, 3], kernels: 3, kernel: (3, 3), p: .init()),
        Case(
            name: "batch 3 (uneven split across cores)", input: [3, 2, 4, 4], kernels: 2, kernel: (3, 3),
            p: .init(padding: 1)),
    ]

    func tensors(_ c: Case, seed: UInt64) -> (x: Tensor, w: Tensor, b: Tensor) {
        let x = randomTensor(c.input, seed: seed)
        let w = randomTensor([c.kernels, c.input[1] / c.p.groups, c.kernel.0, c.kernel.1], seed: seed + 1, std: 0.5)
        let b = randomTensor([c.kernels], seed: seed + 2)
        return (x, w, b)
    }

    @Test("gradients of x, weight and bias", arguments: cases)
    func gradients(_ c: Case) {
        let (x, w, b) = tensors(c, seed: 60)
        if c.bias {
            checkGradients([x, w, b], c.name) { conv2d($0[0], weight: $0[1], bias: $0[2], c.p) }
            checkGradients([x, w, b], wrt: [0], c.name + ", x only") { conv2d($0[0], weight: $0[1], bias: $0[2], c.p) }
            checkGradients([x, w, b], wrt: [1, 2], c.name + ", parameters only") {
                conv2d($0[0], weight: $0[1], bias: $0[2], c.p)
            }
        } else {
            checkGradients([x, w], c.name) { conv2d($0[0], weight: $0[1], c.p) }
        }
    }

    /// y[n,k,i,j] = b[k] + Σ_{c in group(k), u, v} x[n, c, i·sh − pt + u·dh, j·sw − pl + v·dw] · w[k, c − c0, u, v]
    static func direct(_ x: Tensor, _ w: Tensor, _ b: Tensor?, _ p: Conv2dParameters) -> (
        values: [Double], shape: [Int]
    ) {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (k, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        let oh = (h + p.padTop + p.padBottom - p.dilationH * (kh - 1) - 1) / p.strideH + 1
        let ow = (wd + p.padLeft + p.padRight - p.dilationW * (kw - 1) - 1) / p.strideW + 1
        let xv = x.doubles
        let wv = w.doubles
        let bv = b?.doubles
        let kg = k / p.groups
        var y = [Double](repeating: 0, count: n * k * oh * ow)
        for b in 0..<n {
            for o in 0..<k {
                for i in 0..<oh {
                    for j in 0..<ow {
                        var s = bv?[o] ?? 0
                        let c0 = (o / kg) * cg
                        for ci in 0..<cg {
                            for u in 0..<kh {
                                for v in 0..<kw {
                                    let iy = i * p.strideH - p.padTop + u * p.dilationH
                                    let ix = j * p.strideW - p.padLeft + v * p.dilationW
                                    if iy < 0 || iy >= h || ix < 0 || ix >= wd { continue }
                                    s +=
                                        xv[((b * c + c0 + ci) * h + iy) * wd + ix]
                                        * wv[((o * cg + ci) * kh + u) * kw + v]
                                }
                            }
                        }
                        y[((b * k + o) * oh + i) * ow + j] = s
                    }
                }
            }
        }
        _ = c
        return (y, [n, k, oh, ow])
    }

    @Test("forward equals the direct sum, Float64 and Float32", arguments: cases)
    func forward(_ c: Case) {
        let (x, w, b) = tensors(c, seed: 61)
        let bias = c.bias ? b : nil
        let expected = Self.direct(x, w, bias, c.p)
        expectClose(
            conv2d(x, weight: w, bias: bias, c.p), expected.values, shape: expected.shape, tolerance: 1e-13, c.name)
        expectClose(
            conv2d(x.to(.float32), weight: w.to(.float32), bias: bias?.to(.float32), c.p), expected.values,
            shape: expected.shape, tolerance: 1e-5, c.name + " (Float32)")
    }

    @Test("a single weight tap picks the expected pixel")
    func handExample() {
        // 1×1×3×3 input 1…9; a 2×2 kernel with only the bottom-right tap set, stride 1, pad 0:
        // each output is the bottom-right pixel of its window.
        let x = Tensor.arange(1, 10, dtype: .float64).reshaped([1, 1, 3, 3])
        let w = Tensor([0.0, 0, 0, 1], shape: [1, 1, 2, 2])
        #expect(conv2d(x, weight: w).doubles == [5, 6, 8, 9])
        // With padding 1 on the left/top only, the window's bottom-right tap reads x itself.
        let p = Conv2dParameters(stride: (1, 1), padding: (top: 1, bottom: 0, left: 1, right: 0))
        #expect(conv2d(x, weight: w, p).doubles == x.doubles)
        // Bias is added to every output of its channel.
        #expect(conv2d(x, weight: w, bias: Tensor([10.0]), .init(stride: 2)).doubles == [15])
    }

    @Test("output sizes")
    func outputSize() {
        #expect(Conv2dParameters(stride: 2, padding: 1).outputSize(h: 7, w: 8, kh: 3, kw: 3) == (4, 4))
        #expect(Conv2dParameters(padding: 2, dilation: 2).outputSize(h: 9, w: 9, kh: 3, kw: 3) == (9, 9))
        #expect(
            Conv2dParameters(stride: (2, 1), padding: (top: 0, bottom: 2, left: 1, right: 0)).outputSize(
                h: 5, w: 7, kh: 3, kw: 2) == (3, 7))
    }
}
