import StrataData
import StrataNN
import StrataTensor

/// One weight layer's gradient, weight and update size at one moment of training.
public struct LayerGradientStatistics: Sendable, Equatable {
    /// The layer's dotted module path (`layer1.0.conv1`, `fc`).
    public let layer: String
    /// The module's type (`Conv2d`, `Linear`).
    public let kind: String
    /// 1-based position among the model's weight layers, in the order the forward pass runs them
    /// (1: nearest the input).
    public let depth: Int
    /// ‖∂loss/∂W‖₂ of the layer's weight.
    public let gradientNorm: Double
    /// ‖W‖₂ of the layer's weight.
    public let weightNorm: Double
    /// ‖lr·∂loss/∂W‖₂ / ‖W‖₂: the relative size of a plain SGD step (about 1e-3 is the usual rule of thumb).
    public let updateRatio: Double

    /// Creates the statistics of one layer.
    public init(layer: String, kind: String, depth: Int, gradientNorm: Double, weightNorm: Double, updateRatio: Double)
    {
        (self.layer, self.kind, self.depth) = (layer, kind, depth)
        (self.gradientNorm, self.weightNorm, self.updateRatio) = (gradientNorm, weightNorm, updateRatio)
    }
}

/// Per-layer gradient norms of a model: how strongly the loss reaches each weight layer, from the
/// input to the output. Vanishing gradients show as norms falling by orders of magnitude towards
/// the input (a deep plain network without batch norm); identity shortcuts keep them level.
///
/// A weight layer is a module with a parameter named `weight` of rank 2 or more (convolutions and
/// linear layers; batch norm's 1-D scale is not one), keyed by its dotted path.
///
/// ```swift
/// let flow = GradientFlow.measure(model, images: batch.images, labels: batch.labels, learningRate: 0.1)
/// print(flow.table())
/// ```
public struct GradientFlow: Sendable {
    /// The weight layers, input first.
    public let layers: [LayerGradientStatistics]
    /// The batch loss the gradients are of (NaN when read from gradients computed elsewhere).
    public let loss: Double
    /// The rate the update ratios are computed with.
    public let learningRate: Double
    /// Optimizer steps taken before the gradients were computed (0: at initialization).
    public let step: Int

    /// Creates a measurement from its parts.
    public init(layers: [LayerGradientStatistics], loss: Double, learningRate: Double, step: Int) {
        (self.layers, self.loss, self.learningRate, self.step) = (layers, loss, learningRate, step)
    }

    /// The model's weight layers (path, module, weight), in the order its forward pass runs them on
    /// an input of shape `input` ([N, C, H, W]; nil: declaration order, which is the forward
    /// order for sequential models) of `dtype`.
    public static func weightLayers(of model: Module, input: [Int]? = nil, dtype: DType = .float32) -> [(
        path: String, module: Module, weight: Tensor
    )] {
        var layers: [(path: String, module: Module, weight: Tensor)] = []
        for (path, m) in model.namedModules() {
            if let w = m.namedLocalParameters().first(where: { $0.0 == "weight" })?.1, w.rank >= 2 {
                layers.append((path, m, w))
            }
        }
        guard let input else { return layers }
        // Weight layers are leaves: the trace lists leaves in call order (a leaf exits before the next one enters).
        let wasTraining = model.training
        model.eval()
        let trace = ModuleTrace.capture { withNoGrad { _ = model(Tensor.zeros(input, dtype: dtype)) } }
        model.train(wasTraining)
        var order: [ObjectIdentifier: Int] = [:]
        for (i, r) in trace.records.enumerated() where order[ObjectIdentifier(r.module)] == nil {
            order[ObjectIdentifier(r.module)] = i
        }
        let declared = Dictionary(
            uniqueKeysWithValues: layers.enumerated().map { (ObjectIdentifier($0.element.module), $0.offset) })
        // Layers the forward never calls (an auxiliary head in eval mode) keep their declared place after the called ones.
        return layers.sorted { a, b in
            let (x, y) = (order[ObjectIdentifier(a.module)] ?? Int.max, order[ObjectIdentifier(b.module)] ?? Int.max)
            return x != y ? x < y : declared[ObjectIdentifier(a.module)]! < declared[ObjectIdentifier(b.module)]!
        }
    }

