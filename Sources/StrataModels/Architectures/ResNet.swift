// Deep Residual Learning for Image Recognition. He, Zhang, Ren, Sun, CVPR 2016 (arXiv:1512.03385).
//
// - ImageNet ResNet-18/34/50/101/152 exactly as torchvision (stride in the 3×3 conv of the
//   bottleneck, "ResNet v1.5"; projection shortcuts `downsample` = 1×1 conv + BN).
// - The paper's CIFAR ResNets (Section 4.2): 6n+2 layers, 16/32/64 filters, option A
//   parameter-free shortcuts (strided subsample + zero-padded channels) or option B
//   (projection where the shape changes), and the "plain" nets without shortcuts.
import StrataNN
import StrataTensor

/// How a residual block adds its input back.
public enum ShortcutKind: String, Sendable, CaseIterable {
    /// Option A: identity, or strided subsample + zero channels where the shape changes (no parameters).
    case optionA = "A"
    /// Option B: identity, or a 1×1 projection conv + BN where the shape changes.
    case projection = "B"
    /// A plain network: no shortcut at all.
    case none
}

/// Two 3×3 convolutions with a shortcut (ResNet-18/34 and the CIFAR ResNets).
public final class BasicBlock: Module {
    public static let expansion = 1
    let conv1: Conv2d
    let bn1: BatchNorm2d?
    let conv2: Conv2d
    let bn2: BatchNorm2d?
    let relu = ReLU()
    let downsample: Sequential?
    let shortcut: ShortcutKind
    let outChannels: Int, stride: Int

    /// A basic block from `inChannels` to `planes` channels.
    ///
    /// - Parameters:
    ///   - inChannels: channels of the block's input.
    ///   - planes: channels of both 3×3 convolutions and of the output.
    ///   - stride: the first convolution's stride (2 halves the feature map).
    ///   - shortcut: the shortcut where the shape changes: a 1×1 projection (option B), a strided
    ///     identity with zero channels (option A, the CIFAR networks), or none (a plain network).
    ///   - batchNorm: false builds the block without its batch norms (their convolutions then have
    ///     biases; a projection shortcut is a biased 1×1 conv alone), for experiments on what batch norm does.
    public init(
        _ inChannels: Int, _ planes: Int, stride: Int = 1, shortcut: ShortcutKind = .projection, batchNorm: Bool = true
    ) {
        conv1 = Conv2d(inChannels, planes, kernel: 3, stride: stride, padding: 1, bias: !batchNorm)
        bn1 = batchNorm ? BatchNorm2d(planes) : nil
        conv2 = Conv2d(planes, planes, kernel: 3, padding: 1, bias: !batchNorm)
        bn2 = batchNorm ? BatchNorm2d(planes) : nil
        let reshapes = stride != 1 || inChannels != planes
        downsample =
            shortcut == .projection && reshapes
            ? (batchNorm
                ? Sequential(Conv2d(inChannels, planes, kernel: 1, stride: stride, bias: false), BatchNorm2d(planes))
                : Sequential(Conv2d(inChannels, planes, kernel: 1, stride: stride, bias: true))) : nil
        self.shortcut = shortcut
        (outChannels, self.stride) = (planes, stride)
    }

    public override func forward(_ x: Tensor) -> Tensor {
        var out = conv1(x) // [N, planes, H/s, W/s]
        if let bn1 { out = bn1(out) }
        out = conv2(relu(out))
        if let bn2 { out = bn2(out) }
        switch shortcut {
        case .none: break
        case .projection: out = out + (downsample.map { $0(x) } ?? x)
        case .optionA: out = out + optionAShortcut(x, outChannels: outChannels, stride: stride)
        }
        return relu(out)
    }
}

/// 1×1 reduce, 3×3 (carrying the stride), 1×1 expand ×4, with a shortcut (ResNet-50/101/152).
public final class Bottleneck: Module {
    public static let expansion = 4
    let conv1: Conv2d
    let bn1: BatchNorm2d
    let conv2: Conv2d
    let bn2: BatchNorm2d
    let conv3: Conv2d
    let bn3: BatchNorm2d
    let relu = ReLU()
    let downsample: Sequential?

    public init(_ inChannels: Int, _ planes: Int, stride: Int = 1) {
        let out = planes * Self.expansion
        conv1 = Conv2d(inChannels, planes, kernel: 1, bias: false)
        bn1 = BatchNorm2d(planes)
        conv2 = Conv2d(planes, planes, kernel: 3, stride: stride, padding: 1, bias: false)
        bn2 = BatchNorm2d(planes)
        conv3 = Conv2d(planes, out, kernel: 1, bias: false)
        bn3 = BatchNorm2d(out)
        downsample =
            stride != 1 || inChannels != out
            ? Sequential(Conv2d(inChannels, out, kernel: 1, stride: stride, bias: false), BatchNorm2d(out)) : nil
    }

    public override func forward(_ x: Tensor) -> Tensor {
        var out = relu(bn1(conv1(x))) // [N, planes, H, W]   1×1 reduction
        out = relu(bn2(conv2(out))) // [N, planes, H/s, W/s]
        out = bn3(conv3(out)) // [N, 4·planes, H/s, W/s]
        return relu(out + (downsample.map { $0(x) } ?? x))
    }
}

/// torchvision's ResNet for 224×224 ImageNet-style input.
public final class ResNet: Module {
    public enum Block: Sendable { case basic, bottleneck }

    /// Blocks per stage for each depth (the paper's Table 1).
    public static let configurations: [Int: (Block, [Int])] = [
        18: (.basic, [2, 2, 2, 2]),
        34: (.basic, [3, 4, 6, 3]),
        50: (.bottleneck, [3, 4, 6, 3]),
        101: (.bottleneck, [3, 4, 23, 3]),
        152: (.bottleneck, [3, 8, 36, 3]),
    ]

