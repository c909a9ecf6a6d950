import ArgumentParser
import Foundation
import Strata
import StrataPlot

/// `strata experiment degradation|batchnorm|efficiency`: the tutorial's claims, each measured by one
/// command that writes a run directory with per-arm metrics, a figure and a verdict computed from
/// the measurements (verdict.json, verdict.md, and report.html with the figures).
struct Experiment: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Run one of the tutorial's experiments: metrics per arm, a figure, and a verdict computed from the measurements.",
        subcommands: [DegradationExperiment.self, BatchNormExperiment.self, EfficiencyExperiment.self])
}

/// Options every experiment takes.
struct ExperimentOptions: ParsableArguments {
    @Option(help: "Run directory. Default: runs/experiment-NAME-TIME.") var out: String?
    @Option(
        help:
            "Dataset: cifar10 (the official binary version in --data) or synthetic (built in). Default: cifar10 with --data, else synthetic."
    )
    var dataset: String?
    @Option(help: "Dataset folder.") var data: String?
    @Option(help: "Use only the first N training images.") var trainLimit: Int?
    @Option(help: "Use only the first N test images.") var testLimit: Int?
    @Option(help: "Seed of every arm's initialization and shuffling.") var seed: UInt64 = 0
    @Flag(
        help: "Keep each arm's checkpoints (deleted by default: the run directory keeps metrics, figures and verdicts)."
    )
    var keepCheckpoints = false
    @Flag(help: "Print only the verdict.") var quiet = false

    func validate() throws {
        if let trainLimit, trainLimit < 1 { throw ValidationError("--train-limit must be positive, got \(trainLimit)") }
        if let testLimit, testLimit < 1 { throw ValidationError("--test-limit must be positive, got \(testLimit)") }
    }

    /// The run directory, created.
    func directory(_ name: String) throws -> String {
        let path = out ?? "runs/experiment-\(name)-\(Int(Date().timeIntervalSince1970))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The experiment's data for `channels`-channel CIFAR-size models, limited as asked.
    func load(channels: Int = 3, defaultTrainLimit: Int? = nil, defaultTestLimit: Int? = nil) throws -> ExperimentData {
        let name = dataset ?? (data == nil ? "synthetic" : "cifar10")
        let loaded = try loadDataset(name, data: data, inputSize: 32)
        return try experimentData(loaded, channels: channels, dataset: name).limited(
            train: trainLimit ?? defaultTrainLimit,
            test: testLimit ?? defaultTestLimit)
    }

    func say(_ s: String) { if !quiet { print(s) } }
}

/// A CIFAR network by name: any zoo model, or `plainN` / `resnetN` (with `_nobn`) for any depth
/// N = 6n + 2 (plain8, resnet14: small nets for quick checks).
func experimentModel(_ name: String, classes: Int) throws -> Module {
    if let m = try? Models.make(name, classes: classes) { return m }
    var base = Substring(name)
    let batchNorm = !base.hasSuffix("_nobn")
    if !batchNorm { base = base.dropLast(5) }
    for (prefix, shortcut) in [("plain", ShortcutKind.none), ("resnet", .optionA)] where base.hasPrefix(prefix) {
        if let depth = Int(base.dropFirst(prefix.count)), depth >= 8, depth <= 1202, (depth - 2) % 6 == 0 {
            return CIFARResNet(depth: depth, classes: classes, shortcut: shortcut, batchNorm: batchNorm)
        }
    }
    _ = try Models.make(name, classes: classes) // throws the registry's message
    throw ValidationError("unknown model '\(name)'")
}

/// Trains the arms one after the other, printing per-epoch lines.
func trainArms(_ arms: [ExperimentArm], data: ExperimentData, directory: String, options: ExperimentOptions) throws
    -> [ArmResult]
{
    try arms.map { arm in
        GlobalRandom.seed(arm.configuration.seed)
        let model = try experimentModel(arm.model, classes: data.train.classNames.count)
        options.say("\(arm.name): \(arm.model), \(groupedThousands(model.parameterCount)) parameters")
        let r = try Experiments.train(
            arm, model: model, data: data, directory: directory, keepCheckpoints: options.keepCheckpoints,
            report: { e in
                options.say(
                    "  epoch \(e.epoch)/\(e.epochs) step \(e.step): train loss \(shortText(e.trainLoss)), train error \(percentText(1 - e.trainAccuracy)), "
                        + "test error \(percentText(1 - e.validation.top1)), \(Int(e.imagesPerSecond)) img/s")
            })
        if let f = r.failure { options.say("  stopped: \(f)") }
        options.say(
            "  \(arm.name): final train error \(percentText(r.finalTrainError)), test error \(percentText(r.finalTestError)), \(Int(r.seconds)) s"
        )
        return r
    }
}

/// A figure of an experiment, rendered and encoded once: the same PNG bytes are written to the run
/// directory and embedded in its report.html.
struct ExperimentFigure {
    /// The file's name in the run directory.
    var file: String
    /// The report's caption.
    var title: String
    /// The PNG file's bytes.
    var png: [UInt8]

