import ArgumentParser
import Foundation
import Strata
import StrataONNX

/// `strata export`: a model and its weights as an ONNX file.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a model with its weights as ONNX (opset \(ONNXExport.opset)), in eval mode.",
        discussion: """
            The graph reads "input", float32 [N, C, H, W] (C×H×W: --input, default the model's own), and writes \
            "logits" [N, classes]. Batch norm is exported with its running statistics, dropout as nothing; weights \
            are initializers named by their state-dict keys. --batch dynamic makes N a symbolic dimension "batch".

            --random-weights SEED exports the model's seeded initialization instead of trained weights (for \
            checking exporters and runtimes); --save-weights writes the weights used as safetensors, which \
            `strata infer --weights` loads.
            """)

    @Option(help: "Model name (see `strata models`).") var model: String
    @Option(help: "Weights (.safetensors with torchvision's key names) or a training run directory.") var weights:
        String?
    @Option(
        help:
            "Instead of --weights: the weights Strata ships for --model trained on this dataset (`strata models --pretrained`)."
    )
    var pretrained: String?
    @Option(
        name: .customLong("random-weights"),
        help: "Instead of --weights: the model's own initialization drawn with this seed.")
    var randomWeights: UInt64?
    @Option(help: "Where to write the ONNX model.") var output: String
    @Option(help: "Batch size N of the graph's input and output, or 'dynamic'.") var batch = "1"
    @Option(help: "Number of classes (default: the model's own, or the weights').") var classes: Int?
    @Option(help: "Input shape CxHxW (default: the model's own, e.g. 3x224x224).") var input: String?
    @Option(name: .customLong("save-weights"), help: "Also write the weights used to this .safetensors file.")
    var saveWeights: String?

    func validate() throws {
        let sources = [weights != nil, pretrained != nil, randomWeights != nil].filter { $0 }.count
        guard sources == 1 else {
            throw ValidationError(
                "give the weights to export: --weights FILE, --pretrained DATASET or --random-weights SEED (one of them)"
            )
        }
        _ = try batchSize()
    }

    private func batchSize() throws -> ONNXExport.Batch {
        if batch == "dynamic" { return .dynamic }
        guard let n = Int(batch), n >= 1 else {
            throw ValidationError("--batch must be a positive integer or 'dynamic', got '\(batch)'")
        }
        return .fixed(n)
    }

    func run() throws {
        let entry = try Models.entry(model)
        let shape = try input.map { try parseShape($0, option: "--input") } ?? entry.input
        do { try entry.checkInput(shape) } catch { throw ValidationError("--input: \(error)") }

        let net: Module
        if let seed = randomWeights {
            GlobalRandom.seed(seed)
            net = try Models.make(model, classes: classes, forWeightKeys: [String]()) // without auxiliary heads
        } else {
            let path = try weightsPath(weights, pretrained: pretrained, model: model)
            let file = try Checkpoint.modelWeights(path) // a .safetensors file or a run directory
            net = try Init.withoutInitialization {
                try Models.make(model, classes: classes, forWeightKeys: file.tensors.keys)
            }
            do {
                try net.loadStateDict(file.tensors)
            } catch let error as StateDictError {
                throw CommandFailure("\(path) does not fit \(model): \(error)")
            }
        }

        let result: ONNXExport.Result
        do {
            result = try ONNXExport.export(
                net, input: shape, batch: try batchSize(), modelName: model, producerVersion: strataVersion)
        } catch let error as ONNXExportError {
            throw CommandFailure("\(model): \(error)")
        }
        try AtomicFile.write([UInt8](result.data), to: output)
        if let saveWeights {
            try SafeTensors.write(
                Dictionary(uniqueKeysWithValues: net.stateDict().map { ($0.key, $0.tensor) }), to: saveWeights)
        }
        let n: String
        switch try batchSize() {
        case .dynamic: n = ONNXExport.batchDimension
        case .fixed(let b): n = "\(b)"
        }
        print(
            "wrote \(output): \(model), opset \(ONNXExport.opset), input [\(n), \(shape.map(String.init).joined(separator: ", "))] → "
                + "logits [\(n), \(result.outputShape[1])], \(result.nodeCount) nodes, \(result.initializerCount) initializers "
                + "(\(groupedThousands(result.weightCount)) weights), \(groupedThousands(result.data.count)) bytes")
        if let saveWeights { print("wrote \(saveWeights): the weights exported") }
    }
}
