import StrataTensor
import StrataTestSupport
import Testing
import _CDNNL

@testable import StrataDNNL

// Strata's own Winograd F(4×4, 3×3) (DNNLWinograd.swift), which inference uses where oneDNN has
// no Winograd (AVX2). The kernel is run directly on every CPU (it needs no particular ISA), and
// through the backend where the backend chooses it; both against the reference convolution.

@Suite("oneDNN backend: Strata's Winograd F(4×4, 3×3) for CPUs without oneDNN's")
struct WinogradKernelTests {
    struct Case: CustomStringConvertible, Sendable {
        let input: [Int], k: Int, p: Conv2dParameters, chunk: Int?
        var description: String {
            "x\(input) K=\(k) pad \(p.padTop),\(p.padLeft),\(p.padBottom),\(p.padRight) chunk \(chunk.map(String.init) ?? "auto")"
        }
    }

    @Test(
        "the kernel on nChw8c buffers equals the reference: partial tiles, padded channels, chunks, bias, residual, ReLU",
        arguments: [
            // channels not multiples of 8, edge tiles
            Case(input: [3, 33, 9, 11], k: 35, p: .init(padding: 1), chunk: nil),
            Case(input: [2, 16, 8, 8], k: 24, p: .init(padding: 1), chunk: 5), // several chunks, one ending mid-image
            Case(
                input: [1, 8, 7, 10], k: 8,
                // asymmetric padding
                p: .init(stride: (1, 1), padding: (2, 1, 0, 1), dilation: (1, 1), groups: 1), chunk: 3),
            Case(input: [2, 12, 5, 5], k: 9, p: .init(), chunk: nil), // no padding: 3×3 output
        ])
    func kernel(_ c: Case) {
        let k = c.k
        let w = f32([k, c.input[1], 3, 3], 201, std: 0.2)
        let x = f32(c.input, 202)
        let bias = f32([k], 203)
        let g = ConvGeometryDNNL(input: c.input, weight: w.shape, c.p)
        let residual = f32(g.dst, 204)
        let expected = Backends.with(reference) { (conv2d(x, weight: w, bias: bias, c.p) + residual).relu() }

        let u = DNNLBackend.transformWeights(w.storage, k: k, c: c.input[1])
        let srcMD = MemoryDesc.channelBlocked(c.input, block: 8)
        let dstMD = MemoryDesc.channelBlocked(g.dst, block: 8)
        let xb = Reorders.convert(x.storage, from: .plain(c.input), to: srcMD)
        let dst = Reorders.convert(residual.storage, from: .plain(g.dst), to: dstMD)
        let paddedBias = Buffer(dtype: .float32, count: (k + 7) / 8 * 8)
        paddedBias.typed(Float.self).initialize(repeating: 0, count: paddedBias.count)
        paddedBias.pointer.copyMemory(from: bias.storage.pointer, byteCount: k * 4)
        DNNLBackend.winogradConvolution(
            xb, u: u, bias: paddedBias, dst: dst, geometry: g, accumulate: true, relu: true,
            chunkTiles: c.chunk)
        let y = Tensor(shape: g.dst, storage: Reorders.convert(dst, from: dstMD, to: .plain(g.dst)))
        expectClose(y, expected, tolerance: opTolerance, "Winograd \(c)")
        // Padding lanes of the last channel block stay zero.
        if k % 8 != 0 {
            let p = dst.typed(Float.self)
            let blocks = (k + 7) / 8
            let plane = g.dst[2] * g.dst[3] * 8
            let zeroPadding = (0..<g.dst[0]).allSatisfy { image in
                (0..<g.dst[2] * g.dst[3]).allSatisfy { pixel in
                    (k % 8..<8).allSatisfy { p[(image * blocks + blocks - 1) * plane + pixel * 8 + $0] == 0 }
                }
            }
            #expect(zeroPadding)
        }
    }

    @Test("a NaN in the input stays NaN through the kernel's ReLU")
    func nanPropagates() {
        let x = f32([1, 8, 6, 6], 205)
        let w = f32([8, 8, 3, 3], 206)
        x.storage.typed(Float.self)[0] = .nan
        let g = ConvGeometryDNNL(input: x.shape, weight: w.shape, .init(padding: 1))
        let u = DNNLBackend.transformWeights(w.storage, k: 8, c: 8)
        let srcMD = MemoryDesc.channelBlocked(x.shape, block: 8)
        let dstMD = MemoryDesc.channelBlocked(g.dst, block: 8)
        let dst = Buffer.bytes(dstMD.byteCount)
        DNNLBackend.winogradConvolution(
            Reorders.convert(x.storage, from: .plain(x.shape), to: srcMD), u: u, bias: nil, dst: dst,
            geometry: g, accumulate: false, relu: true)
        #expect(dst.typed(Float.self)[0].isNaN)
    }

