// Rethinking the Inception Architecture for Computer Vision. Szegedy, Vanhoucke, Ioffe,
// Shlens, Wojna, CVPR 2016 (arXiv:1512.00567). As torchvision's `inception_v3` (299×299
// input), with its auxiliary head on Mixed_6e, active in training mode.
import StrataNN
import StrataTensor

/// 3×3 average pool, stride 1, padding 1 (zeros counted), before the pool branches.
private func poolBranchInput(_ x: Tensor) -> Tensor { avgPool2d(x, Pool2dParameters(kernel: 3, stride: 1, padding: 1)) }

/// 35×35 grid: 1×1, 5×5, double 3×3 and pool branches (Figure 5).
public final class InceptionA: Module {
    let branch1x1: BasicConv2d
    @ModuleInfo(key: "branch5x5_1") var branch5x5Step1: BasicConv2d
    @ModuleInfo(key: "branch5x5_2") var branch5x5Step2: BasicConv2d
    @ModuleInfo(key: "branch3x3dbl_1") var branch3x3dblStep1: BasicConv2d
    @ModuleInfo(key: "branch3x3dbl_2") var branch3x3dblStep2: BasicConv2d
    @ModuleInfo(key: "branch3x3dbl_3") var branch3x3dblStep3: BasicConv2d
    @ModuleInfo(key: "branch_pool") var branchPool: BasicConv2d

    public init(_ inChannels: Int, poolFeatures: Int) {
        branch1x1 = bc(inChannels, 64, 1)
        _branch5x5Step1.wrappedValue = bc(inChannels, 48, 1)
        _branch5x5Step2.wrappedValue = bc(48, 64, 5, padding: 2)
        _branch3x3dblStep1.wrappedValue = bc(inChannels, 64, 1)
        _branch3x3dblStep2.wrappedValue = bc(64, 96, 3, padding: 1)
        _branch3x3dblStep3.wrappedValue = bc(96, 96, 3, padding: 1)
        _branchPool.wrappedValue = bc(inChannels, poolFeatures, 1)
    }

    public override func forward(_ x: Tensor) -> Tensor {
        Tensor.concatenate(
            [
                branch1x1(x), branch5x5Step2(branch5x5Step1(x)),
                branch3x3dblStep3(branch3x3dblStep2(branch3x3dblStep1(x))),
                branchPool(poolBranchInput(x)),
            ], axis: 1)
    }
}

/// Grid reduction 35 → 17.
public final class InceptionB: Module {
    let branch3x3: BasicConv2d
    @ModuleInfo(key: "branch3x3dbl_1") var branch3x3dblStep1: BasicConv2d
    @ModuleInfo(key: "branch3x3dbl_2") var branch3x3dblStep2: BasicConv2d
    @ModuleInfo(key: "branch3x3dbl_3") var branch3x3dblStep3: BasicConv2d

    public init(_ inChannels: Int) {
        branch3x3 = bc(inChannels, 384, 3, stride: 2)
        _branch3x3dblStep1.wrappedValue = bc(inChannels, 64, 1)
        _branch3x3dblStep2.wrappedValue = bc(64, 96, 3, padding: 1)
        _branch3x3dblStep3.wrappedValue = bc(96, 96, 3, stride: 2)
    }

    public override func forward(_ x: Tensor) -> Tensor {
        Tensor.concatenate(
            [
                branch3x3(x), branch3x3dblStep3(branch3x3dblStep2(branch3x3dblStep1(x))),
                maxPool2d(x, Pool2dParameters(kernel: 3, stride: 2)),
            ], axis: 1)
    }
}

/// 17×17 grid with 7×7 convs factorized into 1×7 and 7×1 (Figure 6).
public final class InceptionC: Module {
    let branch1x1: BasicConv2d
    @ModuleInfo(key: "branch7x7_1") var branch7x7Step1: BasicConv2d
    @ModuleInfo(key: "branch7x7_2") var branch7x7Step2: BasicConv2d
    @ModuleInfo(key: "branch7x7_3") var branch7x7Step3: BasicConv2d
    @ModuleInfo(key: "branch7x7dbl_1") var branch7x7dblStep1: BasicConv2d
    @ModuleInfo(key: "branch7x7dbl_2") var branch7x7dblStep2: BasicConv2d
    @ModuleInfo(key: "branch7x7dbl_3") var branch7x7dblStep3: BasicConv2d
    @ModuleInfo(key: "branch7x7dbl_4") var branch7x7dblStep4: BasicConv2d
    @ModuleInfo(key: "branch7x7dbl_5") var branch7x7dblStep5: BasicConv2d
    @ModuleInfo(key: "branch_pool") var branchPool: BasicConv2d

