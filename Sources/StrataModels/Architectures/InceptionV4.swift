// Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning. Szegedy,
// Ioffe, Vanhoucke, Alemi, AAAI 2017 (arXiv:1602.07261, 2016). Inception-v4 (Figures 3-9)
// as timm's `inception_v4` (Cadene's port of the TensorFlow weights), so its state dict loads:
// 299×299 input, every conv conv(no bias)-BN(eps 1e-3)-ReLU, the blocks in one `features`
// stack (0-2 stem convs, 3-5 stem mixes, 6-9 Inception-A, 10 Reduction-A, 11-17 Inception-B,
// 18 Reduction-B, 19-21 Inception-C), global average pool, `last_linear`. The pool branches
// average without counting the padding (timm's count_include_pad=False). No auxiliary head.
import StrataNN
import StrataTensor

public final class InceptionV4: Module {
    let features: Sequential
    @ModuleInfo(key: "last_linear") var lastLinear: Linear

    public init(classes: Int = 1000) {
        var blocks: [Module] = [
            bc(3, 32, 3, stride: 2), // [N, 32, 149, 149] at 299
            bc(32, 32, 3), // [N, 32, 147, 147]
            bc(32, 64, 3, padding: 1), // [N, 64, 147, 147]
            Mixed3a(), // [N, 160, 73, 73]
            Mixed4a(), // [N, 192, 71, 71]
            Mixed5a(), // [N, 384, 35, 35]
        ]
        blocks += (0..<4).map { _ in InceptionA() } // [N, 384, 35, 35]
        blocks.append(ReductionA()) // [N, 1024, 17, 17]
        blocks += (0..<7).map { _ in InceptionB() } // [N, 1024, 17, 17]
        blocks.append(ReductionB()) // [N, 1536, 8, 8]
        blocks += (0..<3).map { _ in InceptionC() } // [N, 1536, 8, 8]
        features = Sequential(blocks)
        _lastLinear.wrappedValue = Linear(1536, classes)
    }

    public override func forward(_ x: Tensor) -> Tensor {
        lastLinear(adaptiveAvgPool2d(features(x), outputSize: (1, 1)).flattened()) // [N, classes]
    }
}

extension InceptionV4 {
    /// Stem, first mix (Figure 3): 3×3/2 max pool ‖ 3×3/2 conv, 64 → 64 + 96.
    public final class Mixed3a: Module {
        let maxpool = MaxPool2d(kernel: 3, stride: 2)
        let conv = bc(64, 96, 3, stride: 2)

        public override func forward(_ x: Tensor) -> Tensor { Tensor.concatenate([maxpool(x), conv(x)], axis: 1) }
    }

    /// Stem, second mix: 1×1 → 3×3 ‖ 1×1 → 1×7 → 7×1 → 3×3 (both unpadded), 160 → 96 + 96.
    public final class Mixed4a: Module {
        let branch0 = Sequential(bc(160, 64, 1), bc(64, 96, 3))
        let branch1 = Sequential(
            bc(160, 64, 1), bc(64, 64, (1, 7), padding: (0, 3)), bc(64, 64, (7, 1), padding: (3, 0)),
            bc(64, 96, 3))

        public override func forward(_ x: Tensor) -> Tensor { Tensor.concatenate([branch0(x), branch1(x)], axis: 1) }
    }

    /// Stem, third mix: 3×3/2 conv ‖ 3×3/2 max pool, 192 → 192 + 192.
    public final class Mixed5a: Module {
        let conv = bc(192, 192, 3, stride: 2)
        let maxpool = MaxPool2d(kernel: 3, stride: 2)

        public override func forward(_ x: Tensor) -> Tensor { Tensor.concatenate([conv(x), maxpool(x)], axis: 1) }
    }

    /// 35×35 grid (Figure 4): 1×1 ‖ 1×1 → 3×3 ‖ 1×1 → 3×3 → 3×3 ‖ avg pool → 1×1, 384 → 4 × 96.
    public final class InceptionA: Module {
        let branch0 = bc(384, 96, 1)
        let branch1 = Sequential(bc(384, 64, 1), bc(64, 96, 3, padding: 1))
        let branch2 = Sequential(bc(384, 64, 1), bc(64, 96, 3, padding: 1), bc(96, 96, 3, padding: 1))
        let branch3 = inceptionPoolBranch(bc(384, 96, 1))

