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
    let branch5x5_1: BasicConv2d, branch5x5_2: BasicConv2d
    let branch3x3dbl_1: BasicConv2d, branch3x3dbl_2: BasicConv2d, branch3x3dbl_3: BasicConv2d
    let branch_pool: BasicConv2d

    public init(_ inChannels: Int, poolFeatures: Int) {
        branch1x1 = bc(inChannels, 64, 1)
        branch5x5_1 = bc(inChannels, 48, 1); branch5x5_2 = bc(48, 64, 5, padding: 2)
        branch3x3dbl_1 = bc(inChannels, 64, 1); branch3x3dbl_2 = bc(64, 96, 3, padding: 1); branch3x3dbl_3 = bc(96, 96, 3, padding: 1)
        branch_pool = bc(inChannels, poolFeatures, 1)
    }

    public override func forward(_ x: Tensor) -> Tensor {
        Tensor.concatenate([branch1x1(x), branch5x5_2(branch5x5_1(x)),
                            branch3x3dbl_3(branch3x3dbl_2(branch3x3dbl_1(x))), branch_pool(poolBranchInput(x))], axis: 1)
    }
}

/// Grid reduction 35 → 17.
public final class InceptionB: Module {
    let branch3x3: BasicConv2d
    let branch3x3dbl_1: BasicConv2d, branch3x3dbl_2: BasicConv2d, branch3x3dbl_3: BasicConv2d

    public init(_ inChannels: Int) {
        branch3x3 = bc(inChannels, 384, 3, stride: 2)
        branch3x3dbl_1 = bc(inChannels, 64, 1); branch3x3dbl_2 = bc(64, 96, 3, padding: 1); branch3x3dbl_3 = bc(96, 96, 3, stride: 2)
    }

    public override func forward(_ x: Tensor) -> Tensor {
        Tensor.concatenate([branch3x3(x), branch3x3dbl_3(branch3x3dbl_2(branch3x3dbl_1(x))),
                            maxPool2d(x, Pool2dParameters(kernel: 3, stride: 2))], axis: 1)
    }
}

/// 17×17 grid with 7×7 convs factorized into 1×7 and 7×1 (Figure 6).
public final class InceptionC: Module {
    let branch1x1: BasicConv2d
    let branch7x7_1: BasicConv2d, branch7x7_2: BasicConv2d, branch7x7_3: BasicConv2d
    let branch7x7dbl_1: BasicConv2d, branch7x7dbl_2: BasicConv2d, branch7x7dbl_3: BasicConv2d
    let branch7x7dbl_4: BasicConv2d, branch7x7dbl_5: BasicConv2d
    let branch_pool: BasicConv2d

    public init(_ inChannels: Int, channels7x7 c7: Int) {
        branch1x1 = bc(inChannels, 192, 1)
        branch7x7_1 = bc(inChannels, c7, 1)
        branch7x7_2 = bc(c7, c7, (1, 7), padding: (0, 3))
        branch7x7_3 = bc(c7, 192, (7, 1), padding: (3, 0))
        branch7x7dbl_1 = bc(inChannels, c7, 1)
        branch7x7dbl_2 = bc(c7, c7, (7, 1), padding: (3, 0))
        branch7x7dbl_3 = bc(c7, c7, (1, 7), padding: (0, 3))
        branch7x7dbl_4 = bc(c7, c7, (7, 1), padding: (3, 0))
        branch7x7dbl_5 = bc(c7, 192, (1, 7), padding: (0, 3))
        branch_pool = bc(inChannels, 192, 1)
    }

    public override func forward(_ x: Tensor) -> Tensor {
        let b7 = branch7x7_3(branch7x7_2(branch7x7_1(x)))
        let b7dbl = branch7x7dbl_5(branch7x7dbl_4(branch7x7dbl_3(branch7x7dbl_2(branch7x7dbl_1(x)))))
        return Tensor.concatenate([branch1x1(x), b7, b7dbl, branch_pool(poolBranchInput(x))], axis: 1)
    }
}

/// Grid reduction 17 → 8.
public final class InceptionD: Module {
    let branch3x3_1: BasicConv2d, branch3x3_2: BasicConv2d
    let branch7x7x3_1: BasicConv2d, branch7x7x3_2: BasicConv2d, branch7x7x3_3: BasicConv2d, branch7x7x3_4: BasicConv2d

    public init(_ inChannels: Int) {
        branch3x3_1 = bc(inChannels, 192, 1); branch3x3_2 = bc(192, 320, 3, stride: 2)
        branch7x7x3_1 = bc(inChannels, 192, 1)
        branch7x7x3_2 = bc(192, 192, (1, 7), padding: (0, 3))
        branch7x7x3_3 = bc(192, 192, (7, 1), padding: (3, 0))
        branch7x7x3_4 = bc(192, 192, 3, stride: 2)
    }

    public override func forward(_ x: Tensor) -> Tensor {
        Tensor.concatenate([branch3x3_2(branch3x3_1(x)),
                            branch7x7x3_4(branch7x7x3_3(branch7x7x3_2(branch7x7x3_1(x)))),
                            maxPool2d(x, Pool2dParameters(kernel: 3, stride: 2))], axis: 1)
    }
}

