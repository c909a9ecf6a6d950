import StrataDNNL
import StrataTensor
import StrataTestSupport
import Testing

// Every fat op on the oneDNN backend against the reference backend, forward and backward,
// in Float32 on both sides.
//
// Tolerance: scaled error (max |Δ| / max |expected|, see `scaledError`) ≤ 1e-4 for ops and
// ≤ 2e-4 for whole networks. Both backends compute in Float32 but sum in different orders
// (blocked JIT kernels vs im2col GEMM); typical errors are 1e-7–1e-6.

/// One backend instance for the whole suite, so that its primitive cache is exercised too.
/// Direct convolution: Winograd (the default) has its own test.
let dnnl = DNNLBackend(convolutionAlgorithm: .direct)
let reference = ReferenceBackend()
let opTolerance = 1e-4

/// Runs `f` on `inputs` under `backend`, then backpropagates Σ y·r (r a fixed random tensor,
/// so every output element gets a different gradient); returns y and the inputs' gradients.
func forwardBackward(
    _ backend: any Backend, _ inputs: [Tensor], grad: [Bool], seed: UInt64,
    _ f: ([Tensor]) -> Tensor
) -> (Tensor, [Tensor?]) {
    let leaves = zip(inputs, grad).map { t, g in g ? t.copy().requiringGrad() : t.copy() }
    return Backends.with(backend) {
        let y = f(leaves)
        let r = randomTensor(y.shape, seed: seed, dtype: .float32)
        (y * r).sum().backward()
        return (y, leaves.map(\.grad))
    }
}

/// Compares forward values and every input gradient of `f` between oneDNN and the reference.
func expectBackendsAgree(
    _ label: String, _ inputs: [Tensor], grad: [Bool]? = nil, tolerance: Double = opTolerance,
    seed: UInt64 = 99, sourceLocation: SourceLocation = #_sourceLocation, _ f: @escaping ([Tensor]) -> Tensor
) {
    let g = grad ?? inputs.map { _ in true }
    let (yRef, gRef) = forwardBackward(reference, inputs, grad: g, seed: seed, f)
    let (yDNNL, gDNNL) = forwardBackward(dnnl, inputs, grad: g, seed: seed, f)
    expectClose(yDNNL, yRef, tolerance: tolerance, "\(label) forward", sourceLocation: sourceLocation)
    for (i, (a, b)) in zip(gDNNL, gRef).enumerated() where g[i] {
        guard let a, let b else {
            Issue.record("\(label): input \(i) has no gradient", sourceLocation: sourceLocation)
            continue
        }
        expectClose(a, b, tolerance: tolerance, "\(label) ∂input\(i)", sourceLocation: sourceLocation)
    }
}

func f32(_ shape: [Int], _ seed: UInt64, std: Double = 1) -> Tensor {
    randomTensor(shape, seed: seed, std: std, dtype: .float32)
}

@Suite("oneDNN backend vs reference: convolution")
struct DNNLConvolutionTests {
    struct Case: CustomStringConvertible, Sendable {
        let input: [Int], weight: [Int], p: Conv2dParameters, bias: Bool
        var description: String { "x\(input) w\(weight) \(p)\(bias ? " +bias" : "")" }
    }

    static let cases: [Case] = [
        Case(input: [1, 3, 7, 9], weight: [5, 3, 3, 3], p: .init(padding: 1), bias: false), // batch 1, odd sizes
        Case(
            // asymmetric
            input: [2, 17, 11, 10], weight: [19, 17, 3, 3], p: .init(stride: (2, 2), padding: (1, 0, 2, 1)), bias: true),
        // groups + dilation
        Case(input: [2, 8, 9, 9], weight: [12, 2, 3, 3], p: .init(padding: 2, dilation: 2, groups: 4), bias: false),
        // depthwise
        Case(input: [2, 6, 8, 8], weight: [6, 1, 3, 3], p: .init(stride: 2, padding: 1, groups: 6), bias: true),
        Case(input: [3, 32, 6, 6], weight: [48, 32, 1, 1], p: .init(), bias: true), // 1×1, multiples of 16
        Case(input: [1, 20, 13, 13], weight: [24, 20, 5, 5], p: .init(padding: 2), bias: true),
        // a ResNet stem
        Case(input: [2, 3, 15, 15], weight: [16, 3, 7, 7], p: .init(stride: 2, padding: 3), bias: false),
        Case(
            input: [2, 16, 5, 7], weight: [16, 16, 3, 1],
            p: .init(stride: (1, 2), padding: (1, 1, 0, 0), dilation: (2, 1)), bias: false),
        Case(input: [2, 64, 8, 8], weight: [64, 64, 3, 3], p: .init(padding: 1), bias: false), // Winograd-shaped
    ]

