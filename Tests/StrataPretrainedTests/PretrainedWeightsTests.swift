import Foundation
import StrataDNNL
import StrataData
import StrataModels
import StrataNN
import StrataPretrained
import StrataTensor
import StrataTraining
import Testing

/// `<package root>/../shared/data` (real CIFAR-10 and MNIST); the accuracy checks skip when it is absent.
let sharedData = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/data").path

@Suite struct PretrainedWeightsTests {
    /// Every shipped set is a resource that loads strictly into its model, with class names and normalization.
    @Test(arguments: PretrainedWeights.all.map { "\($0.model)/\($0.dataset)" })
    func loadsIntoItsModel(_ id: String) throws {
        let parts = id.split(separator: "/").map(String.init)
        let w = try PretrainedWeights.named(model: parts[0], dataset: parts[1])
        let file = try Checkpoint.modelWeights(try w.path)
        #expect(file.model == w.model)
        #expect(file.classNames?.count == 10)
        let model = try Models.make(w.model, forWeightKeys: file.tensors.keys)
        try model.loadStateDict(file.tensors)
        model.eval()
        let entry = try Models.entry(w.model)
        let logits = withNoGrad { model(Tensor.zeros([2] + entry.input)) }
        #expect(logits.shape == [2, 10] && logits.floats.allSatisfy(\.isFinite))
    }

    @Test func unknownSetsListWhatIsShipped() {
        #expect { try PretrainedWeights.named(model: "resnet56", dataset: "cifar10") } throws: {
            "\($0)".contains("no pretrained weights for resnet56 on cifar10") && "\($0)".contains("resnet20 on cifar10")
        }
    }

    /// The stated accuracy holds on the real test sets (first 2,000 images; within 2 points).
    @Test(
        .enabled(
            if: FileManager.default.fileExists(atPath: sharedData + "/cifar10/test_batch.bin"),
            "needs ../shared/data/cifar10"))
    func resnet20AccuracyOnCIFAR10() throws {
        let w = try PretrainedWeights.named(model: "resnet20", dataset: "cifar10")
        let model = try Models.make("resnet20")
        try model.loadStateDict(try Checkpoint.modelWeights(try w.path).tensors)
        let test = Subset(try CIFAR10(directory: sharedData + "/cifar10", split: .test), indices: Array(0..<2000))
        // Direct convolution: the debug build's Swift Winograd transforms (AVX2 machines) would take minutes.
        let r = Backends.with(DNNLBackend(convolutionAlgorithm: .direct)) {
            evaluate(model, on: test, batchSize: 250, transform: .normalization(.cifar10))
        }
        #expect(abs(r.top1 - w.top1) < 0.02, "top-1 \(r.top1) vs stated \(w.top1)")
    }

    @Test(
        .enabled(
            if: FileManager.default.fileExists(atPath: sharedData + "/mnist/t10k-images-idx3-ubyte.gz"),
            "needs ../shared/data/mnist"))
    func lenet5AccuracyOnMNIST() throws {
        let w = try PretrainedWeights.named(model: "lenet5", dataset: "mnist")
        let model = try Models.make("lenet5")
        try model.loadStateDict(try Checkpoint.modelWeights(try w.path).tensors)
        let test = Subset(try MNIST(directory: sharedData + "/mnist", split: .test), indices: Array(0..<2000))
        let r = Backends.with(DNNLBackend()) {
            evaluate(
                model, on: test, batchSize: 250, transform: ImageTransform([.centerCrop(size: 32), .normalize(.mnist)]))
        }
        #expect(abs(r.top1 - w.top1) < 0.02, "top-1 \(r.top1) vs stated \(w.top1)")
    }
}
