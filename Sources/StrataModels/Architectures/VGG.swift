// Very Deep Convolutional Networks for Large-Scale Image Recognition. Simonyan, Zisserman,
// ICLR 2015 (arXiv:1409.1556). Configurations A, B, D, E (VGG-11/13/16/19), with and
// without batch normalization, as torchvision.
import StrataNN
import StrataTensor

public final class VGG: Module {
    /// torchvision's `cfgs`: output channels of each 3×3 conv, 0 for a 2×2 max-pool.
    public static let configurations: [Int: [Int]] = [
        11: [64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0],
        13: [64, 64, 0, 128, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0],
        16: [64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0],
        19: [64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512, 0],
    ]

    let features: Sequential
    let avgpool = AdaptiveAvgPool2d(7)
    let classifier: Sequential

    public init(depth: Int, batchNorm: Bool = false, classes: Int = 1000) {
        guard let cfg = Self.configurations[depth] else {
            preconditionFailure("VGG: no depth \(depth); use 11, 13, 16 or 19")
        }
        var table: [LayerSpec] = []
        for v in cfg {
            if v == 0 {
                table.append(.maxPool(kernel: 2, stride: 2))
                continue
            }
            table.append(.conv(v, kernel: 3, padding: 1))
            if batchNorm { table.append(.batchNorm) }
            table.append(.relu)
        }
        features = makeSequential(table, inChannels: 3) // [N, 512, H/32, W/32]
        classifier = makeSequential(
            [
                .linear(4096), .relu, .dropout(0.5), .linear(4096), .relu, .dropout(0.5),
                .linear(classes),
            ], inChannels: 512 * 7 * 7)
        super.init()
        // torchvision: Kaiming normal (fan-out) convs with zero bias; N(0, 0.01) linears with zero bias.
        for (_, m) in namedModules() {
            if let c = m as? Conv2d {
                Init.set(c.weight, Init.kaimingNormal(c.weight.shape, mode: .fanOut))
                if let b = c.bias { Init.set(b, b.zerosLike()) }
            } else if let l = m as? Linear {
                Init.set(l.weight, Init.normal(l.weight.shape, std: 0.01))
                if let b = l.bias { Init.set(b, b.zerosLike()) }
            }
        }
    }

    public override func forward(_ x: Tensor) -> Tensor {
        classifier(avgpool(features(x)).flattened()) // [N, 512·7·7] → [N, classes]
    }
}
