import StrataTensor
import StrataTestSupport
import Testing
import _CDNNL

@testable import StrataDNNL

// What adapts to the CPU: the channel block (nChw16c on AVX-512, nChw8c on AVX2), the kernels
// oneDNN picks in it, and the Swift paths that read and write blocked buffers. The Swift block
// paths are also run with the block the CPU does not use, so an AVX2-only machine still tests
// the AVX-512 path's Swift code and the other way round (CI also reruns the suite under
// DNNL_MAX_CPU_ISA=AVX2).

@Suite("oneDNN backend: CPU capabilities and channel blocks")
struct DNNLCapabilityTests {
    @Test("the channel block is the one oneDNN's convolutions choose, and matches the ISA")
    func channelBlock() {
        let block = DNNLCapabilities.channelBlock
        print("note: \(DNNLCapabilities.summary)")
        #expect(block == 8 || block == 16)
        #expect((block == 16) == DNNLCapabilities.isa.hasPrefix("avx512"), "\(DNNLCapabilities.summary)")
        let y = Backends.with(dnnl) {
            conv2d(f32([2, 16, 6, 6], 1), weight: f32([32, 16, 3, 3], 2), .init(padding: 1))
        }
        let md = (y.layout as? DNNLLayout)?.md
        #expect(md?.channelBlock == block, "\(md?.formatDescription ?? "row-major")")
    }

    /// The cliff the AVX2 machine showed: batch norm on a block the ISA has no JIT kernel for ran oneDNN's
    /// reference implementation (~25 ms per call on DenseNet-BC's few-hundred-KB tensors).
    @Test("batch norm, ReLU, pooling and concatenation run JIT kernels on DenseNet-BC's 12-channel concatenations")
    func jitKernelsOnPaddedConcatenations() {
        let backend = DNNLBackend(convolutionAlgorithm: .direct)
        let inputs = [
            f32([4, 24, 8, 8], 3), f32([12, 24, 3, 3], 4, std: 0.2), f32([12, 24, 3, 3], 5, std: 0.2),
            f32([48], 6) + 1, f32([48], 7), f32([8, 48, 1, 1], 8, std: 0.2),
        ]
        // A dense block's step: [x (24) | conv (12) | conv (12)] → bn → relu → 1×1 conv → 2×2 average pool.
        // Parts start inside channel blocks (24 on nChw16c, 36 on both), so every tensor is padded.
        func step(_ t: [Tensor]) -> Tensor {
            let joined = Tensor.concatenate(
                [
                    t[0], conv2d(t[0], weight: t[1], .init(padding: 1)),
                    conv2d(t[0], weight: t[2], .init(padding: 1)),
                ], axis: 1)
            let normed = batchNorm2d(
                joined, runningMean: nil, runningVar: nil, weight: t[3], bias: t[4], training: true
            ).relu()
            return avgPool2d(conv2d(normed, weight: t[5]), .init(kernel: 2))
        }
        let (y, grads) = forwardBackward(backend, inputs, grad: inputs.map { _ in true }, seed: 9, step)
        let (yRef, gradsRef) = forwardBackward(reference, inputs, grad: inputs.map { _ in true }, seed: 9, step)
        expectClose(y, yRef, tolerance: opTolerance, "forward")
        for (i, (a, b)) in zip(grads, gradsRef).enumerated() {
            expectClose(a!, b!, tolerance: opTolerance, "∂input\(i)")
        }
        for (op, names) in backend.primitiveImplementations() {
            #expect(
                !names.contains { $0.contains("ref") },
                "\(op) runs a reference kernel on \(DNNLCapabilities.summary): \(names)")
        }
        #expect(!backend.primitiveImplementations(prefix: "bn.").isEmpty, "batch norm ran on oneDNN")
    }

    @Test("padded blocked ↔ row-major conversion in Swift, both block sizes", arguments: [8, 16])
    func paddedConversion(_ block: Int) {
        let shape = [3, block + 5, 4, 3]
        let x = f32(shape, 10)
        let blocked = MemoryDesc.channelBlocked(shape, block: block)
        let plain = MemoryDesc.plain(shape)
        let b = Buffer.bytes(blocked.byteCount)
        b.pointer.initializeMemory(as: UInt8.self, repeating: 0xFF, count: blocked.byteCount) // NaN until written
        #expect(PaddedChannelBlocks.convert(x.storage, from: plain, into: b, to: blocked))
        // Every element where oneDNN's own reorder puts it, padding zero.
        let viaDNNL = Buffer.bytes(blocked.byteCount)
        blocked.zeroPadding(viaDNNL)
        orTrap {
            try Reorders.primitive(from: plain, to: blocked).execute([
                .init(DNNL_ARG_FROM, plain, x.storage),
                .init(DNNL_ARG_TO, blocked, viaDNNL),
            ])
        }
        let count = blocked.byteCount / 4
        let same = (0..<count).allSatisfy { b.typed(Float.self)[$0] == viaDNNL.typed(Float.self)[$0] }
        #expect(same, "Swift and oneDNN agree on the nChw\(block)c buffer, padding included")
        let back = Buffer.bytes(plain.byteCount)
        #expect(PaddedChannelBlocks.convert(b, from: blocked, into: back, to: plain))
        expectClose(Tensor(shape: shape, storage: back), x, tolerance: 0, "round trip nChw\(block)c")
    }

    @Test(
        "split and concatenation of blocked tensors whose parts start inside blocks, both block sizes",
        arguments: [8, 16])
    func blockedSplitConcat(_ block: Int) {
        let sizes = [5, 12, 3, 20]
        let shape = [2, sizes.reduce(0, +), 3, 4]
        let x = f32(shape, 11)
        let md = MemoryDesc.channelBlocked(shape, block: block)
        let blocked = Tensor(shape: shape, physical: dnnl.input(x, as: md), layout: DNNLLayout(md))
        let parts = dnnl.split(blocked, axis: 1, sizes: sizes)
        let expected = reference.split(x, axis: 1, sizes: sizes)
        for (i, (p, e)) in zip(parts, expected).enumerated() {
            #expect((p.layout as? DNNLLayout)?.md.channelBlock == block, "part \(i) stays in nChw\(block)c")
            expectClose(p, e, tolerance: 0, "part \(i) in nChw\(block)c")
        }
        // And back: the gather into one blocked tensor (parts start inside blocks: 5, 17, 20).
        let joined = dnnl.concatenateBlocked(parts, outShape: shape, block: block)
        #expect((joined?.layout as? DNNLLayout)?.md.channelBlock == block, "the concatenation is in nChw\(block)c")
        if let joined { expectClose(joined, x, tolerance: 0, "concatenation in nChw\(block)c") }
    }

    @Test("the NaN scan before max pooling finds a NaN anywhere: vector body, tail, chunk edges")
    func nanScan() {
        let count = 70_001
        let b = Buffer(dtype: .float32, count: count)
        let p = b.typed(Float.self)
        for i in 0..<count { p[i] = Float(i % 97) - 40 }
        #expect(!DNNLBackend.containsNaN(b, count: count))
        for at in [0, 7, 8, 65_535, 65_536, 69_999, 70_000] {
            p[at] = .nan
            #expect(DNNLBackend.containsNaN(b, count: count), "NaN at \(at)")
            p[at] = 1
        }
        p[count - 1] = .infinity
        #expect(!DNNLBackend.containsNaN(b, count: count), "infinity is not NaN")
    }
}