    public init(_ inChannels: Int, channels7x7 c7: Int) {
        branch1x1 = bc(inChannels, 192, 1)
        _branch7x7Step1.wrappedValue = bc(inChannels, c7, 1)
        _branch7x7Step2.wrappedValue = bc(c7, c7, (1, 7), padding: (0, 3))
        _branch7x7Step3.wrappedValue = bc(c7, 192, (7, 1), padding: (3, 0))
        _branch7x7dblStep1.wrappedValue = bc(inChannels, c7, 1)
        _branch7x7dblStep2.wrappedValue = bc(c7, c7, (7, 1), padding: (3, 0))
        _branch7x7dblStep3.wrappedValue = bc(c7, c7, (1, 7), padding: (0, 3))
        _branch7x7dblStep4.wrappedValue = bc(c7, c7, (7, 1), padding: (3, 0))
        _branch7x7dblStep5.wrappedValue = bc(c7, 192, (1, 7), padding: (0, 3))
        _branchPool.wrappedValue = bc(inChannels, 192, 1)
    }

    public override func forward(_ x: Tensor) -> Tensor {
        let b7 = branch7x7Step3(branch7x7Step2(branch7x7Step1(x)))
        let b7dbl = branch7x7dblStep5(branch7x7dblStep4(branch7x7dblStep3(branch7x7dblStep2(branch7x7dblStep1(x)))))
        return Tensor.concatenate([branch1x1(x), b7, b7dbl, branchPool(poolBranchInput(x))], axis: 1)
    }
}

/// Grid reduction 17 → 8.
public final class InceptionD: Module {
    @ModuleInfo(key: "branch3x3_1") var branch3x3Step1: BasicConv2d
    @ModuleInfo(key: "branch3x3_2") var branch3x3Step2: BasicConv2d
    @ModuleInfo(key: "branch7x7x3_1") var branch7x7x3Step1: BasicConv2d
    @ModuleInfo(key: "branch7x7x3_2") var branch7x7x3Step2: BasicConv2d
    @ModuleInfo(key: "branch7x7x3_3") var branch7x7x3Step3: BasicConv2d
    @ModuleInfo(key: "branch7x7x3_4") var branch7x7x3Step4: BasicConv2d

    public init(_ inChannels: Int) {
        _branch3x3Step1.wrappedValue = bc(inChannels, 192, 1)
        _branch3x3Step2.wrappedValue = bc(192, 320, 3, stride: 2)
        _branch7x7x3Step1.wrappedValue = bc(inChannels, 192, 1)
        _branch7x7x3Step2.wrappedValue = bc(192, 192, (1, 7), padding: (0, 3))
        _branch7x7x3Step3.wrappedValue = bc(192, 192, (7, 1), padding: (3, 0))
        _branch7x7x3Step4.wrappedValue = bc(192, 192, 3, stride: 2)
    }

    public override func forward(_ x: Tensor) -> Tensor {
        Tensor.concatenate(
            [
                branch3x3Step2(branch3x3Step1(x)),
                branch7x7x3Step4(branch7x7x3Step3(branch7x7x3Step2(branch7x7x3Step1(x)))),
                maxPool2d(x, Pool2dParameters(kernel: 3, stride: 2)),
            ], axis: 1)
    }
}

/// 8×8 grid with expanded filter banks (Figure 7).
public final class InceptionE: Module {
    let branch1x1: BasicConv2d
    @ModuleInfo(key: "branch3x3_1") var branch3x3Step1: BasicConv2d
    @ModuleInfo(key: "branch3x3_2a") var branch3x3Step2a: BasicConv2d
    @ModuleInfo(key: "branch3x3_2b") var branch3x3Step2b: BasicConv2d
    @ModuleInfo(key: "branch3x3dbl_1") var branch3x3dblStep1: BasicConv2d
    @ModuleInfo(key: "branch3x3dbl_2") var branch3x3dblStep2: BasicConv2d
    @ModuleInfo(key: "branch3x3dbl_3a") var branch3x3dblStep3a: BasicConv2d
    @ModuleInfo(key: "branch3x3dbl_3b") var branch3x3dblStep3b: BasicConv2d
    @ModuleInfo(key: "branch_pool") var branchPool: BasicConv2d

    public init(_ inChannels: Int) {
        branch1x1 = bc(inChannels, 320, 1)
        _branch3x3Step1.wrappedValue = bc(inChannels, 384, 1)
        _branch3x3Step2a.wrappedValue = bc(384, 384, (1, 3), padding: (0, 1))
        _branch3x3Step2b.wrappedValue = bc(384, 384, (3, 1), padding: (1, 0))
        _branch3x3dblStep1.wrappedValue = bc(inChannels, 448, 1)
        _branch3x3dblStep2.wrappedValue = bc(448, 384, 3, padding: 1)
        _branch3x3dblStep3a.wrappedValue = bc(384, 384, (1, 3), padding: (0, 1))
        _branch3x3dblStep3b.wrappedValue = bc(384, 384, (3, 1), padding: (1, 0))
        _branchPool.wrappedValue = bc(inChannels, 192, 1)
    }

    public override func forward(_ x: Tensor) -> Tensor {
        let b3 = branch3x3Step1(x)
        let b3dbl = branch3x3dblStep2(branch3x3dblStep1(x))
        return Tensor.concatenate(
            [
                branch1x1(x),
                Tensor.concatenate([branch3x3Step2a(b3), branch3x3Step2b(b3)], axis: 1),
                Tensor.concatenate([branch3x3dblStep3a(b3dbl), branch3x3dblStep3b(b3dbl)], axis: 1),
                branchPool(poolBranchInput(x)),
            ], axis: 1)
    }
}

