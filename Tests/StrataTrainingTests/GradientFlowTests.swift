import Foundation
import StrataData
import StrataModels
import StrataNN
import StrataTensor
import Testing

@testable import StrataTraining

/// Per-layer gradient norms (GradientFlow): exact against hand and finite-difference gradients,
/// in forward order, and the vanishing-gradient property of deep plain nets against residual ones.
@Suite struct GradientFlowTests {
    /// A logistic sigmoid layer (the classic saturating non-linearity of vanishing gradients).
    final class Sigmoid: Module {
        override func forward(_ x: Tensor) -> Tensor { x.sigmoid() }
    }

    /// `x + f(x)`.
    final class Residual: Module {
        let body: Module
        init(_ body: Module) { self.body = body }
        override func forward(_ x: Tensor) -> Tensor { x + body(x) }
    }

    static func input(_ shape: [Int], seed: Double = 0.37) -> Tensor {
        Tensor.fromFunction(shape, dtype: .float64) { i in sin(Double(i) * seed + 0.5) }
    }

    /// One linear layer: ∂L/∂W = (softmax(Wx + b) − onehot)ᵀ x / N by hand.
    @Test func linearLayerMatchesTheHandGradient() throws {
        let layer = Linear(3, 2).converted(to: .float64)
        let x = Self.input([4, 3])
        let labels = [0, 1, 1, 0]
        let flow = GradientFlow.measure(layer, images: x, labels: labels, learningRate: 0.1)
        let w = layer.weight.doubles
        let b = layer.bias!.doubles
        let xs = x.doubles
        var g = [Double](repeating: 0, count: 6)
        for n in 0..<4 {
            let z = (0..<2).map { o in b[o] + (0..<3).reduce(0.0) { $0 + w[o * 3 + $1] * xs[n * 3 + $1] } }
            let m = z.max()!
            let e = z.map { exp($0 - m) }
            let s = e.reduce(0, +)
            for o in 0..<2 {
                let d = e[o] / s - (labels[n] == o ? 1 : 0)
                for i in 0..<3 { g[o * 3 + i] += d * xs[n * 3 + i] / 4 }
            }
        }
        let norm = g.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let wNorm = w.reduce(0) { $0 + $1 * $1 }.squareRoot()
        #expect(flow.layers.count == 1)
        let l = try #require(flow.layers.first)
        #expect(l.layer == "" && l.kind == "Linear" && l.depth == 1)
        #expect(abs(l.gradientNorm - norm) <= 1e-12 * norm)
        #expect(abs(l.weightNorm - wNorm) <= 1e-12 * wNorm)
        #expect(abs(l.updateRatio - 0.1 * norm / wNorm) <= 1e-12)
        #expect(flow.loss.isFinite && flow.step == 0)
    }

    /// A conv net (conv → ReLU → conv → flatten → linear): every weight layer's ‖g‖ equals the norm
    /// of the central finite-difference gradient, layers in forward order by dotted path, BN skipped.
    @Test func convNetMatchesFiniteDifferences() throws {
        let model = Sequential(
            Conv2d(2, 3, kernel: 3, padding: 1), BatchNorm2d(3), ReLU(), Conv2d(3, 2, kernel: 3, stride: 2, padding: 1),
            Flatten(), Linear(2 * 2 * 2, 3)
        ).converted(to: .float64)
        model.eval() // fixed statistics: the loss is a function of the weights alone
        let x = Self.input([2, 2, 4, 4])
        let labels = [2, 0]
        let flow = GradientFlow.measure(model, images: x, labels: labels, learningRate: 0.5)
        #expect(flow.layers.map(\.layer) == ["0", "3", "5"])
        #expect(flow.layers.map(\.kind) == ["Conv2d", "Conv2d", "Linear"])
        #expect(flow.layers.map(\.depth) == [1, 2, 3])
        func loss() -> Double { withNoGrad { crossEntropy(model(x), labels: labels).item() } }
        for (l, (_, _, weight)) in zip(flow.layers, GradientFlow.weightLayers(of: model)) {
            let h = 1e-6
            var sum = 0.0
            for i in 0..<weight.count {
                let original = weight.withUnsafeBuffer(as: Double.self) { $0[i] }
                weight.withUnsafeMutableBuffer(as: Double.self) { $0[i] = original + h }
                let up = loss()
                weight.withUnsafeMutableBuffer(as: Double.self) { $0[i] = original - h }
                let down = loss()
                weight.withUnsafeMutableBuffer(as: Double.self) { $0[i] = original }
                let d = (up - down) / (2 * h)
                sum += d * d
            }
            let numeric = sum.squareRoot()
            #expect(numeric > 0)
            #expect(abs(l.gradientNorm - numeric) <= 1e-6 * numeric, "\(l.layer): \(l.gradientNorm) vs \(numeric)")
            #expect(abs(l.weightNorm - l2Norm(weight)) == 0)
            #expect(abs(l.updateRatio - 0.5 * l.gradientNorm / l.weightNorm) <= 1e-15)
        }
    }