    /// Encodes `image` as PNG and writes it to `directory/file` (atomically).
    init(_ image: Image, file: String, title: String, directory: String) throws {
        (self.file, self.title) = (file, title)
        png = try ImageEncoder.pngBytes(image)
        try AtomicFile.write(png, to: directory + "/" + file)
    }
}

/// Prints the verdict and writes verdict.json, verdict.md and report.html (the verdict, the
/// figures embedded, links to each arm's training report).
/// - Parameters:
///   - verdict: what the experiment concluded.
///   - directory: the experiment's run directory.
///   - description: what was run, in one line (the report's subtitle).
///   - figures: the figures written to `directory`, embedded in the report in this order.
///   - files: other files the experiment wrote there, for the closing line.
///   - options: the experiment's common options.
func finish(
    _ verdict: ExperimentVerdict, directory: String, description: String, figures: [ExperimentFigure],
    files: [String] = [], options: ExperimentOptions
) throws {
    try verdict.write(to: directory)
    let fm = FileManager.default
    let arms = ((try? fm.contentsOfDirectory(atPath: directory)) ?? []).sorted().filter {
        fm.fileExists(atPath: "\(directory)/\($0)/report.html")
    }
    try ExperimentReport(
        verdict: verdict, description: description, figures: figures.map { ($0.title, $0.png) }, arms: arms
    ).write(to: directory)
    print(verdict.summary)
    for f in verdict.findings {
        print("  \(f.holds.map { $0 ? "✓" : "✗" } ?? "–") \(f.claim): \(f.evidence)")
    }
    let written = ["report.html", "verdict.md", "verdict.json"] + figures.map(\.file) + files
    print("run directory: \(directory) (\(written.joined(separator: ", ")))")
}

// MARK: - degradation

/// The schedule of `strata experiment degradation`.
enum DegradationSchedule: String, ExpressibleByArgument, CaseIterable {
    /// He et al.: 64k iterations of batch 128 on the whole training set, lr 0.1 ÷10 at 32k and 48k.
    case paper
    /// A subset and a few epochs (see the command's help): about an hour on 2 cores.
    case quick
}

struct DegradationExperiment: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "degradation",
        abstract:
            "Plain vs residual nets, shallow vs deep, on CIFAR-10 (He et al. 2016, Fig. 6): training and test error curves.",
        discussion: """
            Trains plainS, plainD, resnetS, resnetD (--depths S,D; default 20,56) with He et al.'s recipe (SGD momentum 0.9, \
            weight decay 1e-4, batch 128, lr 0.1 ÷10 at 50% and 75% of the steps; pad-crop-flip augmentation) and checks the \
            paper's claims: the deeper plain net trains worse (the degradation problem) while the deeper residual net trains \
            and tests better. --schedule paper: 64k iterations on all 50k training images (the paper's: 8.2 M images per arm). \
            --quick (= --schedule quick): the first 10,000 training and 2,000 test images, 8 epochs (632 iterations of batch 128) \
            per arm, the first epoch a linear warmup (the four arms: 56 min in one process with 1 thread, 27 min as two --arms \
            processes on 2 cores; the 56-layer nets do 3.1× the MACs per image of the 20-layer ones). The paper's schedule \
            starts at 0.1 directly (He et al. warm up only their 110-layer net); the quick one cannot afford the unstable \
            first epochs a 0.1 start costs a deep net in a run 1% as long. \
            Writes DIR/<arm>/metrics.jsonl (and TensorBoard events, report.html), DIR/figure.png, DIR/verdict.json, \
            DIR/verdict.md and DIR/report.html (verdict, figure, links to the arms' reports). Arms already finished in DIR \
            (their result.json) are not retrained: rerun the same command to continue a stopped experiment (an arm trained \
            with other settings is refused, not reused).
            """)

    @OptionGroup var options: ExperimentOptions
    @Option(help: "paper or quick. Default: paper.") var schedule: DegradationSchedule?
    @Flag(help: "The quick schedule (same as --schedule quick).") var quick = false
    @Option(help: "Shallow and deep depth, 6n+2 each. Default: 20,56.") var depths = "20,56"
    @Option(help: "Epochs per arm (overrides the schedule's).") var epochs: Int?
    @Option(help: "Iterations per arm (overrides the schedule's; the milestones stay at 50% and 75%).") var maxSteps:
        Int?
    @Option(help: "Mini-batch size. Default: 128.") var batchSize = 128
    @Option(help: "Learning rate. Default: 0.1.") var lr = 0.1
    @Option(help: "Linear warmup to --lr, in epochs (may be fractional). Default: 1 for --quick, 0 for the paper's.")
    var warmupEpochs: Double?
    @Option(
        help:
            "Train only these arms (comma-separated, e.g. resnet56), so that several processes share one --out; the figure and verdict come once all four arms are there."
    )
    var arms: String?

    func run() throws {
        if quick && schedule == .paper {
            throw ValidationError("--quick and --schedule paper contradict each other; give one")
        }
        let s = quick ? .quick : schedule ?? .paper
        let d = try depths.split(separator: ",").map { t -> Int in
            guard let v = Int(t), v >= 8, (v - 2) % 6 == 0, v <= 1202 else {
                throw ValidationError("--depths takes two depths 6n+2 (8 … 1202), got '\(depths)'")
            }
            return v
        }
        guard d.count == 2, d[0] < d[1] else {
            throw ValidationError("--depths takes a shallow and a deeper depth, e.g. 20,56; got '\(depths)'")
        }
        guard (1...65_536).contains(batchSize) else {
            throw ValidationError("--batch-size must be from 1 to 65536, got \(batchSize)")
        }
        if let w = warmupEpochs, !(0...1_000_000).contains(w) {
            throw ValidationError("--warmup-epochs must be from 0 to 1000000, got \(w)")
        }
        let data = try options.load(
            defaultTrainLimit: s == .quick ? 10_000 : nil, defaultTestLimit: s == .quick ? 2_000 : nil)
        let directory = try options.directory("degradation")
        var c = TrainingConfiguration()
        c.dataset = options.dataset ?? (options.data == nil ? "synthetic" : "cifar10")
        c.dataPath = options.data ?? ""
        c.batchSize = batchSize
        c.learningRate = lr
        c.schedule = .multistep
        c.momentum = 0.9
        c.nesterov = false
        c.weightDecay = 1e-4
        c.decayNormAndBias = true
        c.warmupEpochs = warmupEpochs ?? (s == .quick ? 1 : 0)
        c.seed = options.seed
        c.logEverySteps = 10
        switch s {
        case .paper:
            c.maxSteps = maxSteps ?? 64_000
            c.milestones = maxSteps == nil ? [32_000, 48_000] : []
        case .quick:
            c.epochs = epochs ?? 8
            c.maxSteps = maxSteps
        }
        if let epochs, s == .paper {
            c.maxSteps = maxSteps
            c.epochs = epochs
            c.milestones = []
        }
        do { try c.validate() } catch let e as TrainingError { throw ValidationError(e.description) }
        let description =
            "degradation (\(s.rawValue) schedule): \(data.description); \(c.maxSteps.map { "\($0) iterations" } ?? "\(c.epochs) epochs") per arm"
        options.say(description)
        let names = ["plain\(d[0])", "plain\(d[1])", "resnet\(d[0])", "resnet\(d[1])"]
        let arms = names.map { n -> ExperimentArm in
            var a = c
            a.model = n
            return ExperimentArm(name: n, model: n, configuration: a)
        }
        if let only = self.arms {
            let chosen = only.split(separator: ",").map(String.init)
            guard !chosen.isEmpty, chosen.allSatisfy(names.contains) else {
                throw ValidationError("--arms takes names among \(names.joined(separator: ", ")); got '\(only)'")
            }
            let missing = names.filter {
                !chosen.contains($0) && !FileManager.default.fileExists(atPath: "\(directory)/\($0)/result.json")
            }
            _ = try trainArms(
                arms.filter { chosen.contains($0.name) }, data: data, directory: directory, options: options)
            guard missing.isEmpty else {
                print(
                    "trained \(chosen.joined(separator: ", ")); the verdict needs \(missing.joined(separator: ", ")) too: run the same command for them (or without --arms)"
                )
                return
            }
        }
        let r = try trainArms(arms, data: data, directory: directory, options: options)
        let verdict = Experiments.degradationVerdict(
            plainShallow: r[0], plainDeep: r[1], residualShallow: r[2], residualDeep: r[3])
        var series: [PlotSeries] = []
        // One colour per network; training error as a line, test error with dots (the paper's thin and bold).
        for (k, a) in r.enumerated() {
            series.append(
                PlotSeries(
                    label: "\(a.name) train", x: a.epochs.map { Double($0.step) },
                    y: a.epochs.map { 100 * $0.trainError }, style: .line, colorIndex: k))
            series.append(
                PlotSeries(
                    label: "\(a.name) test", x: a.epochs.map { Double($0.step) },
                    y: a.epochs.map { 100 * $0.testError }, style: .linePoints, colorIndex: k))
        }
        let chart = LineChart(
            title: "Plain vs residual nets (\(s.rawValue))", xLabel: "iterations",
            yLabel: "error (%)", series: series)
        let figure = try ExperimentFigure(
            chart.render(width: 900, height: 560), file: "figure.png",
            title: "Training error (lines) and test error (dots) against iterations", directory: directory)
        try finish(verdict, directory: directory, description: description, figures: [figure], options: options)
    }
}