    /// Reads the gradients the model's parameters hold now (after a backward pass).
    /// - Parameters:
    ///   - layers: the weight layers in forward order (``weightLayers(of:input:dtype:)``).
    ///   - learningRate: the rate of the update ratio.
    ///   - step: steps taken before these gradients.
    ///   - loss: the loss they are of, if known.
    public static func read(
        _ layers: [(path: String, module: Module, weight: Tensor)], learningRate: Double, step: Int,
        loss: Double = .nan
    ) -> GradientFlow {
        let stats = layers.enumerated().map { i, l -> LayerGradientStatistics in
            let g = l.weight.grad.map(l2Norm) ?? 0
            let w = l2Norm(l.weight)
            return LayerGradientStatistics(
                layer: l.path, kind: String(describing: type(of: l.module)), depth: i + 1,
                gradientNorm: g, weightNorm: w, updateRatio: w > 0 ? learningRate * g / w : .infinity)
        }
        return GradientFlow(layers: stats, loss: loss, learningRate: learningRate, step: step)
    }

    /// One forward and backward pass of `images` (cross-entropy against `labels`) in the model's
    /// current mode, then the gradients of every weight layer. Leaves the gradients in place and
    /// changes no weight (batch norm's running statistics move, as in a training step).
    public static func measure(_ model: Module, images: Tensor, labels: [Int], learningRate: Double, step: Int = 0)
        -> GradientFlow
    {
        let layers = weightLayers(of: model, input: [1] + Array(images.shape.dropFirst()), dtype: images.dtype)
        model.zeroGrad()
        let loss = crossEntropy(model(images), labels: labels)
        loss.backward()
        return read(layers, learningRate: learningRate, step: step, loss: loss.item())
    }

    /// Gradient flow at initialization and after training: measures on `probe` (in training
    /// mode), then for each count in `after` trains up to that many SGD steps (momentum 0.9,
    /// weight decay 1e-4, constant `learningRate`) on successive batches of `dataset` and
    /// measures on `probe` again.
    /// - Returns: one measurement per moment (step 0 first, then each of `after`, ascending).
    public static func track(
        _ model: Module, probe: Batch, dataset: any Dataset, transform: ImageTransform?, batchSize: Int,
        learningRate: Double, after: [Int], seed: UInt64 = 0
    ) -> [GradientFlow] {
        model.train()
        var out = [measure(model, images: probe.images, labels: probe.labels, learningRate: learningRate)]
        let targets = after.filter { $0 > 0 }.sorted()
        guard let last = targets.last else { return out }
        var c = TrainingConfiguration()
        (c.momentum, c.nesterov, c.weightDecay) = (0.9, false, 1e-4)
        let optimizer = c.makeOptimizer(for: model)
        var step = 0
        var epoch = 0
        while step < last {
            epoch += 1
            let loader = BatchLoader(
                dataset, batchSize: batchSize, shuffleSeed: seed &+ UInt64(epoch), dropLast: dataset.count >= batchSize,
                transform: transform)
            for batch in loader where step < last {
                optimizer.zeroGrad()
                crossEntropy(model(batch.images), labels: batch.labels).backward()
                optimizer.step(lr: learningRate)
                step += 1
                if targets.contains(step) {
                    out.append(
                        measure(
                            model, images: probe.images, labels: probe.labels, learningRate: learningRate, step: step))
                }
            }
        }
        model.zeroGrad()
        return out
    }