/// The auxiliary classifier on the 17×17 grid.
public final class InceptionV3Auxiliary: Module {
    let conv0: BasicConv2d
    let conv1: BasicConv2d
    let fc: Linear

    public init(_ inChannels: Int, classes: Int) {
        conv0 = bc(inChannels, 128, 1)
        conv1 = bc(128, 768, 5)
        fc = Linear(768, classes)
    }

    public override func forward(_ x: Tensor) -> Tensor {
        var h = avgPool2d(x, Pool2dParameters(kernel: 5, stride: 3)) // [N, 768, 5, 5]
        h = conv1(conv0(h)) // [N, 768, 1, 1]
        return fc(adaptiveAvgPool2d(h, outputSize: (1, 1)).flattened())
    }
}

public final class InceptionV3: Module, AuxiliaryClassifying {
    // Swift names for torchvision's keys (`Conv2d_1a_3x3`, `Mixed_5b`, `AuxLogits`, …).
    @ModuleInfo(key: "Conv2d_1a_3x3") var conv1a = bc(3, 32, 3, stride: 2)
    @ModuleInfo(key: "Conv2d_2a_3x3") var conv2a = bc(32, 32, 3)
    @ModuleInfo(key: "Conv2d_2b_3x3") var conv2b = bc(32, 64, 3, padding: 1)
    let maxpool1 = MaxPool2d(kernel: 3, stride: 2)
    @ModuleInfo(key: "Conv2d_3b_1x1") var conv3b = bc(64, 80, 1)
    @ModuleInfo(key: "Conv2d_4a_3x3") var conv4a = bc(80, 192, 3)
    let maxpool2 = MaxPool2d(kernel: 3, stride: 2)
    @ModuleInfo(key: "Mixed_5b") var mixed5b = InceptionA(192, poolFeatures: 32)
    @ModuleInfo(key: "Mixed_5c") var mixed5c = InceptionA(256, poolFeatures: 64)
    @ModuleInfo(key: "Mixed_5d") var mixed5d = InceptionA(288, poolFeatures: 64)
    @ModuleInfo(key: "Mixed_6a") var mixed6a = InceptionB(288)
    @ModuleInfo(key: "Mixed_6b") var mixed6b = InceptionC(768, channels7x7: 128)
    @ModuleInfo(key: "Mixed_6c") var mixed6c = InceptionC(768, channels7x7: 160)
    @ModuleInfo(key: "Mixed_6d") var mixed6d = InceptionC(768, channels7x7: 160)
    @ModuleInfo(key: "Mixed_6e") var mixed6e = InceptionC(768, channels7x7: 192)
    @ModuleInfo(key: "AuxLogits") var auxLogits: InceptionV3Auxiliary?
    @ModuleInfo(key: "Mixed_7a") var mixed7a = InceptionD(768)
    @ModuleInfo(key: "Mixed_7b") var mixed7b = InceptionE(1280)
    @ModuleInfo(key: "Mixed_7c") var mixed7c = InceptionE(2048)
    let avgpool = AdaptiveAvgPool2d(1)
    let dropout = Dropout(0.5)
    let fc: Linear

    public init(classes: Int = 1000, auxiliaryClassifier: Bool = true) {
        _auxLogits.wrappedValue = auxiliaryClassifier ? InceptionV3Auxiliary(768, classes: classes) : nil
        fc = Linear(2048, classes)
        super.init()
        // torchvision: truncated normal, std 0.1 except the auxiliary head's conv1 (0.01) and fc (0.001).
        let aux1 = auxLogits?.conv1.conv
        let auxFC = auxLogits?.fc
        initializeTruncatedNormal(self) { m in m === aux1 ? 0.01 : m === auxFC ? 0.001 : 0.1 }
    }

    public func forwardWithAuxiliary(_ x: Tensor) -> (logits: Tensor, auxiliary: [Tensor]) {
        var h = conv2b(conv2a(conv1a(x))) // [N, 64, 147, 147] at 299
        h = maxpool1(h) // [N, 64, 73, 73]
        h = maxpool2(conv4a(conv3b(h))) // [N, 192, 35, 35]
        h = mixed5d(mixed5c(mixed5b(h))) // [N, 288, 35, 35]
        h = mixed6a(h) // [N, 768, 17, 17]
        h = mixed6e(mixed6d(mixed6c(mixed6b(h)))) // [N, 768, 17, 17]
        var auxiliary: [Tensor] = []
        if training, let auxLogits { auxiliary.append(auxLogits(h)) }
        h = mixed7c(mixed7b(mixed7a(h))) // [N, 2048, 8, 8]
        return (fc(dropout(avgpool(h)).flattened()), auxiliary)
    }

    public override func forward(_ x: Tensor) -> Tensor { forwardWithAuxiliary(x).logits }
}
