// The units the Inception families share: GoogLeNet (Szegedy et al. 2015), Inception-v3
// (Szegedy et al. 2016), Inception-v4 and Inception-ResNet-v2 (Szegedy et al. 2016/2017).
// Each family's own modules are in its file; those of the timm families are nested in the
// model's class (`InceptionV4.InceptionA`, `InceptionResNetV2.Block35`) so that names do not clash.
import StrataNN
import StrataTensor

/// conv (no bias) → BN (eps 1e-3) → ReLU, the unit of every Inception family: torchvision's
/// `BasicConv2d` and timm's `ConvNormAct` (the same `conv.*` and `bn.*` state-dict keys).
public final class BasicConv2d: Module {
    let conv: Conv2d
    let bn: BatchNorm2d

    public init(
        _ inChannels: Int, _ outChannels: Int, kernel: (Int, Int), stride: Int = 1, padding: (Int, Int) = (0, 0)
    ) {
        conv = Conv2d(inChannels, outChannels, kernel: kernel, stride: (stride, stride), padding: padding, bias: false)
        bn = BatchNorm2d(outChannels, eps: 1e-3)
    }

    public convenience init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0) {
        self.init(inChannels, outChannels, kernel: (kernel, kernel), stride: stride, padding: (padding, padding))
    }

    public override func forward(_ x: Tensor) -> Tensor { bn(conv(x)).relu() }
}

/// A k×k ``BasicConv2d``.
func bc(_ i: Int, _ o: Int, _ k: Int, stride: Int = 1, padding: Int = 0) -> BasicConv2d {
    BasicConv2d(i, o, kernel: k, stride: stride, padding: padding)
}

/// A factorized 1×n or n×1 ``BasicConv2d``.
func bc(_ i: Int, _ o: Int, _ k: (Int, Int), padding: (Int, Int)) -> BasicConv2d {
    BasicConv2d(i, o, kernel: k, padding: padding)
}

/// A pool branch of timm's Inception-v4 and Inception-ResNet-v2: 3×3 average pool, stride 1,
/// padding 1 without counting the padding (`count_include_pad=False`), then `conv` (keys `1.conv.*`).
func inceptionPoolBranch(_ conv: BasicConv2d) -> Sequential {
    Sequential(AvgPool2d(kernel: 3, stride: 1, padding: 1, countIncludePad: false), conv)
}

/// Truncated-normal init of every conv and linear weight (std per module), BN at 1 and 0:
/// GoogLeNet's and Inception-v3's torchvision initialization.
func initializeTruncatedNormal(_ model: Module, std: (Module) -> Double) {
    for (_, m) in model.namedModules() {
        if let c = m as? Conv2d { Init.set(c.weight, Init.truncatedNormal(c.weight.shape, std: std(c))) }
        if let l = m as? Linear { Init.set(l.weight, Init.truncatedNormal(l.weight.shape, std: std(l))) }
    }
}
