import ArgumentParser
import Strata

/// `strata evaluate`: loss, top-1, top-5 and per-class accuracy of trained weights.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate trained weights: loss, top-1, top-5 and per-class accuracy on a dataset's validation split."
    )

    @Option(help: "Model name (default: the one recorded in the checkpoint).") var model: String?
    @Option(help: "A run directory (its best.safetensors, else last.safetensors) or a .safetensors file.") var weights:
        String?
    @Option(
        help:
            "Instead of --weights: the weights Strata ships for --model trained on this dataset (`strata models --pretrained`)."
    )
    var pretrained: String?
    @Option(help: "Dataset (default: the checkpoint's, else synthetic).") var dataset: String?
    @Option(help: "Dataset folder (default: the checkpoint's).") var data: String?
    @Option(help: "Batch size.") var batchSize = 256
    @Flag(help: "Also print the confusion matrix.") var confusion = false
    @Option(help: "Test-time augmentation: none, or flip (average the softmax of each image and its mirror image).")
    var tta: TestTimeAugmentation = .none

    func run() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
        guard (weights == nil) != (pretrained == nil) else {
            throw ValidationError("give --weights or --pretrained DATASET (one of them)")
        }
        if pretrained != nil && model == nil { throw ValidationError("--pretrained needs --model") }
        let w = try Checkpoint.modelWeights(try weightsPath(weights, pretrained: pretrained, model: model ?? ""))
        guard let modelName = model ?? w.model, !modelName.isEmpty else {
            throw ValidationError("\(w.file) does not record its model; pass --model")
        }
        let datasetName = dataset ?? w.state?.configuration.dataset ?? "synthetic"
        let dataPath = data ?? w.state.flatMap { $0.configuration.dataPath.isEmpty ? nil : $0.configuration.dataPath }
        let loaded = try loadDataset(
            datasetName, data: dataPath, inputSize: (try? Models.entry(model ?? w.model ?? ""))?.input[1] ?? 32)
        let set = loaded.validation
        if let names = w.classNames, names != set.classNames {
            throw ValidationError(
                "\(w.file) was trained on classes \(names.prefix(4).joined(separator: ", "))…; \(datasetName) has \(set.classNames.prefix(4).joined(separator: ", "))…"
            )
        }
        let net = try Init.withoutInitialization {
            try Models.make(modelName, classes: set.classNames.count, forWeightKeys: w.tensors.keys)
        }
        do {
            try net.loadStateDict(w.tensors)
        } catch let error as StateDictError {
            throw CommandFailure("\(w.file) does not fit \(modelName): \(error)")
        }
        let start = MonotonicClock.now()
        let result = evaluate(
            net, on: set, batchSize: batchSize, transform: loaded.evaluationTransform, augmentation: tta)
        print(
            "\(modelName) (\(w.file)) on \(datasetName) validation\(tta == .none ? "" : ", flip TTA"), \(((MonotonicClock.now() - start) * 10).rounded() / 10) s"
        )
        print(result.formatted(classNames: set.classNames))
        if confusion {
            print("\nconfusion matrix (rows: true class, columns: predicted):")
            for (i, row) in result.confusion.enumerated() {
                print(
                    String(set.classNames[i].prefix(18)).padded(toWidth: 18)
                        + row.map { String($0).leftPadded(toWidth: 6) }.joined())
            }
        }
    }
}

extension TestTimeAugmentation: ExpressibleByArgument {}

/// `DatasetCatalog.load(_:data:inputSize:)` with its option errors as usage errors (`--dataset`, `--data`).
func loadDataset(_ name: String, data: String?, inputSize: Int) throws -> DatasetCatalog.Loaded {
    do { return try DatasetCatalog.load(name, data: data, inputSize: inputSize) } catch let e as DatasetCatalogError {
        throw ValidationError(e.description)
    }
}