    /// Through the backend: ResNet's conv → bn → + shortcut → relu and an Inception-style batch-1 concatenation.
    @Test(
        "inference through the backend equals the reference, and uses Strata's Winograd exactly where oneDNN has none")
    func throughTheBackend() {
        let backend = DNNLBackend(convolutionAlgorithm: .auto)
        let x = f32([2, 32, 9, 11], 211)
        let w = f32([64, 32, 3, 3], 212, std: 0.1)
        let mean = f32([64], 213)
        let variance = f32([64], 214).abs() + 0.5
        let gamma = f32([64], 215)
        let beta = f32([64], 216)
        let shortcut = f32([2, 64, 9, 11], 217)
        func tail() -> Tensor {
            let h = batchNorm2d(
                conv2d(x, weight: w, .init(padding: 1)), runningMean: mean, runningVar: variance, weight: gamma,
                bias: beta, training: false)
            return (h + shortcut).relu()
        }
        let y = withNoGrad { Backends.with(backend) { tail() } }
        let yRef = withNoGrad { Backends.with(reference) { tail() } }
        expectClose(y, yRef, tolerance: opTolerance, "conv → bn → + shortcut → relu")
        let g = ConvGeometryDNNL(input: x.shape, weight: w.shape, .init(padding: 1))
        #expect(backend.usesOwnWinograd(g) == !DNNLCapabilities.hasWinograd, "\(DNNLCapabilities.summary)")
        #expect(!DNNLBackend(convolutionAlgorithm: .direct).usesOwnWinograd(g), "direct means direct")

        // Batch 1: a Winograd branch written into its slice of the concatenation.
        let x1 = f32([1, 32, 12, 12], 218)
        let w2 = f32([64, 32, 1, 1], 219, std: 0.2)
        func module() -> Tensor {
            Tensor.concatenate([conv2d(x1, weight: w, .init(padding: 1)).relu(), conv2d(x1, weight: w2)], axis: 1)
        }
        let z = withNoGrad { Backends.with(backend) { module() } }
        let zRef = withNoGrad { Backends.with(reference) { module() } }
        expectClose(z, zRef, tolerance: opTolerance, "batch-1 concatenation")

        // A changed weight is transformed again.
        let before = withNoGrad { Backends.with(backend) { conv2d(x, weight: w, .init(padding: 1)) } }.copy()
        w.assign(w * 2)
        let after = withNoGrad { Backends.with(backend) { conv2d(x, weight: w, .init(padding: 1)) } }
        expectClose(after, before * 2, tolerance: 1e-5, "after assign")
    }
}

@Suite("oneDNN backend: Strata's Winograd in training (forward and ∂x)")
struct WinogradTrainingTests {
    @Test(
        "forward, ∂x and ∂W through the backend equal the reference",
        arguments: [
            ([4, 64, 8, 8], [64, 64, 3, 3], Conv2dParameters(padding: 1), false),
            (
                [4, 64, 9, 7], [72, 64, 3, 3],
                Conv2dParameters(stride: (1, 1), padding: (top: 2, bottom: 0, left: 0, right: 1)), true
            ),
        ])
    func training(_ input: [Int], _ weight: [Int], _ p: Conv2dParameters, _ bias: Bool) {
        let backend = DNNLBackend(convolutionAlgorithm: .auto)
        var inputs = [f32(input, 221), f32(weight, 222, std: 0.1)]
        if bias { inputs.append(f32([weight[0]], 223)) }
        let f: ([Tensor]) -> Tensor = { t in conv2d(t[0], weight: t[1], bias: bias ? t[2] : nil, p).relu() }
        let (y, grads) = forwardBackward(backend, inputs, grad: inputs.map { _ in true }, seed: 224, f)
        let (yRef, gradsRef) = forwardBackward(reference, inputs, grad: inputs.map { _ in true }, seed: 224, f)
        expectClose(y, yRef, tolerance: opTolerance, "forward")
        for (i, (a, b)) in zip(grads, gradsRef).enumerated() {
            expectClose(a!, b!, tolerance: opTolerance, "∂input\(i)")
        }
        // Where oneDNN has no Winograd, both the forward and ∂x run Strata's (the forward and ∂x convolutions
        // leave no oneDNN primitive behind); ∂W stays oneDNN's direct kernel.
        let used = backend.convolutionImplementations
        if !DNNLCapabilities.hasWinograd {
            #expect(used["conv.fwd", default: []].isEmpty && used["conv.bwd_data", default: []].isEmpty, "\(used)")
        }
        #expect(!used["conv.bwd_weights", default: []].isEmpty)
    }
}
