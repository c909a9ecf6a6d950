// Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning. Szegedy,
// Ioffe, Vanhoucke, Alemi, AAAI 2017 (arXiv:1602.07261, 2016). Inception-ResNet-v2 (Figures
// 7, 16-19) as timm's `inception_resnet_v2` (the TensorFlow-slim layout, whose stem and Mixed_5b
// follow Inception-v3 rather than Figure 3), so its state dict loads: 299×299 input, then
// residual Inception blocks whose branches are concatenated, projected back by a 1×1 conv (with
// bias, no BN), scaled (0.17, 0.10, 0.20: the paper's Section 3.3 scaling of residuals), added
// to the block's input, then ReLU. The last Block8 has scale 1 and no ReLU; a 1×1 conv to 1536
// channels, global average pool and `classif` follow.
import StrataNN
import StrataTensor

public final class InceptionResNetV2: Module {
    // Swift names for timm's keys (`conv2d_1a`, `maxpool_3a`, `repeat`, `repeat_1`, …).
    @ModuleInfo(key: "conv2d_1a") var conv1a = bc(3, 32, 3, stride: 2) // [N, 32, 149, 149] at 299
    @ModuleInfo(key: "conv2d_2a") var conv2a = bc(32, 32, 3) // [N, 32, 147, 147]
    @ModuleInfo(key: "conv2d_2b") var conv2b = bc(32, 64, 3, padding: 1) // [N, 64, 147, 147]
    @ModuleInfo(key: "maxpool_3a") var maxpool3a = MaxPool2d(kernel: 3, stride: 2) // [N, 64, 73, 73]
    @ModuleInfo(key: "conv2d_3b") var conv3b = bc(64, 80, 1) // [N, 80, 73, 73]
    @ModuleInfo(key: "conv2d_4a") var conv4a = bc(80, 192, 3) // [N, 192, 71, 71]
    @ModuleInfo(key: "maxpool_5a") var maxpool5a = MaxPool2d(kernel: 3, stride: 2) // [N, 192, 35, 35]
    @ModuleInfo(key: "mixed_5b") var mixed5b = Mixed5b() // [N, 320, 35, 35]
    // 10 × Inception-ResNet-A: [N, 320, 35, 35]
    @ModuleInfo(key: "repeat") var block35s = Sequential((0..<10).map { _ in Block35(scale: 0.17) })
    @ModuleInfo(key: "mixed_6a") var mixed6a = Mixed6a() // [N, 1088, 17, 17]
    // 20 × Inception-ResNet-B: [N, 1088, 17, 17]
    @ModuleInfo(key: "repeat_1") var block17s = Sequential((0..<20).map { _ in Block17(scale: 0.10) })
    @ModuleInfo(key: "mixed_7a") var mixed7a = Mixed7a() // [N, 2080, 8, 8]
    // 9 × Inception-ResNet-C: [N, 2080, 8, 8]
    @ModuleInfo(key: "repeat_2") var block8s = Sequential((0..<9).map { _ in Block8(scale: 0.20) })
    let block8 = Block8(scale: 1, relu: false) // [N, 2080, 8, 8]
    @ModuleInfo(key: "conv2d_7b") var conv7b = bc(2080, 1536, 1) // [N, 1536, 8, 8]
    let classif: Linear

    public init(classes: Int = 1000) {
        classif = Linear(1536, classes)
    }

    public override func forward(_ x: Tensor) -> Tensor {
        var h = conv2b(conv2a(conv1a(x)))
        h = maxpool5a(conv4a(conv3b(maxpool3a(h))))
        h = block35s(mixed5b(h))
        h = block17s(mixed6a(h))
        h = block8(block8s(mixed7a(h)))
        return classif(adaptiveAvgPool2d(conv7b(h), outputSize: (1, 1)).flattened()) // [N, classes]
    }
}

/// out = act(x + scale · conv2d(branches)): the residual step of Block35, Block17 and Block8, in
/// timm's order of operations (multiply, then add), so Float64 results agree to the last bits.
/// A scale of 1 skips the multiply (x · 1 = x exactly).
private func scaledResidual(_ x: Tensor, _ projected: Tensor, scale: Double, relu: Bool) -> Tensor {
    let out = (scale == 1 ? projected : projected * scale) + x
    return relu ? out.relu() : out
}

extension InceptionResNetV2 {
    /// 35×35 entry (Inception-v3's Mixed_5b shape with timm's channels): 192 → 96 + 64 + 96 + 64.
    public final class Mixed5b: Module {
        let branch0 = bc(192, 96, 1)
        let branch1 = Sequential(bc(192, 48, 1), bc(48, 64, 5, padding: 2))
        let branch2 = Sequential(bc(192, 64, 1), bc(64, 96, 3, padding: 1), bc(96, 96, 3, padding: 1))
        let branch3 = inceptionPoolBranch(bc(192, 64, 1))