// MARK: - batchnorm

struct BatchNormExperiment: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batchnorm",
        abstract:
            "The same network with batch norm, without it, and with it at a 10× learning rate: training loss against steps.",
        discussion: """
            Trains --model (default plain20) as bn (with batch norm, --lr), nobn (MODEL_nobn: the same layers without batch \
            norm, biased convolutions, --lr) and bn_lr10x (with batch norm, 10 × --lr), each --steps SGD steps (momentum 0.9, \
            weight decay 1e-4, constant rate) from the same seed. The verdict: batch norm reaches the loss the run without it \
            ends at in at most half the steps (moving averages over a tenth of the run), and still trains at the 10× rate. \
            Writes DIR/<arm>/…, DIR/figure.png, DIR/verdict.json, DIR/verdict.md and DIR/report.html.
            """)

    @OptionGroup var options: ExperimentOptions
    @Option(help: "The network (a CIFAR plainN or resnetN). Default: plain20.") var model = "plain20"
    @Option(help: "Learning rate of bn and nobn (bn_lr10x: 10×). Default: 0.01.") var lr = 0.01
    @Option(help: "Steps per arm. Default: 600.") var steps = 600
    @Option(help: "Mini-batch size. Default: 64.") var batchSize = 64

    func run() throws {
        guard (1...1_000_000).contains(steps) else {
            throw ValidationError("--steps must be from 1 to 1000000, got \(steps)")
        }
        guard (1...65_536).contains(batchSize) else {
            throw ValidationError("--batch-size must be from 1 to 65536, got \(batchSize)")
        }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be positive, got \(lr)") }
        guard !model.hasSuffix("_nobn") else {
            throw ValidationError(
                "--model is the network with batch norm (the experiment builds \(model) itself); drop _nobn")
        }
        let data = try options.load(defaultTrainLimit: 10_000, defaultTestLimit: 1_000)
        let directory = try options.directory("batchnorm")
        var c = TrainingConfiguration()
        c.dataset = options.dataset ?? (options.data == nil ? "synthetic" : "cifar10")
        c.dataPath = options.data ?? ""
        (c.batchSize, c.maxSteps, c.schedule, c.warmupEpochs) = (batchSize, steps, .constant, 0)
        (c.momentum, c.nesterov, c.weightDecay, c.seed, c.logEverySteps) = (0.9, false, 1e-4, options.seed, 10)
        func arm(_ name: String, _ net: String, _ rate: Double) -> ExperimentArm {
            var a = c
            (a.model, a.learningRate) = (net, rate)
            return ExperimentArm(name: name, model: net, configuration: a)
        }
        let arms = [arm("bn", model, lr), arm("nobn", model + "_nobn", lr), arm("bn_lr10x", model, 10 * lr)]
        for a in arms {
            do { try a.configuration.validate() } catch let e as TrainingError { throw ValidationError(e.description) }
        }
        let description =
            "batchnorm: \(model) with and without batch norm, lr \(shortText(lr)) (and \(shortText(10 * lr)) with batch norm), \(steps) steps each; \(data.description)"
        options.say(description)
        let r = try trainArms(arms, data: data, directory: directory, options: options)
        let verdict = Experiments.batchNormVerdict(withBN: r[0], withoutBN: r[1], withBNHighRate: r[2])
        let series = r.map { a -> PlotSeries in
            let smooth = Experiments.movingAverage(a.stepLosses, window: Swift.max(1, a.stepLosses.count / 50))
            let label = "\(a.name) (lr \(shortText(a.name == "bn_lr10x" ? 10 * lr : lr)))"
            return PlotSeries(label: label, x: smooth.indices.map { Double($0 + 1) }, y: smooth, style: .line)
        }
        let chart = LineChart(
            title: "\(model): with and without BN", xLabel: "step", yLabel: "training loss (moving average)",
            series: series)
        let figure = try ExperimentFigure(
            chart.render(width: 900, height: 560), file: "figure.png",
            title: "Training loss (moving average) against steps", directory: directory)
        try finish(verdict, directory: directory, description: description, figures: [figure], options: options)
    }
}

