import StrataTensor
import StrataTestSupport
import Testing

/// maxPool2d, avgPool2d and adaptiveAvgPool2d (Ops/Pooling.swift, Reference/PoolingKernels.swift):
/// gradients against finite differences and forward values against direct evaluation
/// with PyTorch's window rules. PyTorch values: FixtureTests.
@Suite("Pooling")
struct PoolingTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var input: [Int]
        var p: Pool2dParameters
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "k2 s2, 6x6", input: [2, 2, 6, 6], p: .init(kernel: 2)),
        Case(name: "k2 s2 floor, odd 7x7, batch 1", input: [1, 2, 7, 7], p: .init(kernel: 2)),
        Case(name: "k2 s2 ceil, odd 7x7", input: [1, 2, 7, 7], p: .init(kernel: 2, ceilMode: true)),
        Case(name: "k3 s2 p1, 7x5", input: [2, 2, 7, 5], p: .init(kernel: 3, stride: 2, padding: 1)),
        Case(name: "k3 s2 ceil, 8x6", input: [1, 3, 8, 6], p: .init(kernel: 3, stride: 2, ceilMode: true)),
        Case(
            name: "k3 s2 p1 ceil, 6x6", input: [1, 2, 6, 6], p: .init(kernel: 3, stride: 2, padding: 1, ceilMode: true)),
        Case(
            name: "k3 s2 p1 ceil, 8x5 (window beyond the bottom pad)", input: [1, 2, 8, 5],
            p: .init(kernel: 3, stride: 2, padding: 1, ceilMode: true)),
        Case(
            name: "k2 s2 p1 ceil, 5x5 (last window dropped)", input: [2, 1, 5, 5],
            p: .init(kernel: 2, stride: 2, padding: 1, ceilMode: true)),
        Case(name: "k3 s1 p1, 5x5", input: [1, 2, 5, 5], p: .init(kernel: 3, stride: 1, padding: 1)),
        Case(
            name: "k3x2 s2x1 p1x0, 7x5", input: [1, 2, 7, 5], p: .init(kernel: (3, 2), stride: (2, 1), padding: (1, 0))),
        Case(
            name: "k2x3 s1x2 p0x1 ceil, 5x6", input: [2, 1, 5, 6],
            p: .init(kernel: (2, 3), stride: (1, 2), padding: (0, 1), ceilMode: true)),
    ]

    /// Both divisor rules for average pooling.
    static let avgCases: [Case] = cases.flatMap { c -> [Case] in
        var exclude = c
        exclude.p.countIncludePad = false
        exclude.name += ", count_include_pad false"
        var include = c
        include.name += ", count_include_pad true"
        return [include, exclude]
    }

    @Test("maxPool2d gradients", arguments: cases)
    func maxPoolGrad(_ c: Case) {
        let x = distinctTensor(c.input, seed: 70)
        checkGradients([x], c.name) { maxPool2d($0[0], c.p) }
    }

    @Test("avgPool2d gradients", arguments: avgCases)
    func avgPoolGrad(_ c: Case) {
        let x = randomTensor(c.input, seed: 71)
        checkGradients([x], c.name) { avgPool2d($0[0], c.p) }
    }

    static let adaptiveCases: [([Int], (Int, Int))] = [
        ([2, 2, 7, 7], (1, 1)), ([1, 3, 5, 3], (1, 1)), ([2, 2, 7, 7], (3, 3)), ([1, 2, 5, 5], (2, 2)),
        ([2, 2, 3, 3], (5, 5)), ([1, 2, 9, 7], (4, 3)), ([1, 2, 5, 5], (5, 5)), ([2, 1, 6, 6], (3, 2)),
        ([1, 2, 4, 6], (3, 4)),
    ]

    @Test("adaptiveAvgPool2d gradients", arguments: adaptiveCases)
    func adaptiveGrad(_ c: ([Int], (Int, Int))) {
        let x = randomTensor(c.0, seed: 72)
        checkGradients([x], "adaptive \(c)") { adaptiveAvgPool2d($0[0], outputSize: c.1) }
    }

    /// Max or average over each window, PyTorch's rules: windows start at o·s − p; max ignores
    /// the padding; average divides by the window clipped to the padded input (count_include_pad)
    /// or by the number of real input elements it covers.
    static func direct(_ x: Tensor, _ p: Pool2dParameters, max: Bool) -> (values: [Double], shape: [Int]) {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        func length(_ size: Int, _ k: Int, _ s: Int, _ pad: Int) -> Int {
            let span = Double(size + 2 * pad - k) / Double(s)
            var out = Int(p.ceilMode ? span.rounded(.up) : span.rounded(.down)) + 1
            if p.ceilMode && (out - 1) * s >= size + pad { out -= 1 }
            return out
        }
        let oh = length(h, p.kernelH, p.strideH, p.padH)
        let ow = length(w, p.kernelW, p.strideW, p.padW)
        let xv = x.doubles
        var y: [Double] = []
        for plane in 0..<(n * c) {
            for i in 0..<oh {
                for j in 0..<ow {
                    let y0 = i * p.strideH - p.padH
                    let x0 = j * p.strideW - p.padW
                    var best = -Double.infinity
                    var sum = 0.0
                    var inside = 0
                    for iy in y0..<(y0 + p.kernelH) {
                        for ix in x0..<(x0 + p.kernelW) where iy >= 0 && iy < h && ix >= 0 && ix < w {
                            let v = xv[plane * h * w + iy * w + ix]
                            best = Swift.max(best, v)
                            sum += v
                            inside += 1
                        }
                    }
                    let padded =
                        (Swift.min(y0 + p.kernelH, h + p.padH) - y0) * (Swift.min(x0 + p.kernelW, w + p.padW) - x0)
                    y.append(max ? best : sum / Double(p.countIncludePad ? padded : inside))
                }
            }
        }
        return (y, [n, c, oh, ow])
    }

    @Test("maxPool2d forward equals the direct window maximum", arguments: cases)
    func maxPoolForward(_ c: Case) {
        let x = randomTensor(c.input, seed: 73)
        let e = Self.direct(x, c.p, max: true)
        expectClose(maxPool2d(x, c.p), e.values, shape: e.shape, tolerance: 0, c.name)
        expectClose(maxPool2d(x.to(.float32), c.p), e.values, shape: e.shape, tolerance: 1e-7, c.name + " (Float32)")
    }

    @Test("avgPool2d forward equals the direct window mean", arguments: avgCases)
    func avgPoolForward(_ c: Case) {
        let x = randomTensor(c.input, seed: 74)
        let e = Self.direct(x, c.p, max: false)
        expectClose(avgPool2d(x, c.p), e.values, shape: e.shape, tolerance: 1e-14, c.name)
        expectClose(avgPool2d(x.to(.float32), c.p), e.values, shape: e.shape, tolerance: 1e-6, c.name + " (Float32)")
    }

    @Test("hand-computed pooling examples")
    func handExamples() {
        // 1…16 in a 4×4 plane.
        let x = Tensor.arange(1, 17, dtype: .float64).reshaped([1, 1, 4, 4])
        #expect(maxPool2d(x, .init(kernel: 2)).doubles == [6, 8, 14, 16])
        #expect(avgPool2d(x, .init(kernel: 2)).doubles == [3.5, 5.5, 11.5, 13.5])
        // k3 s2 p1: the top-left window covers 4 real elements and 5 padded ones.
        let inc = avgPool2d(x, .init(kernel: 3, stride: 2, padding: 1, countIncludePad: true)).doubles
        let exc = avgPool2d(x, .init(kernel: 3, stride: 2, padding: 1, countIncludePad: false)).doubles
        #expect(inc[0] == (1 + 2 + 5 + 6) / 9.0)
        #expect(exc[0] == (1 + 2 + 5 + 6) / 4.0)
        // Ceil mode on 5 wide, k2 s2: 3 outputs, the last window holds one column.
        let y = Tensor.arange(1, 6, dtype: .float64).reshaped([1, 1, 1, 5])
        #expect(maxPool2d(y, .init(kernel: (1, 2), stride: (1, 2), ceilMode: true)).doubles == [2, 4, 5])
        #expect(avgPool2d(y, .init(kernel: (1, 2), stride: (1, 2), ceilMode: true)).doubles == [1.5, 3.5, 5])
        #expect(maxPool2d(y, .init(kernel: (1, 2), stride: (1, 2))).doubles == [2, 4])
        // Global average and a 4 → 3 adaptive split: windows [0,2) [1,3) [2,4).
        #expect(adaptiveAvgPool2d(x, outputSize: (1, 1)).doubles == [8.5])
        let row = Tensor([1.0, 2, 3, 4]).reshaped([1, 1, 1, 4])
        #expect(adaptiveAvgPool2d(row, outputSize: (1, 3)).doubles == [1.5, 2.5, 3.5])
        // Upsampling 2 → 3: windows [0,1) [0,2) [1,2).
        let two = Tensor([2.0, 4]).reshaped([1, 1, 1, 2])
        #expect(adaptiveAvgPool2d(two, outputSize: (1, 3)).doubles == [2, 3, 4])
    }

    @Test("maxPool2d gradient goes to the window maximum")
    func maxPoolRouting() {
        let x = Tensor([1.0, 9, 3, 4, 5, 6, 7, 8, 2], shape: [1, 1, 3, 3]).requiringGrad()
        // k2 s1: windows' maxima are 9, 9, 8, 8.
        maxPool2d(x, .init(kernel: 2, stride: 1)).sum().backward()
        #expect(x.grad?.doubles == [0, 2, 0, 0, 0, 0, 0, 2, 0])
    }

    @Test("output sizes follow PyTorch")
    func outputSizes() {
        #expect(Pool2dParameters(kernel: 2).outputSize(h: 7, w: 6) == (3, 3))
        #expect(Pool2dParameters(kernel: 2, ceilMode: true).outputSize(h: 7, w: 6) == (4, 3))
        #expect(Pool2dParameters(kernel: 3, stride: 2, ceilMode: true).outputSize(h: 8, w: 6) == (4, 3))
        #expect(Pool2dParameters(kernel: 3, stride: 2, padding: 1, ceilMode: true).outputSize(h: 6, w: 6) == (4, 4))
        #expect(Pool2dParameters(kernel: 2, stride: 2, padding: 1, ceilMode: true).outputSize(h: 5, w: 5) == (3, 3))
        #expect(Pool2dParameters(kernel: 3, stride: 2, padding: 1).outputSize(h: 9, w: 9) == (5, 5))
    }
}
