import ArgumentParser
import Strata

/// `strata infer`: logits of a model on a float32 NCHW array.
struct Infer: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a model in eval mode on a float32 NCHW .npy array and write the logits as .npy.")

    @Option(help: "Model name (see `strata models`).") var model: String
    @Option(help: "Weights (.safetensors with torchvision's key names) or a training run directory.") var weights:
        String?
    @Option(
        help:
            "Instead of --weights: the weights Strata ships for --model trained on this dataset (`strata models --pretrained`)."
    )
    var pretrained: String?
    @Option(help: "Input array, float32 [N, C, H, W] (.npy).") var input: String
    @Option(help: "Where to write the logits, float32 [N, classes] (.npy).") var output: String
    @Option(help: "Number of classes (default: the model's own).") var classes: Int?

    func validate() throws {
        guard (weights == nil) != (pretrained == nil) else {
            throw ValidationError("give --weights FILE or --pretrained DATASET (one of them)")
        }
    }

    func run() throws {
        let weights = try weightsPath(weights, pretrained: pretrained, model: model)
        let file = try Checkpoint.modelWeights(weights) // a .safetensors file or a run directory
        let net = try Init.withoutInitialization {
            try Models.make(model, classes: classes, forWeightKeys: file.tensors.keys)
        }
        do {
            try net.loadStateDict(file.tensors)
        } catch let error as StateDictError {
            throw CommandFailure("\(weights) does not fit \(model): \(error)")
        }
        net.eval()
        let x = try NPY.read(path: input, as: .float32)
        guard x.rank == 4 else {
            throw ValidationError("\(input): expected a 4-D array [N, C, H, W], found shape \(x.shape)")
        }
        guard x.shape[0] > 0 else { throw CommandFailure("\(input): the array holds no images (shape \(x.shape))") }
        do { try Models.entry(model).checkInput(Array(x.shape[1...])) } catch {
            throw CommandFailure("\(input): \(error)")
        }
        let logits = withNoGrad { net(x) }
        try NPY.write(logits, to: output)
        print("wrote \(output): logits \(logits.shape)")
    }
}

/// A failure of what a command was asked to do (not of how it was asked): printed as
/// "Error: …" without the usage text that `ValidationError` adds.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
