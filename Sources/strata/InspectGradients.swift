import ArgumentParser
import Foundation
import Strata
import StrataPlot

/// `strata inspect gradients`: per-layer gradient norms of one or more models on one batch, at
/// initialization and after training steps, as a table, JSON and a figure of ‖g‖ against depth.
struct InspectGradients: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradients",
        abstract:
            "Per-layer gradient norms (‖g‖, ‖w‖, lr·‖g‖/‖w‖) from input to output, at initialization and after training steps.",
        discussion: """
            For each model (built with --seed, or loaded from --weights), one forward and backward pass of the first --batch \
            images of the dataset's training split (training mode: batch norm uses batch statistics) gives the gradient of \
            every convolution and linear weight, in the order the forward pass runs them. With --steps 0,100 it measures again \
            after 100 SGD steps (momentum 0.9, weight decay 1e-4, constant --lr) on the training set. \
            --output writes a figure of ‖g‖ against depth (log scale), one line per model and moment.
            Example: strata inspect gradients --model plain56,resnet56,plain56_nobn --dataset cifar10 --data DIR --output grad.png
            """)

    @Option(help: "Models, comma-separated (see `strata models`; e.g. plain56,resnet56,plain56_nobn).") var model:
        String
    @Option(
        help: "Trained weights (a run directory or .safetensors) for a single --model. Default: fresh initialization.")
    var weights: String?
    @Option(
        help:
            "Dataset: synthetic (built in, repeated to 3 channels for CIFAR models), cifar10, mnist, … Default: synthetic."
    )
    var dataset = "synthetic"
    @Option(help: "Dataset folder (not needed for synthetic).") var data: String?
    @Option(help: "Images in the measured batch.") var batch = 64
    @Option(help: "When to measure, in SGD steps, comma-separated (0: at initialization). Default: 0.") var steps = "0"
    @Option(help: "Learning rate of the update ratio and of the training steps.") var lr = 0.1
    @Option(help: "Seed of the initialization and of the shuffling.") var seed: UInt64 = 0
    @Option(help: "Write a PNG figure of ‖g‖ against depth (log scale) here.") var output: String?
    @Flag(help: "Print JSON instead of the tables.") var json = false

    func run() throws {
        let names = model.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter {
            !$0.isEmpty
        }
        guard !names.isEmpty else { throw ValidationError("--model needs at least one model name, got '\(model)'") }
        guard (1...4096).contains(batch) else { throw ValidationError("--batch must be from 1 to 4096, got \(batch)") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be positive, got \(lr)") }
        let moments = try steps.split(separator: ",").map { s -> Int in
            guard let n = Int(s.trimmingCharacters(in: .whitespaces)), (0...1_000_000).contains(n) else {
                throw ValidationError("--steps must be comma-separated step counts from 0 to 1000000, got '\(steps)'")
            }
            return n
        }
        guard !moments.isEmpty else { throw ValidationError("--steps needs at least one step count, got '\(steps)'") }
        if weights != nil && names.count != 1 {
            throw ValidationError("--weights loads one model's weights: give a single --model (got \(names.count))")
        }
        let entries = try names.map { name -> Models.Entry in
            do { return try Models.entry(name) } catch { throw ValidationError("--model: \(error)") }
        }
        let loaded = try loadDataset(dataset, data: data, inputSize: entries[0].input[1])
        var results: [(name: String, parameters: Int, flows: [GradientFlow])] = []
        for entry in entries {
            let set = try experimentData(loaded, channels: entry.input[0], dataset: dataset)
            let probe = BatchLoader(
                set.train, batchSize: Swift.min(batch, set.train.count), transform: set.testTransform
            ).batch(0)
            try entry.checkInput(Array(probe.images.shape.dropFirst()))
            GlobalRandom.seed(seed)
            let net = try Models.make(entry.name, classes: set.train.classNames.count)
            if let weights {
                let w = try Checkpoint.modelWeights(weights)
                do { try net.loadStateDict(w.tensors) } catch let e as StateDictError {
                    throw CommandFailure("\(w.file) does not fit \(entry.name): \(e)")
                }
            }
            let flows = GradientFlow.track(
                net, probe: probe, dataset: set.train, transform: set.trainTransform, batchSize: batch,
                learningRate: lr, after: moments, seed: seed)
            results.append((entry.name, net.parameterCount, flows.filter { moments.contains($0.step) }))
        }
        if json {
            print(gradientReport(results, dataset: loaded.description).serialized(pretty: true))
        } else {
            for r in results {
                for f in r.flows {
                    print(
                        "\(r.name) (\(groupedThousands(r.parameters)) parameters) at step \(f.step): loss \(shortText(f.loss)), "
                            + "‖g‖ first/last layer \(scientific(f.firstToLastRatio)), batch \(batch) of \(loaded.description)"
                    )
                    print(f.table())
                    print("")
                }
            }
        }
        if let output {
            let chart = gradientChart(
                title: "Gradient norm by depth (\(dataset), batch \(batch))",
                results.flatMap { r in r.flows.map { (r.flows.count > 1 ? "\(r.name) step \($0.step)" : r.name, $0) } })
            try chart.writePNG(to: output, width: 900, height: 560)
            if !json { print("figure: \(output)") }
        }
    }
}