// MARK: - efficiency

/// GoogLeNet's Inception module as the paper's Figure 2(a) draws it, without the 1×1 reductions:
/// 1×1, 3×3 and (torchvision's) 3×3 "5×5" convolutions straight on the input, and the max-pooled
/// input itself. Only for counting what the reductions save.
final class InceptionWithoutReductions: Module {
    let branch1: BasicConv2d
    let branch2: BasicConv2d
    let branch3: BasicConv2d
    let branch4 = MaxPool2d(kernel: 3, stride: 1, padding: 1, ceilMode: true)

    init(_ inChannels: Int, _ ch1x1: Int, _ ch3x3: Int, _ ch5x5: Int) {
        branch1 = BasicConv2d(inChannels, ch1x1, kernel: 1)
        branch2 = BasicConv2d(inChannels, ch3x3, kernel: 3, padding: 1)
        branch3 = BasicConv2d(inChannels, ch5x5, kernel: 3, padding: 1)
    }

    override func forward(_ x: Tensor) -> Tensor {
        Tensor.concatenate([branch1(x), branch2(x), branch3(x), branch4(x)], axis: 1) // [N, 1×1 + 3×3 + 5×5 + in, H, W]
    }
}

/// MACs of GoogLeNet's inception3a (192 channels in, 28×28) with and without its 1×1 reductions.
func inceptionMACs() -> (withReductions: Int, withoutReductions: Int) {
    let input = [192, 28, 28]
    let with = Init.withoutInitialization { InceptionModule(192, 64, 96, 128, 16, 32, 32) }
    let without = Init.withoutInitialization { InceptionWithoutReductions(192, 64, 128, 32) }
    return (ModelSummary(with, input: input).macs, ModelSummary(without, input: input).macs)
}

