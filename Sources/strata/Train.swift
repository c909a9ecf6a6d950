import ArgumentParser
import Strata

/// `strata train`: train a zoo model. With no arguments, LeNet-5 on the built-in synthetic shapes.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model (default: LeNet-5 on the built-in synthetic shapes dataset, no files needed).")

    @Option(help: "Model name (see `strata models`).") var model = "lenet5"
    @Option(help: "Dataset: synthetic (built in).") var dataset = "synthetic"
    @Option(help: "Epochs.") var epochs = 4
    @Option(help: "Mini-batch size.") var batchSize = 64
    @Option(help: "Peak learning rate.") var lr = 0.05
    @Option(help: "Weight decay (not applied to BN parameters and biases).") var weightDecay = 5e-4
    @Option(help: "Label smoothing.") var labelSmoothing = 0.0
    @Option(help: "Random seed (weights, shuffling).") var seed: UInt64 = 0
    @Flag(help: "Print only the final result.") var quiet = false

    func validate() throws {
        guard epochs > 0 else { throw ValidationError("--epochs must be positive, got \(epochs)") }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
        guard lr > 0 else { throw ValidationError("--lr must be positive, got \(lr)") }
        guard dataset == "synthetic" else {
            throw ValidationError("--dataset: only 'synthetic' is available so far, got '\(dataset)'")
        }
    }

    func run() throws {
        GlobalRandom.seed(seed)
        let train = SyntheticShapes(count: 12_000, seed: 1), validation = SyntheticShapes(count: 2_000, seed: 2)
        let entry = try Models.entry(model)
        guard entry.input[0] == train.imageShape[0] else {
            throw ValidationError("\(model) takes \(entry.input[0])-channel input; the synthetic dataset is \(train.imageShape[0])-channel (use lenet5)")
        }
        let net = try Models.make(model, classes: train.classNames.count)
        var config = TrainingConfiguration()
        (config.epochs, config.batchSize, config.learningRate, config.weightDecay, config.labelSmoothing, config.seed) =
            (epochs, batchSize, lr, weightDecay, labelSmoothing, seed)
        config.warmupEpochs = 0.5
        if !quiet { print("training \(model) (\(groupedThousands(net.parameterCount)) parameters) on synthetic shapes: \(train.count) train, \(validation.count) validation") }
        let start = MonotonicClock.now()
        var last: EpochReport?
        Trainer(model: net, configuration: config).fit(train: train, validation: validation) { r in
            last = r
            if !quiet {
                print("epoch \(r.epoch)/\(epochs)  loss \(fmt(r.trainLoss))  train acc \(pct(r.trainAccuracy))  val loss \(fmt(r.validation.loss))  val top-1 \(pct(r.validation.top1))  \(Int(r.imagesPerSecond)) img/s")
            }
        }
        if let last {
            print("validation top-1 \(pct(last.validation.top1)), top-5 \(pct(last.validation.top5)) after \(epochs) epochs in \(fmt(MonotonicClock.now() - start)) s")
        }
    }

    func fmt(_ v: Double) -> String { String((v * 1000).rounded() / 1000) }
    func pct(_ v: Double) -> String { String((v * 1000).rounded() / 10) + "%" }
}
