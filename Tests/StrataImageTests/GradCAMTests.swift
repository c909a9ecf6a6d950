import Foundation
import Strata
import Testing

/// Sources/Strata/GradCAM.swift and NetworkImages.swift.
@Suite struct GradCAMTests {
    /// conv 1×1 (1 → 2 channels, weights 1 and −1) → global mean → linear [[2, 1], [0, 1]].
    static func tinyNet() throws -> Module {
        let net = Sequential(named: [
            ("features", Conv2d(1, 2, kernel: (1, 1), bias: false)), ("pool", AdaptiveAvgPool2d(1)),
            ("flatten", Flatten()), ("fc", Linear(2, 2, bias: false)),
        ])
        try net.loadStateDict([
            "features.weight": Tensor([Float(1), -1], shape: [2, 1, 1, 1]),
            "fc.weight": Tensor([Float(2), 1, 0, 1], shape: [2, 2]),
        ])
        net.eval()
        return net
    }

    @Test func tinyNetworkMatchesAHandComputation() throws {
        let net = try Self.tinyNet()
        let x = Tensor([Float(1), 2, 3, 4], shape: [1, 1, 2, 2])
        // A₀ = x, A₁ = −x; pooled (2.5, −2.5); logits (2·2.5 − 2.5, −2.5) = (2.5, −2.5): class 0.
        #expect(GradCAM.defaultLayer(of: net, inputShape: [1, 1, 2, 2]) == "features")
        let cam = try GradCAM.compute(model: net, input: x)
        #expect(cam.layer == "features" && cam.classIndex == 0 && abs(cam.logit - 2.5) < 1e-6)
        // ∂y₀/∂A_k = W[0, k] / 4 everywhere: α = (0.5, 0.25); map = ReLU(0.5 x − 0.25 x) = 0.25 x.
        #expect(zip(cam.channelWeights, [0.5, 0.25] as [Float]).allSatisfy { abs($0 - $1) < 1e-6 })
        #expect(cam.height == 2 && cam.width == 2)
        #expect(zip(cam.map, [0.25, 0.5, 0.75, 1] as [Float]).allSatisfy { abs($0 - $1) < 1e-6 }, "\(cam.map)")
        // Class 1: α = (0, 0.25), Σ = −0.25 x < 0 everywhere: ReLU leaves nothing.
        let other = try GradCAM.compute(model: net, input: x, classIndex: 1)
        #expect(other.map.allSatisfy { $0 == 0 })
        // The parameters' gradients are not left behind.
        #expect(net.parameters().allSatisfy { $0.grad == nil })
        // The forward pass is unchanged by capturing (same logits with and without).
        let plain = withNoGrad { net(x) }.floats
        #expect(abs(plain[0] - 2.5) < 1e-6)
    }

    @Test func errorsNameTheLayer() throws {
        let net = try Self.tinyNet()
        let x = Tensor([Float(1), 2, 3, 4], shape: [1, 1, 2, 2])
        do {
            _ = try GradCAM.compute(model: net, input: x, layer: "feature", modelName: "tiny")
            Issue.record("an unknown layer was accepted")
        } catch let e as LayerNotFoundError {
            #expect(e.description.contains("'feature'") && e.description.contains("features, pool, flatten, fc"))
            #expect(e.description.contains("strata summary tiny"))
        }
        #expect(throws: ClassifierError.self) { try GradCAM.compute(model: net, input: x, layer: "fc") }
        #expect(throws: ClassifierError.self) { try GradCAM.compute(model: net, input: x, classIndex: 7) }
        #expect(throws: ClassifierError.self) { try GradCAM.compute(model: net, input: Tensor.zeros([2, 1, 2, 2])) }
    }

    @Test func featureMapsAndFiltersOfATinyNetwork() throws {
        let net = try Self.tinyNet()
        let x = Tensor([Float(1), 2, 3, 4], shape: [1, 1, 2, 2])
        let a = try NetworkImages.activation(of: net, path: "features", input: x)
        #expect(a.shape == [1, 2, 2, 2] && a.floats == [1, 2, 3, 4, -1, -2, -3, -4])
        let grid = try NetworkImages.featureMaps(a)
        // 2 maps, 2 columns, tiles 2×2 enlarged 16 times, padding 2.
        #expect(grid.width == 2 * 32 + 3 * 2 && grid.height == 32 + 2 * 2 && grid.channels == 3)
        #expect(throws: ClassifierError.self) {
            try NetworkImages.featureMaps(NetworkImages.activation(of: net, path: "fc", input: x))
        }
        #expect(throws: LayerNotFoundError.self) { try NetworkImages.activation(of: net, path: "layer1", input: x) }
        #expect(NetworkImages.firstConvolution(of: net) == "features")
        let filters = try NetworkImages.filters(of: net, path: "features.weight")
        #expect(filters.width == 2 * 32 + 3 * 2 && filters.channels == 1)
        #expect(throws: ClassifierError.self) { try NetworkImages.filters(of: net, path: "fc") }
    }

    static let cifarSample = photosDirectory + "/cifar10-test-samples/cat_0000.jpg"

    /// The shipped CIFAR-10 ResNet-20 on a CIFAR-10 test image: a map that varies, written as a PNG
    /// of the image's size that is not blank.
    @Test(
        .enabled(
            if: FileManager.default.fileExists(atPath: cifarSample), "needs ../shared/data/photos/cifar10-test-samples")
    )
    func pretrainedResNet20OnACIFARImage() throws {
        let classifier = try ImageClassifier(
            model: "resnet20", weights: try PretrainedWeights.named(model: "resnet20", dataset: "cifar10").path)
        let picture = try classifier.preprocess(path: Self.cifarSample)
        let x = ImageTransforms.toTensor([picture], normalizedWith: classifier.normalization)
        let cam = try GradCAM.compute(model: classifier.model, input: x, modelName: "resnet20")
        #expect(cam.layer == "layer3" && cam.height == 8 && cam.width == 8)
        let top1 = classifier.topK(classifier.probabilities([picture])[0], 1)[0]
        #expect(cam.classIndex == top1.index)
        #expect(Set(cam.map).count > 4, "the map is not constant: \(cam.map)")
        let overlay = GradCAM.overlay(cam, on: picture)
        let path = NSTemporaryDirectory() + "strata-gradcam-\(getpid()).png"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try ImageEncoder.writePNG(overlay, to: path)
        let back = try ImageDecoder.decode(path: path)
        #expect(back.width == picture.width && back.height == picture.height && back.channels == 3)
        var colours = Set<Int>()
        for i in 0..<(back.width * back.height) {
            colours.insert(
                Int(back.pixels[3 * i]) << 16 | Int(back.pixels[3 * i + 1]) << 8 | Int(back.pixels[3 * i + 2]))
        }
        #expect(colours.count > 100)
    }
}