struct EfficiencyExperiment: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "efficiency",
        abstract:
            "Parameters and MACs against measured accuracy and images/s; GoogLeNet's Inception module with and without its 1×1 reductions.",
        discussion: """
            For each --models entry: parameters and MACs (the model summary at 3×32×32), inference images/s on the current \
            backend (timed, --throughput-batch), and test top-1 when weights are given (--weights model=PATH,…) or trained \
            here (--train-epochs N: SGD, lr 0.1 cosine after a one-epoch warmup, batch 128, the CIFAR augmentation; \
            --train-limit trains on fewer images). The verdict: DenseNet-BC has fewer \
            than half the parameters of the largest ResNet (and, when measured, at least its accuracy); the 1×1 reductions cut \
            inception3a's MACs (computed for the same module built without them). Writes results.json, table.md, \
            throughput.png (images/s against MACs), figure.png (test top-1 against parameters when every accuracy was \
            measured, else the throughput figure), verdict.json, verdict.md and report.html (all of it on one page).
            """)

    @OptionGroup var options: ExperimentOptions
    @Option(help: "Models, comma-separated. Default: resnet20,resnet56,resnet110,densenet_bc_100.") var models =
        "resnet20,resnet56,resnet110,densenet_bc_100"
    @Option(help: "Trained weights per model: model=PATH (a run directory or .safetensors), comma-separated.")
    var weights: String?
    @Option(help: "Train every model without --weights this many epochs to measure its accuracy.") var trainEpochs: Int?
    @Option(help: "Batch of the throughput measurement. Default: 64.") var throughputBatch = 64
    @Option(help: "Timed passes of the throughput measurement. Default: 3.") var iterations = 3

    func run() throws {
        let names = models.split(separator: ",").map(String.init)
        guard !names.isEmpty else { throw ValidationError("--models needs at least one model") }
        guard (1...4096).contains(throughputBatch) else {
            throw ValidationError("--throughput-batch must be from 1 to 4096, got \(throughputBatch)")
        }
        guard (1...1000).contains(iterations) else {
            throw ValidationError("--iterations must be from 1 to 1000, got \(iterations)")
        }
        if let trainEpochs, !(1...10_000).contains(trainEpochs) {
            throw ValidationError("--train-epochs must be from 1 to 10000, got \(trainEpochs)")
        }
        var paths: [String: String] = [:]
        for item in (weights ?? "").split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, names.contains(parts[0]) else {
                throw ValidationError(
                    "--weights takes model=PATH items for models in --models (\(names.joined(separator: ","))); got '\(item)'"
                )
            }
            paths[parts[0]] = parts[1]
        }
        let needData = trainEpochs != nil || !paths.isEmpty
        let data = needData ? try options.load(defaultTestLimit: nil) : nil
        let directory = try options.directory("efficiency")
        var rows: [Experiments.EfficiencyRow] = []
        for name in names {
            let classes = data?.train.classNames.count ?? 10
            GlobalRandom.seed(options.seed)
            let net = try experimentModel(name, classes: classes)
            let summary = ModelSummary(net, input: [3, 32, 32])
            var accuracy: Double?
            if let path = paths[name], let data {
                let w = try Checkpoint.modelWeights(path)
                do { try net.loadStateDict(w.tensors) } catch let e as StateDictError {
                    throw CommandFailure("\(w.file) does not fit \(name): \(e)")
                }
                accuracy = evaluate(net, on: data.test, batchSize: 128, transform: data.testTransform).top1
            } else if let trainEpochs, let data {
                var c = TrainingConfiguration()
                // A one-epoch warmup, as He et al. warm up ResNet-110 (0.1 from the first step is too much for it).
                (c.model, c.epochs, c.batchSize, c.learningRate, c.schedule, c.warmupEpochs) = (
                    name, trainEpochs, 128, 0.1, .cosine, trainEpochs > 1 ? 1 : 0
                )
                (c.weightDecay, c.seed, c.logEverySteps) = (5e-4, options.seed, 10)
                let r = try Experiments.train(
                    ExperimentArm(name: name, model: name, configuration: c), model: net, data: data,
                    directory: directory, keepCheckpoints: options.keepCheckpoints)
                accuracy = r.failure == nil ? 1 - r.finalTestError : nil
            }
            let ips = Experiments.inferenceThroughput(
                net, input: [3, 32, 32], batch: throughputBatch, iterations: iterations)
            rows.append(
                .init(
                    model: name, parameters: summary.parameters, macs: summary.macs, imagesPerSecond: ips,
                    accuracy: accuracy))
            options.say(
                "\(name): \(groupedThousands(summary.parameters)) parameters, \(formatGiga(summary.macs)) GMACs, \(Int(ips.rounded())) img/s"
                    + (accuracy.map { ", test top-1 \(percentText($0))" } ?? ""))
        }
        let inception = inceptionMACs()
        let dense = rows.first { $0.model.hasPrefix("densenet") }
        let residual = rows.filter { $0.model.hasPrefix("resnet") }.max { $0.parameters < $1.parameters }
        let verdict = Experiments.efficiencyVerdict(dense: dense, residual: residual, inceptionMACs: inception)
        // The table.
        var table = "| model | parameters | MACs | images/s | test top-1 |\n|---|---:|---:|---:|---:|\n"
        for r in rows {
            table +=
                "| \(r.model) | \(groupedThousands(r.parameters)) | \(groupedThousands(r.macs)) | \(Int(r.imagesPerSecond.rounded())) | \(r.accuracy.map(percentText) ?? "—") |\n"
        }
        table += "| inception3a with 1×1 reductions | | \(groupedThousands(inception.withReductions)) | | |\n"
        table += "| inception3a without reductions | | \(groupedThousands(inception.withoutReductions)) | | |\n"
        options.say("\n" + table)
        let json = JSON.object([
            (
                "rows",
                .array(
                    rows.map { r in
                        .object([
                            ("model", .string(r.model)), ("parameters", .int(r.parameters)), ("macs", .int(r.macs)),
                            ("images_per_second", .number(r.imagesPerSecond)),
                            ("accuracy", r.accuracy.map { .number($0) } ?? .null),
                        ])
                    })
            ),
            (
                "inception3a_macs",
                .object([
                    ("with_reductions", .int(inception.withReductions)),
                    ("without_reductions", .int(inception.withoutReductions)),
                ])
            ),
            ("throughput_batch", .int(throughputBatch)),
        ])
        try AtomicFile.write(Array((json.serialized(pretty: true) + "\n").utf8), to: directory + "/results.json")
        try AtomicFile.write(Array(table.utf8), to: directory + "/table.md")
        func group(_ model: String) -> String {
            model.hasPrefix("densenet") ? "DenseNet" : model.hasPrefix("resnet") ? "ResNet" : "other"
        }
        // images/s against MACs always; test top-1 against parameters (the DenseNet claim's axes) once
        // every model's accuracy was measured. figure.png is the latter when there is one.
        let throughput = ScatterChart(
            title: "Throughput against cost", xLabel: "MACs per image", yLabel: "images/s", xScale: .log10,
            yScale: .log10,
            points: rows.map {
                .init(label: $0.model, x: Double($0.macs), y: $0.imagesPerSecond, group: group($0.model))
            })
        let throughputFigure = try ExperimentFigure(
            throughput.render(width: 900, height: 560), file: "throughput.png",
            title: "Inference images/s (batch \(throughputBatch)) against MACs per image", directory: directory)
        var figures = [throughputFigure]
        var files = ["results.json", "table.md"]
        let accuracies = rows.compactMap(\.accuracy)
        if accuracies.count == rows.count {
            let accuracy = ScatterChart(
                title: "Accuracy against size", xLabel: "parameters", yLabel: "test top-1 (%)", xScale: .log10,
                yScale: .linear,
                points: zip(rows, accuracies).map { r, a in
                    .init(label: r.model, x: Double(r.parameters), y: 100 * a, group: group(r.model))
                })
            figures.insert(
                try ExperimentFigure(
                    accuracy.render(width: 900, height: 560), file: "figure.png",
                    title: "Test top-1 against parameters", directory: directory), at: 0)
        } else {
            try AtomicFile.write(throughputFigure.png, to: directory + "/figure.png")
            files.insert("figure.png", at: 0)
        }
        var description = "efficiency: \(names.joined(separator: ", ")); images/s at batch \(throughputBatch)"
        if let data {
            description +=
                "; accuracy " + (trainEpochs.map { "after \($0) epochs of training here" } ?? "of the given weights")
                + " on \(data.description)"
        }
        try finish(
            verdict, directory: directory, description: description, figures: figures, files: files, options: options)
    }
}