    /// Gradient norm of the layer nearest the input over that of the layer nearest the output
    /// (≪ 1: vanishing towards the input; ≫ 1: exploding).
    public var firstToLastRatio: Double {
        guard let first = layers.first, let last = layers.last, last.gradientNorm > 0 else { return .nan }
        return first.gradientNorm / last.gradientNorm
    }

    /// The measurement as a JSON object (`step`, `loss`, `learning_rate`, `layers`: one object per layer).
    package var json: JSON {
        .object([
            ("step", .int(step)), ("loss", .number(loss)), ("learning_rate", .number(learningRate)),
            ("layers", .array(layers.map(\.json))),
        ])
    }

    /// A fixed-width table: layer, depth, ‖g‖, ‖w‖, ratio.
    public func table() -> String {
        let width = Swift.max(5, layers.map(\.layer.count).max() ?? 0)
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
        func left(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
        var lines = [
            pad("layer", width) + left("depth", 7) + left("‖g‖", 12) + left("‖w‖", 12) + left("lr·‖g‖/‖w‖", 13)
        ]
        for l in layers {
            lines.append(
                pad(l.layer, width) + left("\(l.depth)", 7) + left(scientific(l.gradientNorm), 12)
                    + left(scientific(l.weightNorm), 12) + left(scientific(l.updateRatio), 13))
        }
        return lines.joined(separator: "\n")
    }
}

extension LayerGradientStatistics {
    package var json: JSON {
        .object([
            ("layer", .string(layer)), ("kind", .string(kind)), ("depth", .int(depth)),
            ("gradient_norm", .number(gradientNorm)),
            ("weight_norm", .number(weightNorm)), ("update_ratio", .number(updateRatio)),
        ])
    }
}

/// ‖t‖₂ accumulated in Double.
public func l2Norm(_ t: Tensor) -> Double {
    var sum = 0.0
    switch t.dtype {
    case .float32:
        t.withHostBuffer(as: Float.self) { b in
            for x in b {
                let d = Double(x)
                sum += d * d
            }
        }
    case .float64: t.withHostBuffer(as: Double.self) { b in for x in b { sum += x * x } }
    default: for x in t.doubles { sum += x * x }
    }
    return sum.squareRoot()
}

/// "1.234e-05" (4 significant digits); "0" and non-finite values as such.
public func scientific(_ v: Double) -> String {
    guard v.isFinite else { return v.isNaN ? "nan" : (v > 0 ? "inf" : "-inf") }
    if v == 0 { return "0" }
    let e = Int((Swift.abs(v)).log10Floor)
    var m = v / pow10(e)
    var exponent = e
    m = (m * 1000).rounded() / 1000
    if Swift.abs(m) >= 10 {
        m /= 10
        exponent += 1
    }
    let mantissa = String(format4(m))
    return "\(mantissa)e\(exponent < 0 ? "-" : "+")\(Swift.abs(exponent) < 10 ? "0" : "")\(Swift.abs(exponent))"
}

private func pow10(_ e: Int) -> Double {
    var r = 1.0
    if e >= 0 { for _ in 0..<e { r *= 10 } } else { for _ in 0..<(-e) { r /= 10 } }
    return r
}

/// "1.230" from 1.23: three decimals, no locale.
private func format4(_ m: Double) -> String {
    let negative = m < 0
    let scaled = Int((Swift.abs(m) * 1000).rounded())
    let whole = scaled / 1000
    let frac = scaled % 1000
    let f = frac < 10 ? "00\(frac)" : frac < 100 ? "0\(frac)" : "\(frac)"
    return (negative ? "-" : "") + "\(whole).\(f)"
}

extension Double {
    /// ⌊log₁₀ self⌋ for a positive finite value, exact at powers of ten.
    fileprivate var log10Floor: Double {
        var e = 0.0
        var v = self
        while v >= 10 {
            v /= 10
            e += 1
        }
        while v < 1 {
            v *= 10
            e -= 1
        }
        return e
    }
}
