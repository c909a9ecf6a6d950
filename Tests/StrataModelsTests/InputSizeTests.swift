import StrataModels
import StrataNN
import StrataTensor
import Testing

/// What input each model takes (issue 11: a wrong size trapped in release builds with no message).
/// Each model's declared minimum must run (shape inference through every layer; a size below
/// the true minimum would trap here), and `checkInput` must refuse one pixel less, the wrong
/// channel count, and for LeNet-5 anything but 32×32, with a message saying what is needed.
@Suite struct InputSizeTests {
    @Test(
        "every model runs at its declared minimum input size",
        arguments: [
            "lenet5", "alexnet", "alexnet2012", "alexnet_bn", "vgg11", "googlenet", "inception_v3", "densenet121",
            "densenet_bc_100", "resnet18", "resnet20",
        ])
    func minimumRuns(_ name: String) throws {
        let entry = try Models.entry(name)
        let m = entry.minimumInputSize
        let shape = [entry.input[0], m, m]
        try entry.checkInput(shape)
        let model = try Init.withoutInitialization { try Models.make(name) }
        let summary = ModelSummary(model, input: shape)
        #expect(summary.outputShape == [1, entry.classes], "\(name) at \(m)×\(m)")
        if m > 1 {
            #expect(throws: ModelRegistryError.self) { try entry.checkInput([entry.input[0], m - 1, m]) }
            #expect(throws: ModelRegistryError.self) { try entry.checkInput([entry.input[0], m, m - 1]) }
        }
        #expect(throws: ModelRegistryError.self) { try entry.checkInput([entry.input[0] + 1, m, m]) }
    }

    @Test func messagesSayWhatIsNeeded() throws {
        do {
            try Models.entry("lenet5").checkInput([1, 28, 28])
            Issue.record("lenet5 took 28×28")
        } catch {
            #expect("\(error)" == "lenet5 expects 1×32×32; got 1×28×28: pad or resize the images to 32×32")
        }
        do {
            try Models.entry("inception_v3").checkInput([3, 32, 32])
            Issue.record("inception_v3 took 32×32")
        } catch {
            #expect("\(error)".contains("inception_v3 needs images of at least 75×75"), "\(error)")
        }
        #expect(throws: Never.self) { try Models.entry("resnet50").checkInput([3, 1, 1]) }
        #expect(throws: Never.self) { try Models.entry("densenet_bc_40_k12").checkInput([3, 4, 4]) }
    }
}
