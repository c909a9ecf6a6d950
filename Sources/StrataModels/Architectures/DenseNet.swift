// Densely Connected Convolutional Networks. Huang, Liu, van der Maaten, Weinberger, CVPR 2017
// (arXiv:1608.06993).
//
// - DenseNet-121/161/169/201 for ImageNet, exactly as torchvision (names included).
// - DenseNet-BC for CIFAR (Section 3, "Implementation Details"): a 3×3 stem conv with 2k
//   channels, three dense blocks of (L − 4)/6 bottleneck layers, compression 0.5; any L and k.
import StrataNN
import StrataTensor

/// BN-ReLU-Conv(1×1, 4k)-BN-ReLU-Conv(3×3, k): one layer of a dense block (the "B" in BC).
public final class DenseLayer: Module {
    let norm1: BatchNorm2d
    let relu1 = ReLU()
    let conv1: Conv2d
    let norm2: BatchNorm2d
    let relu2 = ReLU()
    let conv2: Conv2d

    public init(_ inChannels: Int, growthRate: Int, bottleneckWidth: Int = 4) {
        norm1 = BatchNorm2d(inChannels)
        conv1 = Conv2d(inChannels, bottleneckWidth * growthRate, kernel: 1, bias: false)
        norm2 = BatchNorm2d(bottleneckWidth * growthRate)
        conv2 = Conv2d(bottleneckWidth * growthRate, growthRate, kernel: 3, padding: 1, bias: false)
    }

    /// `x` is the concatenation of every earlier feature map of the block: [N, C_in, H, W] → [N, k, H, W].
    public override func forward(_ x: Tensor) -> Tensor {
        conv2(relu2(norm2(conv1(relu1(norm1(x))))))
    }
}

/// Each layer sees the concatenation of the block input and all earlier layers' outputs.
public final class DenseBlock: Module {
    let layers: Sequential

    public init(layers count: Int, inChannels: Int, growthRate: Int, bottleneckWidth: Int = 4) {
        layers = Sequential(
            named: (0..<count).map { i in
                (
                    "denselayer\(i + 1)",
                    DenseLayer(inChannels + i * growthRate, growthRate: growthRate, bottleneckWidth: bottleneckWidth)
                )
            })
    }

    // The layers are direct children (torchvision: `denseblock1.denselayer1.conv1.weight`).
    public override func namedChildren() -> [(String, Module)] { layers.namedChildren() }

    public override func forward(_ x: Tensor) -> Tensor {
        var features = [x]
        for (_, layer) in layers.layers {
            features.append(layer(Tensor.concatenate(features, axis: 1))) // + [N, k, H, W]
        }
        return Tensor.concatenate(features, axis: 1) // [N, C + n·k, H, W]
    }
}

/// BN-ReLU-Conv(1×1)-AvgPool(2×2) between dense blocks.
public final class Transition: Module {
    let norm: BatchNorm2d
    let relu = ReLU()
    let conv: Conv2d
    let pool = AvgPool2d(kernel: 2, stride: 2)

    public init(_ inChannels: Int, _ outChannels: Int) {
        norm = BatchNorm2d(inChannels)
        conv = Conv2d(inChannels, outChannels, kernel: 1, bias: false)
    }

    public override func forward(_ x: Tensor) -> Tensor { pool(conv(relu(norm(x)))) }
}

public final class DenseNet: Module {
    /// torchvision's configurations: (growth rate k, layers per block, stem channels).
    public static let configurations: [Int: (growth: Int, blocks: [Int], stem: Int)] = [
        121: (32, [6, 12, 24, 16], 64),
        161: (48, [6, 12, 36, 24], 96),
        169: (32, [6, 12, 32, 32], 64),
        201: (32, [6, 12, 48, 32], 64),
    ]

    let features: Sequential
    let classifier: Linear

    /// ImageNet DenseNet-121/161/169/201 (torchvision).
    public convenience init(depth: Int, classes: Int = 1000) {
        guard let c = Self.configurations[depth] else { preconditionFailure("DenseNet: no depth \(depth)") }
        self.init(
            growthRate: c.growth, blocks: c.blocks, stemChannels: c.stem, compression: 0.5, imagenetStem: true,
            classes: classes)
    }

    /// DenseNet-BC for CIFAR with depth L (= 6n + 4) and growth rate k (L = 100, k = 12 in the paper).
    public convenience init(cifarDepth depth: Int, growthRate: Int = 12, compression: Double = 0.5, classes: Int = 10) {
        precondition(depth >= 10 && (depth - 4) % 6 == 0, "DenseNet-BC: depth must be 6n+4, got \(depth)")
        let n = (depth - 4) / 6
        self.init(
            growthRate: growthRate, blocks: [n, n, n], stemChannels: 2 * growthRate, compression: compression,
            imagenetStem: false, classes: classes)
    }

    init(growthRate: Int, blocks: [Int], stemChannels: Int, compression: Double, imagenetStem: Bool, classes: Int) {
        var named: [(String, Module)]
        if imagenetStem {
            named = [
                ("conv0", Conv2d(3, stemChannels, kernel: 7, stride: 2, padding: 3, bias: false)), // [N, C0, H/2, W/2]
                ("norm0", BatchNorm2d(stemChannels)), ("relu0", ReLU()),
                ("pool0", MaxPool2d(kernel: 3, stride: 2, padding: 1)),
            ] // [N, C0, H/4, W/4]
        } else {
            named = [("conv0", Conv2d(3, stemChannels, kernel: 3, padding: 1, bias: false))] // [N, 2k, H, W]
        }
        var channels = stemChannels
        for (i, count) in blocks.enumerated() {
            named.append(
                ("denseblock\(i + 1)", DenseBlock(layers: count, inChannels: channels, growthRate: growthRate)))
            channels += count * growthRate
            if i != blocks.count - 1 {
                let out = Int((Double(channels) * compression).rounded(.down))
                named.append(("transition\(i + 1)", Transition(channels, out))) // halves H, W
                channels = out
            }
        }
        named.append(("norm5", BatchNorm2d(channels)))
        features = Sequential(named: named)
        classifier = Linear(channels, classes)
        super.init()
        // torchvision: Kaiming normal convs, zero linear bias (BN 1, 0 by default).
        for (_, m) in namedModules() {
            if let c = m as? Conv2d { Init.set(c.weight, Init.kaimingNormal(c.weight.shape)) }
        }
        if let b = classifier.bias { Init.set(b, b.zerosLike()) }
    }

    public override func forward(_ x: Tensor) -> Tensor {
        let h = features(x).relu()
        return classifier(adaptiveAvgPool2d(h, outputSize: (1, 1)).flattened())
    }
}
