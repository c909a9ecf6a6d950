import StrataTensor

/// max(x, 0).
public final class ReLU: Module {
    public override init() {}
    public override func forward(_ x: Tensor) -> Tensor { x.relu() }
}

/// Hyperbolic tangent (LeNet-5).
public final class Tanh: Module {
    public override init() {}
    public override func forward(_ x: Tensor) -> Tensor { x.tanh() }
}

/// Passes its input through.
public final class Identity: Module {
    public override init() {}
    public override func forward(_ x: Tensor) -> Tensor { x }
}

/// [N, C, H, W] → [N, C·H·W].
public final class Flatten: Module {
    public override init() {}
    public override func forward(_ x: Tensor) -> Tensor { x.flattened(startAxis: 1) }
}

/// Inverted dropout, active in training mode only; masks come from `GlobalRandom`.
public final class Dropout: Module {
    public let p: Double
    public init(_ p: Double = 0.5) { self.p = p }
    public override func forward(_ x: Tensor) -> Tensor {
        guard training, p > 0 else { return x }
        return GlobalRandom.use { dropout(x, p: p, training: true, generator: &$0) }
    }
    public override var summaryDescription: String { "Dropout(\(p))" }
}

/// Max pooling, as `torch.nn.MaxPool2d`.
public final class MaxPool2d: Module {
    public let settings: Pool2dParameters
    public init(kernel: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false) {
        settings = Pool2dParameters(kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode)
    }
    public override func forward(_ x: Tensor) -> Tensor { maxPool2d(x, settings) }
    public override var summaryDescription: String { "MaxPool2d(\(settings.kernelH), stride \(settings.strideH))" }
}

/// Average pooling, as `torch.nn.AvgPool2d`.
public final class AvgPool2d: Module {
    public let settings: Pool2dParameters
    public init(kernel: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false, countIncludePad: Bool = true)
    {
        settings = Pool2dParameters(
            kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode, countIncludePad: countIncludePad)
    }
    public override func forward(_ x: Tensor) -> Tensor { avgPool2d(x, settings) }
    public override var summaryDescription: String { "AvgPool2d(\(settings.kernelH), stride \(settings.strideH))" }
}

/// Adaptive average pooling to a fixed output size, as `torch.nn.AdaptiveAvgPool2d`.
public final class AdaptiveAvgPool2d: Module {
    public let outputSize: (Int, Int)
    public init(_ outputSize: (Int, Int)) { self.outputSize = outputSize }
    public convenience init(_ size: Int) { self.init((size, size)) }
    public override func forward(_ x: Tensor) -> Tensor { adaptiveAvgPool2d(x, outputSize: outputSize) }
    public override var summaryDescription: String { "AdaptiveAvgPool2d(\(outputSize.0)×\(outputSize.1))" }
}

/// Runs modules in order, as `torch.nn.Sequential`. Children are named "0", "1", …
/// unless names are given (`features.denseblock1`, …).
public final class Sequential: Module {
    public private(set) var layers: [(name: String, module: Module)]

    public init(_ modules: [Module]) { layers = modules.enumerated().map { ("\($0.offset)", $0.element) } }
    public convenience init(_ modules: Module...) { self.init(modules) }
    public init(named: [(String, Module)]) { layers = named.map { (name: $0.0, module: $0.1) } }

    /// Appends a module named by its position (or by `name`).
    public func append(_ module: Module, name: String? = nil) { layers.append((name ?? "\(layers.count)", module)) }

    public override func namedChildren() -> [(String, Module)] { layers.map { ($0.name, $0.module) } }

    public override func forward(_ x: Tensor) -> Tensor { layers.reduce(x) { $1.module($0) } }

    public subscript(_ i: Int) -> Module { layers[i].module }
    public var count: Int { layers.count }
}