    @Test("forward, ∂x, ∂W, ∂b", arguments: cases)
    func conv(_ c: Case) {
        var inputs = [f32(c.input, 1), f32(c.weight, 2, std: 0.2)]
        if c.bias { inputs.append(f32([c.weight[0]], 3)) }
        expectBackendsAgree(c.description, inputs) { t in conv2d(t[0], weight: t[1], bias: c.bias ? t[2] : nil, c.p) }
    }

    // Training (operands need gradients): `.auto` runs Winograd F(4×4, 3×3) in all three passes
    // for 3×3 layers with ≥ 32 channels at batch ≥ 16; `.winograd` wherever oneDNN has it (the
    // 16-channel case here); batch 16 and odd sizes (partial 4×4 tiles) in both.
    @Test(
        "Winograd in training (forward, ∂x, ∂W) agrees within 1e-4",
        arguments: [
            ([16, 32, 9, 11], [32, 32, 3, 3], DNNLBackend.ConvolutionAlgorithm.auto),
            ([16, 64, 8, 8], [48, 64, 3, 3], .auto),
            ([16, 16, 10, 10], [16, 16, 3, 3], .winograd),
        ])
    func winogradTraining(_ input: [Int], _ weight: [Int], _ algorithm: DNNLBackend.ConvolutionAlgorithm) {
        let backend = DNNLBackend(convolutionAlgorithm: algorithm)
        let inputs = [f32(input, 4), f32(weight, 5, std: 0.05)]
        let (y, grads) = forwardBackward(backend, inputs, grad: [true, true], seed: 6) { t in
            conv2d(t[0], weight: t[1], .init(padding: 1))
        }
        let (yRef, gradsRef) = forwardBackward(reference, inputs, grad: [true, true], seed: 6) { t in
            conv2d(t[0], weight: t[1], .init(padding: 1))
        }
        let used = backend.convolutionImplementations
        for pass in ["conv.fwd", "conv.bwd_data", "conv.bwd_weights"] {
            // Where oneDNN has no Winograd kernel (AVX2), the same request must run direct convolution.
            #expect(
                used[pass, default: []].contains { $0.contains("wino") } == DNNLCapabilities.hasWinograd,
                "\(pass) on \(DNNLCapabilities.summary): \(used[pass, default: []])")
        }
        if !DNNLCapabilities.hasWinograd {
            print("note: \(DNNLCapabilities.summary): Winograd unavailable, checked the direct fallback's numbers")
        }
        expectClose(y, yRef, tolerance: 1e-4, "Winograd forward")
        expectClose(grads[0]!, gradsRef[0]!, tolerance: 1e-4, "Winograd ∂x")
        expectClose(grads[1]!, gradsRef[1]!, tolerance: 1e-4, "Winograd ∂W")
    }

    @Test("training at batch < 16, or with 16 channels, stays direct under .auto")
    func directInTrainingWhereWinogradIsSlower() {
        for (input, weight) in [([8, 32, 8, 8], [32, 32, 3, 3]), ([16, 16, 8, 8], [16, 16, 3, 3])] {
            let backend = DNNLBackend(convolutionAlgorithm: .auto)
            _ = forwardBackward(backend, [f32(input, 4), f32(weight, 5)], grad: [true, true], seed: 6) { t in
                conv2d(t[0], weight: t[1], .init(padding: 1))
            }
            let used = backend.convolutionImplementations.values.flatMap { $0 }
            #expect(used.count == 3 && !used.contains { $0.contains("wino") }, "x\(input) w\(weight): \(used)")
        }
    }

    // Inference: oneDNN's own choice (convolution_auto) takes Winograd for large enough problems.
    @Test("Winograd in inference (convolution_auto) agrees within 1e-4")
    func winogradInference() {
        let backend = DNNLBackend(convolutionAlgorithm: .auto, fusion: false)
        let x = f32([32, 64, 14, 14], 4)
        let w = f32([64, 64, 3, 3], 5, std: 0.05)
        let y = withNoGrad { Backends.with(backend) { conv2d(x, weight: w, .init(padding: 1)) } }
        let yRef = Backends.with(reference) { conv2d(x, weight: w, .init(padding: 1)) }
        let used = backend.convolutionImplementations["conv.fwd", default: []]
        #expect(
            used.contains { $0.contains("wino") } == DNNLCapabilities.hasWinograd,
            "\(DNNLCapabilities.summary): \(used)")
        expectClose(y, yRef, tolerance: 1e-4, "convolution_auto forward")
    }

    @Test("a changed weight is reordered again (the cached blocked copy follows assign)")
    func weightCacheInvalidation() {
        let x = f32([1, 16, 6, 6], 6)
        let w = f32([16, 16, 3, 3], 7)
        let y1 = Backends.with(dnnl) { conv2d(x, weight: w, .init(padding: 1)) }
        w.assign(w * 2)
        let y2 = Backends.with(dnnl) { conv2d(x, weight: w, .init(padding: 1)) }
        expectClose(y2, (y1 * 2), tolerance: 1e-6, "after assign")
    }
}