        public override func forward(_ x: Tensor) -> Tensor {
            Tensor.concatenate([branch0(x), branch1(x), branch2(x), branch3(x)], axis: 1)
        }
    }

    /// Grid reduction 35 → 17 (Figure 7, k=192, l=224, m=256, n=384): 384 → 384 + 256 + 384.
    public final class ReductionA: Module {
        let branch0 = bc(384, 384, 3, stride: 2)
        let branch1 = Sequential(bc(384, 192, 1), bc(192, 224, 3, padding: 1), bc(224, 256, 3, stride: 2))
        let branch2 = MaxPool2d(kernel: 3, stride: 2)

        public override func forward(_ x: Tensor) -> Tensor {
            Tensor.concatenate([branch0(x), branch1(x), branch2(x)], axis: 1)
        }
    }

    /// 17×17 grid (Figure 5), 7×7 factorized into 1×7 and 7×1: 1024 → 384 + 256 + 256 + 128.
    public final class InceptionB: Module {
        let branch0 = bc(1024, 384, 1)
        let branch1 = Sequential(
            bc(1024, 192, 1), bc(192, 224, (1, 7), padding: (0, 3)), bc(224, 256, (7, 1), padding: (3, 0)))
        let branch2 = Sequential(
            bc(1024, 192, 1), bc(192, 192, (7, 1), padding: (3, 0)), bc(192, 224, (1, 7), padding: (0, 3)),
            bc(224, 224, (7, 1), padding: (3, 0)), bc(224, 256, (1, 7), padding: (0, 3)))
        let branch3 = inceptionPoolBranch(bc(1024, 128, 1))

        public override func forward(_ x: Tensor) -> Tensor {
            Tensor.concatenate([branch0(x), branch1(x), branch2(x), branch3(x)], axis: 1)
        }
    }

    /// Grid reduction 17 → 8 (Figure 8): 1024 → 192 + 320 + 1024.
    public final class ReductionB: Module {
        let branch0 = Sequential(bc(1024, 192, 1), bc(192, 192, 3, stride: 2))
        let branch1 = Sequential(
            bc(1024, 256, 1), bc(256, 256, (1, 7), padding: (0, 3)), bc(256, 320, (7, 1), padding: (3, 0)),
            bc(320, 320, 3, stride: 2))
        let branch2 = MaxPool2d(kernel: 3, stride: 2)

        public override func forward(_ x: Tensor) -> Tensor {
            Tensor.concatenate([branch0(x), branch1(x), branch2(x)], axis: 1)
        }
    }

    /// 8×8 grid (Figure 6), the 3×3s split into parallel 1×3 and 3×1: 1536 → 256 + 2·256 + 2·256 + 256.
    public final class InceptionC: Module {
        let branch0 = bc(1536, 256, 1)
        @ModuleInfo(key: "branch1_0") var branch1Step0 = bc(1536, 384, 1)
        @ModuleInfo(key: "branch1_1a") var branch1Step1a = bc(384, 256, (1, 3), padding: (0, 1))
        @ModuleInfo(key: "branch1_1b") var branch1Step1b = bc(384, 256, (3, 1), padding: (1, 0))
        @ModuleInfo(key: "branch2_0") var branch2Step0 = bc(1536, 384, 1)
        @ModuleInfo(key: "branch2_1") var branch2Step1 = bc(384, 448, (3, 1), padding: (1, 0))
        @ModuleInfo(key: "branch2_2") var branch2Step2 = bc(448, 512, (1, 3), padding: (0, 1))
        @ModuleInfo(key: "branch2_3a") var branch2Step3a = bc(512, 256, (1, 3), padding: (0, 1))
        @ModuleInfo(key: "branch2_3b") var branch2Step3b = bc(512, 256, (3, 1), padding: (1, 0))
        let branch3 = inceptionPoolBranch(bc(1536, 256, 1))

        public override func forward(_ x: Tensor) -> Tensor {
            let b1 = branch1Step0(x)
            let b2 = branch2Step2(branch2Step1(branch2Step0(x)))
            return Tensor.concatenate(
                [
                    branch0(x), branch1Step1a(b1), branch1Step1b(b1), branch2Step3a(b2), branch2Step3b(b2),
                    branch3(x),
                ], axis: 1)
        }
    }
}