/// 8×8 grid with expanded filter banks (Figure 7).
public final class InceptionE: Module {
    let branch1x1: BasicConv2d
    let branch3x3_1: BasicConv2d, branch3x3_2a: BasicConv2d, branch3x3_2b: BasicConv2d
    let branch3x3dbl_1: BasicConv2d, branch3x3dbl_2: BasicConv2d, branch3x3dbl_3a: BasicConv2d, branch3x3dbl_3b: BasicConv2d
    let branch_pool: BasicConv2d

    public init(_ inChannels: Int) {
        branch1x1 = bc(inChannels, 320, 1)
        branch3x3_1 = bc(inChannels, 384, 1)
        branch3x3_2a = bc(384, 384, (1, 3), padding: (0, 1))
        branch3x3_2b = bc(384, 384, (3, 1), padding: (1, 0))
        branch3x3dbl_1 = bc(inChannels, 448, 1)
        branch3x3dbl_2 = bc(448, 384, 3, padding: 1)
        branch3x3dbl_3a = bc(384, 384, (1, 3), padding: (0, 1))
        branch3x3dbl_3b = bc(384, 384, (3, 1), padding: (1, 0))
        branch_pool = bc(inChannels, 192, 1)
    }

    public override func forward(_ x: Tensor) -> Tensor {
        let b3 = branch3x3_1(x)
        let b3dbl = branch3x3dbl_2(branch3x3dbl_1(x))
        return Tensor.concatenate([
            branch1x1(x),
            Tensor.concatenate([branch3x3_2a(b3), branch3x3_2b(b3)], axis: 1),
            Tensor.concatenate([branch3x3dbl_3a(b3dbl), branch3x3dbl_3b(b3dbl)], axis: 1),
            branch_pool(poolBranchInput(x)),
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
        var h = avgPool2d(x, Pool2dParameters(kernel: 5, stride: 3))   // [N, 768, 5, 5]
        h = conv1(conv0(h))                                             // [N, 768, 1, 1]
        return fc(adaptiveAvgPool2d(h, outputSize: (1, 1)).flattened())
    }
}

public final class InceptionV3: Module, AuxiliaryClassifying {
    let Conv2d_1a_3x3 = bc(3, 32, 3, stride: 2)
    let Conv2d_2a_3x3 = bc(32, 32, 3)
    let Conv2d_2b_3x3 = bc(32, 64, 3, padding: 1)
    let maxpool1 = MaxPool2d(kernel: 3, stride: 2)
    let Conv2d_3b_1x1 = bc(64, 80, 1)
    let Conv2d_4a_3x3 = bc(80, 192, 3)
    let maxpool2 = MaxPool2d(kernel: 3, stride: 2)
    let Mixed_5b = InceptionA(192, poolFeatures: 32)
    let Mixed_5c = InceptionA(256, poolFeatures: 64)
    let Mixed_5d = InceptionA(288, poolFeatures: 64)
    let Mixed_6a = InceptionB(288)
    let Mixed_6b = InceptionC(768, channels7x7: 128)
    let Mixed_6c = InceptionC(768, channels7x7: 160)
    let Mixed_6d = InceptionC(768, channels7x7: 160)
    let Mixed_6e = InceptionC(768, channels7x7: 192)
    let AuxLogits: InceptionV3Auxiliary?
    let Mixed_7a = InceptionD(768)
    let Mixed_7b = InceptionE(1280)
    let Mixed_7c = InceptionE(2048)
    let avgpool = AdaptiveAvgPool2d(1)
    let dropout = Dropout(0.5)
    let fc: Linear

    public init(classes: Int = 1000, auxiliaryClassifier: Bool = true) {
        AuxLogits = auxiliaryClassifier ? InceptionV3Auxiliary(768, classes: classes) : nil
        fc = Linear(2048, classes)
        super.init()
        // torchvision: truncated normal, std 0.1 except the auxiliary head's conv1 (0.01) and fc (0.001).
        let aux1 = AuxLogits?.conv1.conv, auxFC = AuxLogits?.fc
        initializeTruncatedNormal(self) { m in m === aux1 ? 0.01 : m === auxFC ? 0.001 : 0.1 }
    }

    public func forwardWithAuxiliary(_ x: Tensor) -> (logits: Tensor, auxiliary: [Tensor]) {
        var h = Conv2d_2b_3x3(Conv2d_2a_3x3(Conv2d_1a_3x3(x)))   // [N, 64, 147, 147] at 299
        h = maxpool1(h)                                          // [N, 64, 73, 73]
        h = maxpool2(Conv2d_4a_3x3(Conv2d_3b_1x1(h)))            // [N, 192, 35, 35]
        h = Mixed_5d(Mixed_5c(Mixed_5b(h)))                      // [N, 288, 35, 35]
        h = Mixed_6a(h)                                          // [N, 768, 17, 17]
        h = Mixed_6e(Mixed_6d(Mixed_6c(Mixed_6b(h))))            // [N, 768, 17, 17]
        var auxiliary: [Tensor] = []
        if training, let AuxLogits { auxiliary.append(AuxLogits(h)) }
        h = Mixed_7c(Mixed_7b(Mixed_7a(h)))                      // [N, 2048, 8, 8]
        return (fc(dropout(avgpool(h)).flattened()), auxiliary)
    }

    public override func forward(_ x: Tensor) -> Tensor { forwardWithAuxiliary(x).logits }
}