@Suite("oneDNN backend vs reference: pooling")
struct DNNLPoolingTests {
    struct Case: CustomStringConvertible, Sendable {
        let input: [Int], p: Pool2dParameters, max: Bool
        var description: String {
            "\(max ? "max" : "avg") x\(input) k\(p.kernelH)×\(p.kernelW) s\(p.strideH)×\(p.strideW) p\(p.padH)×\(p.padW)"
                + (p.ceilMode ? " ceil" : "") + (max ? "" : (p.countIncludePad ? " include-pad" : " exclude-pad"))
        }
    }

    static let cases: [Case] = [
        Case(input: [2, 16, 12, 12], p: .init(kernel: 3, stride: 2, padding: 1), max: true), // ResNet's
        // GoogLeNet's, odd sizes
        Case(input: [1, 17, 11, 13], p: .init(kernel: 3, stride: 2, ceilMode: true), max: true),
        Case(input: [2, 5, 9, 9], p: .init(kernel: 2), max: true),
        Case(input: [2, 5, 10, 7], p: .init(kernel: 3, stride: 1, padding: 1), max: true),
        Case(input: [2, 5, 10, 7], p: .init(kernel: 3, stride: 2, padding: 1, ceilMode: true), max: true),
        Case(input: [2, 18, 8, 8], p: .init(kernel: 2), max: false), // DenseNet transition
        Case(input: [1, 7, 9, 11], p: .init(kernel: 3, stride: 2, padding: 1), max: false),
        Case(input: [1, 7, 9, 11], p: .init(kernel: 3, stride: 2, padding: 1, countIncludePad: false), max: false),
        Case(input: [2, 3, 9, 9], p: .init(kernel: 2, ceilMode: true), max: false),
        // reference fallback
        Case(input: [2, 3, 10, 10], p: .init(kernel: 3, stride: 2, padding: 1, ceilMode: true), max: false),
        Case(
            input: [2, 3, 10, 10], p: .init(kernel: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false),
            max: false),
    ]

    @Test("forward and ∂x", arguments: cases)
    func pool(_ c: Case) {
        expectBackendsAgree(c.description, [f32(c.input, 11)]) { t in
            c.max ? maxPool2d(t[0], c.p) : avgPool2d(t[0], c.p)
        }
    }

    @Test(
        "adaptive average pooling, forward and ∂x",
        arguments: [([2, 19, 7, 7], 1, 1), ([1, 8, 6, 9], 2, 3), ([2, 4, 7, 5], 3, 2)])
    func adaptive(_ shape: [Int], _ oh: Int, _ ow: Int) {
        expectBackendsAgree("adaptive \(shape) → \(oh)×\(ow)", [f32(shape, 12)]) { t in
            adaptiveAvgPool2d(t[0], outputSize: (oh, ow))
        }
    }

    @Test("max pooling without gradients returns the same values")
    func inference() {
        let x = f32([2, 16, 9, 9], 13)
        let y = withNoGrad { Backends.with(dnnl) { maxPool2d(x, .init(kernel: 3, stride: 2, ceilMode: true)) } }
        let yRef = Backends.with(reference) { maxPool2d(x, .init(kernel: 3, stride: 2, ceilMode: true)) }
        expectClose(y, yRef, tolerance: 0, "no-grad max pool")
    }
}