    /// The trace orders layers as the forward calls them, not as they are declared.
    @Test func ordersLayersByTheForwardPass() {
        final class Reversed: Module {
            let late = Linear(4, 2), early = Linear(3, 4)
            override func forward(_ x: Tensor) -> Tensor { late(early(x)) }
        }
        let m = Reversed()
        #expect(GradientFlow.weightLayers(of: m).map(\.path) == ["late", "early"])
        #expect(GradientFlow.weightLayers(of: m, input: [1, 3]).map(\.path) == ["early", "late"])
        let flow = GradientFlow.measure(m, images: Tensor.ones([2, 3]), labels: [0, 1], learningRate: 1)
        #expect(flow.layers.map(\.layer) == ["early", "late"])
    }

    /// 24 sigmoid layers without normalization: at initialization the first layer's gradient is
    /// orders of magnitude below the last's; the same layers as residual branches keep it within
    /// about one order of magnitude. Fails if the norms were, e.g., per-parameter means or out of order.
    /// The weights come from a local generator (tests run in parallel and share the global one),
    /// so the measured ratios are the same on every run.
    @Test func deepPlainNetVanishesWhileResidualDoesNot() {
        let width = 16
        let depth = 24
        func layers(residual: Bool) -> Sequential {
            let s = Sequential(Linear(8, width))
            for _ in 0..<depth {
                let body = Sequential(Sigmoid(), Linear(width, width))
                s.append(residual ? Residual(body) : body)
            }
            s.append(Linear(width, 4))
            // PyTorch's Linear initialization, U(−1/√fan_in, 1/√fan_in), from a fixed seed.
            var g = RandomGenerator(seed: 24)
            for (_, p) in s.namedParameters() {
                let bound = 1 / Double(p.shape.count == 2 ? p.shape[1] : width).squareRoot()
                p.assign(Tensor.fromFunction(p.shape) { _ in (2 * g.nextDouble() - 1) * bound })
            }
            return s
        }
        let x = Tensor.fromFunction([32, 8]) { i in sin(Double(i) * 0.61) * 2 }
        let labels = (0..<32).map { $0 % 4 }
        let plain = GradientFlow.measure(layers(residual: false), images: x, labels: labels, learningRate: 0.1)
        let residual = GradientFlow.measure(layers(residual: true), images: x, labels: labels, learningRate: 0.1)
        #expect(plain.layers.count == depth + 2 && residual.layers.count == depth + 2)
        #expect(plain.firstToLastRatio < 1e-4, "plain first/last \(plain.firstToLastRatio)")
        #expect(
            residual.firstToLastRatio > 0.03 && residual.firstToLastRatio < 30,
            "residual first/last \(residual.firstToLastRatio)")
    }

    /// Tracking: a measurement at step 0 and after each requested step count, weights changed by training.
    @Test func tracksInitializationAndTraining() throws {
        let model = tinyNet()
        let data = SyntheticShapes(count: 32, seed: 3)
        let probe = BatchLoader(data, batchSize: 8).batch(0)
        let before = model.stateDict().map { $0.tensor.copy() }
        let flows = GradientFlow.track(
            model, probe: probe, dataset: data, transform: nil, batchSize: 8, learningRate: 0.05, after: [5, 2])
        #expect(flows.map(\.step) == [0, 2, 5])
        #expect(flows.allSatisfy { $0.layers.map(\.layer) == ["0", "5"] })
        #expect(flows[0].layers[0].weightNorm == l2Norm(before[0]))
        #expect(flows[2].layers[0].weightNorm != flows[0].layers[0].weightNorm)
        #expect(model.parameters().allSatisfy { $0.grad == nil })
    }

    @Test func tableAndJSON() throws {
        let flow = GradientFlow(
            layers: [
                LayerGradientStatistics(
                    layer: "conv1", kind: "Conv2d", depth: 1, gradientNorm: 0.00012345,
                    weightNorm: 2, updateRatio: 6.1726e-6)
            ],
            loss: 2.3, learningRate: 0.1, step: 0)
        let lines = flow.table().split(separator: "\n")
        #expect(lines.count == 2)
        #expect(
            lines[1].contains("conv1") && lines[1].contains("1.235e-04") && lines[1].contains("2.000e+00")
                && lines[1].contains("6.173e-06"))
        let json = try JSON.parse(flow.json.serialized())
        #expect(json["layers"]?.arrayValue?.first?["gradient_norm"]?.doubleValue == 0.00012345)
        #expect(
            scientific(0) == "0" && scientific(1000) == "1.000e+03" && scientific(9.9996) == "1.000e+01"
                && scientific(.nan) == "nan")
    }
}