        public override func forward(_ x: Tensor) -> Tensor {
            Tensor.concatenate([branch0(x), branch1(x), branch2(x), branch3(x)], axis: 1)
        }
    }

    /// Inception-ResNet-A, 35×35 (Figure 16): 1×1 ‖ 1×1 → 3×3 ‖ 1×1 → 3×3 → 3×3, 32 + 32 + 64 → 1×1 to 320.
    public final class Block35: Module {
        let branch0 = bc(320, 32, 1)
        let branch1 = Sequential(bc(320, 32, 1), bc(32, 32, 3, padding: 1))
        let branch2 = Sequential(bc(320, 32, 1), bc(32, 48, 3, padding: 1), bc(48, 64, 3, padding: 1))
        let conv2d = Conv2d(128, 320, kernel: 1)
        let scale: Double

        public init(scale: Double) { self.scale = scale }

        public override func forward(_ x: Tensor) -> Tensor {
            let h = Tensor.concatenate([branch0(x), branch1(x), branch2(x)], axis: 1) // [N, 128, H, W]
            return scaledResidual(x, conv2d(h), scale: scale, relu: true)
        }
    }

    /// Grid reduction 35 → 17 (Figure 7, k=256, l=256, m=384, n=384): 320 → 384 + 384 + 320.
    public final class Mixed6a: Module {
        let branch0 = bc(320, 384, 3, stride: 2)
        let branch1 = Sequential(bc(320, 256, 1), bc(256, 256, 3, padding: 1), bc(256, 384, 3, stride: 2))
        let branch2 = MaxPool2d(kernel: 3, stride: 2)

        public override func forward(_ x: Tensor) -> Tensor {
            Tensor.concatenate([branch0(x), branch1(x), branch2(x)], axis: 1)
        }
    }

    /// Inception-ResNet-B, 17×17 (Figure 17): 1×1 ‖ 1×1 → 1×7 → 7×1, 192 + 192 → 1×1 to 1088.
    public final class Block17: Module {
        let branch0 = bc(1088, 192, 1)
        let branch1 = Sequential(
            bc(1088, 128, 1), bc(128, 160, (1, 7), padding: (0, 3)), bc(160, 192, (7, 1), padding: (3, 0)))
        let conv2d = Conv2d(384, 1088, kernel: 1)
        let scale: Double

        public init(scale: Double) { self.scale = scale }

        public override func forward(_ x: Tensor) -> Tensor {
            let h = Tensor.concatenate([branch0(x), branch1(x)], axis: 1) // [N, 384, H, W]
            return scaledResidual(x, conv2d(h), scale: scale, relu: true)
        }
    }

    /// Grid reduction 17 → 8 (Figure 18): 1088 → 384 + 288 + 320 + 1088.
    public final class Mixed7a: Module {
        let branch0 = Sequential(bc(1088, 256, 1), bc(256, 384, 3, stride: 2))
        let branch1 = Sequential(bc(1088, 256, 1), bc(256, 288, 3, stride: 2))
        let branch2 = Sequential(bc(1088, 256, 1), bc(256, 288, 3, padding: 1), bc(288, 320, 3, stride: 2))
        let branch3 = MaxPool2d(kernel: 3, stride: 2)

        public override func forward(_ x: Tensor) -> Tensor {
            Tensor.concatenate([branch0(x), branch1(x), branch2(x), branch3(x)], axis: 1)
        }
    }

    /// Inception-ResNet-C, 8×8 (Figure 19): 1×1 ‖ 1×1 → 1×3 → 3×1, 192 + 256 → 1×1 to 2080.
    public final class Block8: Module {
        let branch0 = bc(2080, 192, 1)
        let branch1 = Sequential(
            bc(2080, 192, 1), bc(192, 224, (1, 3), padding: (0, 1)), bc(224, 256, (3, 1), padding: (1, 0)))
        let conv2d = Conv2d(448, 2080, kernel: 1)
        let scale: Double
        let relu: Bool

        public init(scale: Double, relu: Bool = true) { (self.scale, self.relu) = (scale, relu) }

        public override func forward(_ x: Tensor) -> Tensor {
            let h = Tensor.concatenate([branch0(x), branch1(x)], axis: 1) // [N, 448, H, W]
            return scaledResidual(x, conv2d(h), scale: scale, relu: relu)
        }
    }
}