@Suite("oneDNN backend vs reference: normalization")
struct DNNLNormalizationTests {
    @Test(
        "batch norm, training statistics, affine",
        arguments: [[2, 19, 5, 7], [1, 16, 4, 4], [4, 33, 3, 3], [8, 10]])
    func batchNormTraining(_ shape: [Int]) {
        let c = shape[1]
        let inputs = [f32(shape, 21, std: 2) + 0.5, f32([c], 22) + 1, f32([c], 23)]
        expectBackendsAgree("bn train \(shape)", inputs) { t in
            batchNorm2d(t[0], runningMean: nil, runningVar: nil, weight: t[1], bias: t[2], training: true)
        }
    }

    @Test("batch norm without affine parameters")
    func batchNormNoAffine() {
        expectBackendsAgree("bn no affine", [f32([3, 5, 6, 6], 24)]) { t in
            batchNorm2d(t[0], runningMean: nil, runningVar: nil, weight: nil, bias: nil, training: true)
        }
    }

    @Test("batch norm updates running statistics like the reference")
    func runningStatistics() {
        let x = f32([4, 6, 5, 5], 25, std: 3)
        func run(_ b: any Backend) -> (Tensor, Tensor) {
            let mean = Tensor.zeros([6])
            let variance = Tensor.ones([6])
            _ = Backends.with(b) {
                batchNorm2d(x, runningMean: mean, runningVar: variance, weight: nil, bias: nil, training: true)
            }
            return (mean, variance)
        }
        let (m1, v1) = run(dnnl)
        let (m2, v2) = run(reference)
        expectClose(m1, m2, tolerance: 1e-5, "running mean")
        expectClose(v1, v2, tolerance: 1e-5, "running var")
    }

    @Test("batch norm in eval mode (running statistics)", arguments: [[2, 19, 5, 7], [1, 32, 3, 3]])
    func batchNormEval(_ shape: [Int]) {
        let c = shape[1]
        let mean = f32([c], 26)
        let variance = f32([c], 27).abs() + 0.1
        let inputs = [f32(shape, 28), f32([c], 29) + 1, f32([c], 30)]
        expectBackendsAgree("bn eval \(shape)", inputs) { t in
            batchNorm2d(t[0], runningMean: mean, runningVar: variance, weight: t[1], bias: t[2], training: false)
        }
    }

    @Test(
        "local response normalization across channels",
        arguments: [(5, 1e-4, 0.75, 2.0), (3, 0.5, 0.75, 1.0), (4, 0.3, 0.6, 1.0)])
    func lrn(_ size: Int, _ alpha: Double, _ beta: Double, _ k: Double) {
        expectBackendsAgree("lrn n=\(size)", [f32([2, 11, 5, 6], 31, std: 2)]) { t in
            localResponseNorm(t[0], size: size, alpha: alpha, beta: beta, k: k)
        }
    }
}

@Suite("oneDNN backend vs reference: matrix products")
struct DNNLMatmulTests {
    @Test("matmul with every transposition", arguments: [(false, false), (true, false), (false, true), (true, true)])
    func matmul(_ ta: Bool, _ tb: Bool) {
        let a = f32(ta ? [13, 7] : [7, 13], 41)
        let b = f32(tb ? [9, 13] : [13, 9], 42)
        let y = Backends.with(dnnl) { dnnl.matmul(a, b, transA: ta, transB: tb) }
        let yRef = reference.matmul(a, b, transA: ta, transB: tb)
        expectClose(y, yRef, tolerance: opTolerance, "matmul \(ta) \(tb)")
    }

    @Test("linear layer, forward and backward")
    func linearLayer() {
        expectBackendsAgree("linear", [f32([5, 33], 43), f32([10, 33], 44), f32([10], 45)]) { t in
            linear(t[0], weight: t[1], bias: t[2])
        }
    }

    @Test("Float64 falls back to the reference kernels exactly")
    func float64() {
        let x = randomTensor([2, 3, 6, 6], seed: 46)
        let w = randomTensor([4, 3, 3, 3], seed: 47)
        let y = Backends.with(dnnl) { conv2d(x, weight: w, .init(padding: 1)) }
        let yRef = Backends.with(reference) { conv2d(x, weight: w, .init(padding: 1)) }
        #expect(y.dtype == .float64)
        expectClose(y, yRef, tolerance: 0, "Float64 conv")
    }
}