    let conv1: Conv2d
    let bn1: BatchNorm2d
    let relu = ReLU()
    let maxpool = MaxPool2d(kernel: 3, stride: 2, padding: 1)
    let layer1: Sequential, layer2: Sequential, layer3: Sequential, layer4: Sequential
    let avgpool = AdaptiveAvgPool2d(1)
    let fc: Linear

    public init(block: Block, layers: [Int], classes: Int = 1000) {
        precondition(layers.count == 4, "ResNet: four stages, got \(layers)")
        conv1 = Conv2d(3, 64, kernel: 7, stride: 2, padding: 3, bias: false)
        bn1 = BatchNorm2d(64)
        var inChannels = 64
        func stage(_ planes: Int, _ count: Int, stride: Int) -> Sequential {
            let stage = Sequential()
            for i in 0..<count {
                switch block {
                case .basic:
                    stage.append(BasicBlock(inChannels, planes, stride: i == 0 ? stride : 1))
                    inChannels = planes
                case .bottleneck:
                    stage.append(Bottleneck(inChannels, planes, stride: i == 0 ? stride : 1))
                    inChannels = planes * Bottleneck.expansion
                }
            }
            return stage
        }
        layer1 = stage(64, layers[0], stride: 1)
        layer2 = stage(128, layers[1], stride: 2)
        layer3 = stage(256, layers[2], stride: 2)
        layer4 = stage(512, layers[3], stride: 2)
        fc = Linear(inChannels, classes)
        super.init()
        initializeResNetWeights(self)
    }

    public convenience init(depth: Int, classes: Int = 1000) {
        guard let (block, layers) = Self.configurations[depth] else { preconditionFailure("ResNet: no depth \(depth)") }
        self.init(block: block, layers: layers, classes: classes)
    }

    public override func forward(_ x: Tensor) -> Tensor {
        var h = maxpool(relu(bn1(conv1(x)))) // [N, 64, H/4, W/4]
        h = layer1(h) // [N, 64·e, H/4, W/4]
        h = layer2(h) // [N, 128·e, H/8, W/8]
        h = layer3(h) // [N, 256·e, H/16, W/16]
        h = layer4(h) // [N, 512·e, H/32, W/32]
        return fc(avgpool(h).flattened()) // [N, classes]
    }
}

/// The paper's CIFAR-10 networks (Section 4.2): a 3×3 conv with 16 filters, three stages of
/// n blocks at 16, 32 and 64 filters (32×32, 16×16, 8×8), global average pooling and a
/// linear classifier: 6n + 2 weighted layers.
public final class CIFARResNet: Module {
    let conv1: Conv2d
    let bn1: BatchNorm2d?
    let relu = ReLU()
    let layer1: Sequential, layer2: Sequential, layer3: Sequential
    let avgpool = AdaptiveAvgPool2d(1)
    let fc: Linear

    /// - Parameters:
    ///   - depth: 6n + 2 (20, 32, 44, 56, 110, …).
    ///   - classes: outputs of the classifier.
    ///   - shortcut: option A (the paper's CIFAR choice), B, or none for a plain net.
    ///   - batchNorm: false leaves out every batch norm (biased convolutions instead): the
    ///     registry's `resnetN_nobn` and `plainN_nobn`, for gradient-flow and batch-norm experiments.
    public init(depth: Int, classes: Int = 10, shortcut: ShortcutKind = .optionA, batchNorm: Bool = true) {
        precondition(depth >= 8 && (depth - 2) % 6 == 0, "CIFARResNet: depth must be 6n+2, got \(depth)")
        let n = (depth - 2) / 6
        conv1 = Conv2d(3, 16, kernel: 3, padding: 1, bias: !batchNorm)
        bn1 = batchNorm ? BatchNorm2d(16) : nil
        var inChannels = 16
        func stage(_ planes: Int, stride: Int) -> Sequential {
            let s = Sequential()
            for i in 0..<n {
                s.append(
                    BasicBlock(
                        inChannels, planes, stride: i == 0 ? stride : 1, shortcut: shortcut, batchNorm: batchNorm))
                inChannels = planes
            }
            return s
        }
        layer1 = stage(16, stride: 1)
        layer2 = stage(32, stride: 2)
        layer3 = stage(64, stride: 2)
        fc = Linear(64, classes)
        super.init()
        // He et al. initialize with their own method (kaiming normal), as the common CIFAR code does.
        for (_, m) in namedModules() {
            if let c = m as? Conv2d { Init.set(c.weight, Init.kaimingNormal(c.weight.shape)) }
            if let l = m as? Linear { Init.set(l.weight, Init.kaimingNormal(l.weight.shape)) }
        }
    }

    public override func forward(_ x: Tensor) -> Tensor {
        var h = conv1(x) // [N, 16, 32, 32]
        if let bn1 { h = bn1(h) }
        h = layer1(relu(h)) // [N, 16, 32, 32]
        h = layer2(h) // [N, 32, 16, 16]
        h = layer3(h) // [N, 64, 8, 8]
        return fc(avgpool(h).flattened()) // [N, classes]
    }
}

/// torchvision's ResNet initialization: Kaiming normal (fan-out) convs, BN γ = 1, β = 0.
func initializeResNetWeights(_ model: Module) {
    for (_, m) in model.namedModules() {
        if let c = m as? Conv2d { Init.set(c.weight, Init.kaimingNormal(c.weight.shape, mode: .fanOut)) }
    }
}