/// ‖g‖ against depth (log scale), one line per labelled measurement.
func gradientChart(title: String, _ flows: [(label: String, flow: GradientFlow)]) -> LineChart {
    LineChart(
        title: title, xLabel: "weight layer (1 = input)", yLabel: "gradient norm ||dL/dW||", xScale: .linear,
        yScale: .log10,
        series: flows.map { l, f in
            PlotSeries(
                label: l, x: f.layers.map { Double($0.depth) }, y: f.layers.map(\.gradientNorm), style: .linePoints)
        })
}

/// The gradient measurements of a `strata train --log-gradients` run, for its report's figure: the
/// first and the latest step's ‖g‖ by depth.
final class RecordedGradients {
    private var first: GradientFlow?
    private var latest: GradientFlow?

    func record(_ flow: GradientFlow) {
        if first == nil { first = flow } else { latest = flow }
    }

    /// The figure, as PNG bytes with its caption (none before the first measurement).
    func figures(model: String) -> [(title: String, pngBytes: [UInt8])] {
        guard let first else { return [] }
        let flows = [first, latest].compactMap { $0 }.map { ("\(model) step \($0.step)", $0) }
        let title = "Gradient norm by depth"
        guard let png = try? ImageEncoder.pngBytes(gradientChart(title: title, flows).render(width: 900, height: 560))
        else { return [] }
        return [("\(title), \(flows.map(\.0).joined(separator: " and ")) (--log-gradients)", png)]
    }
}

/// The JSON of `strata inspect gradients --json`: the dataset, and each model's measurements.
func gradientReport(_ results: [(name: String, parameters: Int, flows: [GradientFlow])], dataset: String) -> JSON {
    .object([
        ("dataset", .string(dataset)),
        (
            "models",
            .array(
                results.map { r in
                    .object([
                        ("model", .string(r.name)), ("parameters", .int(r.parameters)),
                        ("first_to_last_ratio", .array(r.flows.map { .number($0.firstToLastRatio) })),
                        ("measurements", .array(r.flows.map(\.json))),
                    ])
                })
        ),
    ])
}

/// The datasets of `loaded` as an experiment's data for a model taking `channels` channels: the
/// 1-channel synthetic shapes are repeated to 3 channels for CIFAR models; other mismatches are errors.
func experimentData(_ loaded: DatasetCatalog.Loaded, channels: Int, dataset: String) throws -> ExperimentData {
    let have = loaded.train.imageShape[0]
    if have == channels {
        return ExperimentData(
            train: loaded.train, test: loaded.validation, trainTransform: loaded.trainTransform,
            testTransform: loaded.evaluationTransform, augment: loaded.augment, description: loaded.description)
    }
    guard have == 1, loaded.trainTransform == nil, loaded.evaluationTransform == nil else {
        throw ValidationError(
            "the model takes \(channels)-channel images; the \(dataset) dataset has \(have) channel(s) (use synthetic or cifar10 for CIFAR models)"
        )
    }
    return ExperimentData(
        train: RepeatedChannels(loaded.train, channels: channels),
        test: RepeatedChannels(loaded.validation, channels: channels),
        description: loaded.description + " (repeated to \(channels) channels)")
}