@Suite("oneDNN backend vs reference: memory-bound ops in blocked layouts")
struct DNNLLayoutOpTests {
    @Test("relu and add on convolution outputs (blocked), channels 16 and 19", arguments: [16, 19])
    func reluAdd(_ k: Int) {
        let inputs = [f32([2, 5, 7, 7], 51), f32([k, 5, 3, 3], 52, std: 0.3), f32([k, 5, 1, 1], 53, std: 0.3)]
        expectBackendsAgree("relu(conv) + conv, K=\(k)", inputs) { t in
            conv2d(t[0], weight: t[1], .init(padding: 1)).relu() + conv2d(t[0], weight: t[2])
        }
    }

    @Test("a row-major operand added to a blocked one, both orders")
    func mixedAdd() {
        let inputs = [f32([2, 5, 6, 6], 54), f32([17, 5, 1, 1], 55), f32([2, 17, 6, 6], 56)]
        expectBackendsAgree("conv + plain", inputs) { t in conv2d(t[0], weight: t[1]) + t[2] }
        expectBackendsAgree("plain + conv", inputs) { t in t[2] + conv2d(t[0], weight: t[1]) }
    }

    @Test("concatenation of blocked tensors with channel counts not multiples of 16, then a convolution")
    func concat() {
        let inputs = [
            f32([2, 4, 5, 5], 57), f32([12, 4, 3, 3], 58, std: 0.3), f32([20, 4, 1, 1], 59, std: 0.3),
            f32([2, 6, 5, 5], 60), f32([8, 38, 3, 3], 61, std: 0.2),
        ]
        expectBackendsAgree("concat", inputs) { t in
            let a = conv2d(t[0], weight: t[1], .init(padding: 1)).relu()
            let b = conv2d(t[0], weight: t[2])
            return conv2d(Tensor.concatenate([a, b, t[3]], axis: 1), weight: t[4], .init(padding: 1))
        }
    }

