// Going Deeper with Convolutions. Szegedy et al., CVPR 2015 (arXiv:1409.4842).
//
// As torchvision builds it, so its state dict loads: every conv is conv(no bias)-BN(eps 1e-3)-ReLU
// (the BN variant), and the "5×5" branch uses a 3×3 conv (a known quirk of the reference
// weights). Inception modules reduce with 1×1 convs before the 3×3 and "5×5" convs and after
// the pool. Two auxiliary classifiers (after 4a and 4d) run in training mode only; their
// losses are weighted 0.3 by the trainer.
import StrataNN
import StrataTensor

public final class InceptionModule: Module {
    let branch1: BasicConv2d
    let branch2: Sequential
    let branch3: Sequential
    let branch4: Sequential

    /// Channel counts as in the paper's Table 1: #1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj.
    public init(
        _ inChannels: Int, _ ch1x1: Int, _ ch3x3red: Int, _ ch3x3: Int, _ ch5x5red: Int, _ ch5x5: Int, _ poolProj: Int
    ) {
        branch1 = BasicConv2d(inChannels, ch1x1, kernel: 1)
        branch2 = Sequential(
            BasicConv2d(inChannels, ch3x3red, kernel: 1), BasicConv2d(ch3x3red, ch3x3, kernel: 3, padding: 1))
        branch3 = Sequential(
            BasicConv2d(inChannels, ch5x5red, kernel: 1), BasicConv2d(ch5x5red, ch5x5, kernel: 3, padding: 1))
        branch4 = Sequential(
            MaxPool2d(kernel: 3, stride: 1, padding: 1, ceilMode: true), BasicConv2d(inChannels, poolProj, kernel: 1))
    }

    public override func forward(_ x: Tensor) -> Tensor {
        Tensor.concatenate([branch1(x), branch2(x), branch3(x), branch4(x)], axis: 1) // [N, Σ branch channels, H, W]
    }
}

public final class InceptionAuxiliary: Module {
    let conv: BasicConv2d
    let fc1: Linear
    let fc2: Linear
    let dropout = Dropout(0.7)

    public init(_ inChannels: Int, classes: Int) {
        conv = BasicConv2d(inChannels, 128, kernel: 1)
        fc1 = Linear(2048, 1024)
        fc2 = Linear(1024, classes)
    }

    public override func forward(_ x: Tensor) -> Tensor {
        var h = conv(adaptiveAvgPool2d(x, outputSize: (4, 4))) // [N, 128, 4, 4]
        h = fc1(h.flattened()).relu() // [N, 1024]
        return fc2(dropout(h))
    }
}

public final class GoogLeNet: Module, AuxiliaryClassifying {
    let conv1 = BasicConv2d(3, 64, kernel: 7, stride: 2, padding: 3)
    let maxpool1 = MaxPool2d(kernel: 3, stride: 2, ceilMode: true)
    let conv2 = BasicConv2d(64, 64, kernel: 1)
    let conv3 = BasicConv2d(64, 192, kernel: 3, padding: 1)
    let maxpool2 = MaxPool2d(kernel: 3, stride: 2, ceilMode: true)
    let inception3a = InceptionModule(192, 64, 96, 128, 16, 32, 32)
    let inception3b = InceptionModule(256, 128, 128, 192, 32, 96, 64)
    let maxpool3 = MaxPool2d(kernel: 3, stride: 2, ceilMode: true)
    let inception4a = InceptionModule(480, 192, 96, 208, 16, 48, 64)
    let inception4b = InceptionModule(512, 160, 112, 224, 24, 64, 64)
    let inception4c = InceptionModule(512, 128, 128, 256, 24, 64, 64)
    let inception4d = InceptionModule(512, 112, 144, 288, 32, 64, 64)
    let inception4e = InceptionModule(528, 256, 160, 320, 32, 128, 128)
    let maxpool4 = MaxPool2d(kernel: 2, stride: 2, ceilMode: true)
    let inception5a = InceptionModule(832, 256, 160, 320, 32, 128, 128)
    let inception5b = InceptionModule(832, 384, 192, 384, 48, 128, 128)
    let aux1: InceptionAuxiliary?
    let aux2: InceptionAuxiliary?
    let avgpool = AdaptiveAvgPool2d(1)
    let dropout = Dropout(0.2)
    let fc: Linear

    public init(classes: Int = 1000, auxiliaryClassifiers: Bool = true) {
        aux1 = auxiliaryClassifiers ? InceptionAuxiliary(512, classes: classes) : nil
        aux2 = auxiliaryClassifiers ? InceptionAuxiliary(528, classes: classes) : nil
        fc = Linear(1024, classes)
        super.init()
        initializeTruncatedNormal(self) { _ in 0.01 }
    }

    public func forwardWithAuxiliary(_ x: Tensor) -> (logits: Tensor, auxiliary: [Tensor]) {
        var h = maxpool1(conv1(x)) // [N, 64, 56, 56] at 224
        h = maxpool2(conv3(conv2(h))) // [N, 192, 28, 28]
        h = maxpool3(inception3b(inception3a(h))) // [N, 480, 14, 14]
        h = inception4a(h) // [N, 512, 14, 14]
        var auxiliary: [Tensor] = []
        if training, let aux1 { auxiliary.append(aux1(h)) }
        h = inception4d(inception4c(inception4b(h))) // [N, 528, 14, 14]
        if training, let aux2 { auxiliary.append(aux2(h)) }
        h = maxpool4(inception4e(h)) // [N, 832, 7, 7]
        h = inception5b(inception5a(h)) // [N, 1024, 7, 7]
        return (fc(dropout(avgpool(h).flattened())), auxiliary)
    }

    public override func forward(_ x: Tensor) -> Tensor { forwardWithAuxiliary(x).logits }
}