    @Test(
        "splitting a blocked tensor along channels: parts that start inside a block and span two blocks",
        arguments: [[5, 16, 3, 20], [12, 12, 12, 8], [33, 11]])
    func blockedSplit(_ sizes: [Int]) {
        let c = sizes.reduce(0, +)
        let x = f32([2, 3, 5, 5], 64)
        let w = f32([c, 3, 1, 1], 65)
        let blocked = Backends.with(dnnl) { conv2d(x, weight: w) }
        #expect(blocked.layout != nil, "the input to split is in oneDNN's blocked layout")
        let parts = dnnl.split(blocked, axis: 1, sizes: sizes)
        let expected = reference.split(Backends.with(reference) { conv2d(x, weight: w) }, axis: 1, sizes: sizes)
        for (i, (p, e)) in zip(parts, expected).enumerated() {
            #expect(p.shape == e.shape)
            // The padding lanes of a part in nChw16c / nChw8c hold zeros.
            let block = DNNLCapabilities.channelBlock
            let (data, layout) = p.representation
            if layout != nil, sizes[i] % block != 0 {
                let values = UnsafeBufferPointer(start: data.typed(Float.self), count: data.count)
                let blocks = (sizes[i] + block - 1) / block
                let plane = 25 * block
                for image in 0..<2 {
                    let last = (image * blocks + blocks - 1) * plane
                    for position in 0..<25 {
                        for lane in (sizes[i] % block)..<block { #expect(values[last + position * block + lane] == 0) }
                    }
                }
            }
            expectClose(p, e, tolerance: opTolerance, "part \(i) of \(sizes)")
        }
    }

    /// DenseNet-BC's case: every part blocked, parts starting inside channel blocks (12 + 20 + 6 + 12 channels).
    @Test("concatenation of blocked parts that start inside channel blocks, forward and backward")
    func blockedConcat() {
        let inputs = [
            f32([2, 4, 5, 5], 66), f32([12, 4, 3, 3], 67, std: 0.3), f32([20, 4, 1, 1], 68, std: 0.3),
            f32([6, 4, 1, 1], 69, std: 0.3), f32([12, 4, 3, 3], 70, std: 0.3), f32([8, 50, 3, 3], 71, std: 0.2),
        ]
        expectBackendsAgree("blocked concat", inputs) { t in
            let parts = [
                conv2d(t[0], weight: t[1], .init(padding: 1)).relu(), conv2d(t[0], weight: t[2]),
                conv2d(t[0], weight: t[3]), conv2d(t[0], weight: t[4], .init(padding: 1)),
            ]
            if Backends.current === dnnl { #expect(parts.allSatisfy { $0.layout != nil }, "every part blocked") }
            let joined = Tensor.concatenate(parts, axis: 1)
            if Backends.current === dnnl { #expect(joined.layout != nil, "the concatenation stays blocked") }
            return conv2d(joined, weight: t[5], .init(padding: 1))
        }
    }

    @Test("reading a blocked result from Swift gives row-major values (and padding stays zero)")
    func materialize() {
        let x = f32([1, 3, 4, 4], 62)
        let w = f32([17, 3, 1, 1], 63)
        let y = Backends.with(dnnl) { conv2d(x, weight: w).relu() }
        #expect(y.layout != nil, "a convolution's output stays in oneDNN's layout")
        let yRef = Backends.with(reference) { conv2d(x, weight: w).relu() }
        expectClose(y, yRef, tolerance: opTolerance, "values")
        #expect(y.layout == nil, "row-major after the first read")
        #expect(y.sum().item().isFinite)
    }
}

@Suite("oneDNN backend: inference fusion")
struct DNNLFusionTests {
    /// ResNet's tail: relu(bn(conv(x)) + shortcut), and the same with a bias and no batch norm.
    @Test(
        "conv → batch norm → + residual → relu is one deferred convolution, equal to the reference",
        arguments: [(16, true), (19, true), (16, false)])
    func resnetTail(_ k: Int, _ norm: Bool) {
        let x = f32([2, 8, 9, 9], 71)
        let w = f32([k, 8, 3, 3], 72, std: 0.2)
        let b = f32([k], 73)
        let mean = f32([k], 74)
        let variance = f32([k], 75).abs() + 0.5
        let gamma = f32([k], 76)
        let beta = f32([k], 77)
        let shortcut = f32([2, k, 9, 9], 78)
        func tail() -> Tensor {
            var h = conv2d(x, weight: w, bias: norm ? nil : b, .init(padding: 1))
            if norm {
                h = batchNorm2d(h, runningMean: mean, runningVar: variance, weight: gamma, bias: beta, training: false)
            }
            return (h + shortcut).relu()
        }
        let y = withNoGrad { Backends.with(dnnl) { tail() } }
        #expect(y.deferred != nil, "nothing has run yet")
        let yRef = withNoGrad { Backends.with(reference) { tail() } }
        expectClose(y, yRef, tolerance: opTolerance, "fused K=\(k) norm=\(norm)")
    }

    /// DenseNet's pre-activation: bn → relu → conv, the batch norm not foldable (its input is no convolution).
    @Test("batch norm → relu runs as one primitive (fuse_norm_relu), equal to the reference", arguments: [16, 19])
    func preActivation(_ c: Int) {
        let x = f32([2, c, 7, 7], 83)
        let mean = f32([c], 84)
        let variance = f32([c], 85).abs() + 0.5
        let gamma = f32([c], 86)
        let beta = f32([c], 87)
        let w = f32([8, c, 1, 1], 88, std: 0.3)
        func block() -> (Tensor, Tensor) {
            let h = batchNorm2d(x, runningMean: mean, runningVar: variance, weight: gamma, bias: beta, training: false)
                .relu()
            if Backends.current === dnnl { #expect(h.deferred != nil, "bn → relu deferred") }
            return (h, conv2d(h, weight: w))
        }
        let (h, y) = withNoGrad { Backends.with(dnnl) { block() } }
        let (hRef, yRef) = withNoGrad { Backends.with(reference) { block() } }
        expectClose(y, yRef, tolerance: opTolerance, "conv(relu(bn)) C=\(c)")
        expectClose(h, hRef, tolerance: opTolerance, "relu(bn) C=\(c)")
    }

    /// An Inception module: pending convolutions (with folded batch norm and ReLU) written straight into
    /// their slices of the concatenation, next to a part that is already computed.
    @Test(
        "Inception branches written into their parts of the concatenation equal the reference",
        // 20 channels (not whole blocks) or batch 2: concatenated the usual way
        arguments: [(1, 32), (1, 24), (1, 20), (2, 32)])
    func inceptionConcatenation(_ n: Int, _ c3: Int) {
        let c1 = 16
        let x = f32([n, 16, 6, 6], 91)
        let w1 = f32([c1, 16, 1, 1], 92, std: 0.3)
        let w2 = f32([16, 16, 1, 1], 93, std: 0.3)
        let w3 = f32([c3, 16, 3, 3], 94, std: 0.2)
        let w4 = f32([16, 16, 1, 1], 95, std: 0.3)
        let plainPart = f32([n, 16, 6, 6], 96)
        let mean = f32([c1], 97)
        let variance = f32([c1], 98).abs() + 0.5
        let gamma = f32([c1], 99)
        let beta = f32([c1], 100)
        func module() -> (Tensor, [Tensor]) {
            let b1 = batchNorm2d(
                conv2d(x, weight: w1), runningMean: mean, runningVar: variance, weight: gamma, bias: beta,
                training: false
            ).relu()
            let b2 = conv2d(conv2d(x, weight: w2).relu(), weight: w3, .init(padding: 1)).relu()
            let b3 = conv2d(maxPool2d(x, Pool2dParameters(kernel: 3, stride: 1, padding: 1)), weight: w4)
            let parts = [b1, b2, b3, plainPart]
            return (Tensor.concatenate(parts, axis: 1), parts)
        }
        let (y, parts) = withNoGrad { Backends.with(dnnl) { module() } }
        if n == 1 && c3 % DNNLCapabilities.channelBlock == 0 {
            // Whole channel blocks (16 on AVX-512, 8 on AVX2): each branch is written into its slice.
            #expect(
                parts[0].deferred != nil && parts[1].deferred != nil,
                "the branches were written into the concatenation, not run on their own (\(DNNLCapabilities.summary))")
        }
        let (yRef, partsRef) = withNoGrad { Backends.with(reference) { module() } }
        expectClose(y, yRef, tolerance: opTolerance, "concatenation n=\(n) c3=\(c3)")
        // A branch read after the concatenation is copied out of its slice, not run again.
        for (i, (p, pRef)) in zip(parts, partsRef).enumerated() {
            expectClose(p, pRef, tolerance: opTolerance, "branch \(i)")
        }
    }

    /// DenseNet's block: each layer's new features are a pending convolution when first concatenated,
    /// then part of every later concatenation.
    @Test("a dense block's repeated concatenations equal the reference")
    func denseBlockConcatenation() {
        let x = f32([1, 32, 5, 5], 101) // batch 1: each new feature map is written into the concatenation
        let weights = (0..<3).map { f32([16, 32 + 16 * $0, 3, 3], 102 + UInt64($0), std: 0.1) }
        func block() -> Tensor {
            var features = [x]
            for w in weights {
                features.append(conv2d(Tensor.concatenate(features, axis: 1).relu(), weight: w, .init(padding: 1)))
            }
            return Tensor.concatenate(features, axis: 1)
        }
        let y = withNoGrad { Backends.with(dnnl) { block() } }
        let yRef = withNoGrad { Backends.with(reference) { block() } }
        expectClose(y, yRef, tolerance: opTolerance, "dense block")
    }

    @Test("a deferred convolution uses the weights it was given, even if they change before it runs")
    func weightSnapshot() {
        let x = f32([1, 16, 5, 5], 79)
        let w = f32([16, 16, 3, 3], 80)
        let expected = Backends.with(reference) { conv2d(x, weight: w, .init(padding: 1)) }
        let y = withNoGrad { Backends.with(dnnl) { conv2d(x, weight: w, .init(padding: 1)) } }
        w.assign(w * 3)
        expectClose(y, expected, tolerance: opTolerance, "snapshot")
    }

    @Test("with gradients needed nothing is deferred")
    func noDeferralWithGrad() {
        let x = f32([1, 4, 5, 5], 81).requiringGrad()
        let w = f32([4, 4, 3, 3], 82)
        let y = Backends.with(dnnl) { conv2d(x, weight: w, .init(padding: 1)) }
        #expect(y.deferred == nil)
    }
}
