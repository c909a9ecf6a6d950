import StrataData
import StrataNN
import StrataTensor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// The tutorial's claims as experiments (`strata experiment degradation|batchnorm|efficiency`):
// arms trained with the ordinary Trainer, their curves, and verdicts computed from the measured
// numbers. Models are built by the caller (StrataTraining knows no zoo); figures are drawn by the CLI.

/// A dataset whose 1-channel images are repeated into `channels` channels (the built-in synthetic
/// shapes for 3-channel CIFAR models).
public struct RepeatedChannels: Dataset {
    public let base: any Dataset
    public let channels: Int
    /// Wraps `base` (1-channel images) as `channels`-channel images.
    public init(_ base: any Dataset, channels: Int) {
        precondition(
            base.imageShape.first == 1, "RepeatedChannels: the base dataset must be 1-channel, got \(base.imageShape)")
        (self.base, self.channels) = (base, channels)
    }
    public var count: Int { base.count }
    public var imageShape: [Int] { [channels] + base.imageShape.dropFirst() }
    public var classNames: [String] { base.classNames }
    public func label(_ index: Int) -> Int { base.label(index) }
    public func load(_ index: Int, into pixels: UnsafeMutableBufferPointer<Float>) -> Int {
        let plane = base.imageShape.dropFirst().reduce(1, *)
        let label = base.load(index, into: UnsafeMutableBufferPointer(rebasing: pixels[0..<plane]))
        for c in 1..<channels { for i in 0..<plane { pixels[c * plane + i] = pixels[i] } }
        return label
    }
}

/// The data of an experiment: what every arm trains and is tested on.
public struct ExperimentData {
    public var train: any Dataset
    public var test: any Dataset
    public var trainTransform: ImageTransform?
    public var testTransform: ImageTransform?
    public var augment: (@Sendable (UnsafeMutableBufferPointer<Float>, inout RandomGenerator) -> Void)?
    /// "CIFAR-10 (…): 10000 of 50000 train, 2000 of 10000 test".
    public var description: String

    /// Creates the data of an experiment.
    public init(
        train: any Dataset, test: any Dataset, trainTransform: ImageTransform? = nil,
        testTransform: ImageTransform? = nil,
        augment: (@Sendable (UnsafeMutableBufferPointer<Float>, inout RandomGenerator) -> Void)? = nil,
        description: String
    ) {
        (self.train, self.test, self.trainTransform, self.testTransform, self.augment, self.description) =
            (train, test, trainTransform, testTransform, augment, description)
    }

    /// The same data limited to the first `train` and `test` examples (nil: all).
    public func limited(train n: Int?, test m: Int?) -> ExperimentData {
        var d = self
        if let n, n < train.count { d.train = Subset(train, indices: Array(0..<n)) }
        if let m, m < test.count { d.test = Subset(test, indices: Array(0..<m)) }
        d.description = description + ": \(d.train.count) train, \(d.test.count) test examples"
        return d
    }
}

/// One trained model of an experiment.
public struct ExperimentArm: Sendable {
    /// Name of the arm and of its folder in the run directory (`plain56`, `bn_lr10x`).
    public var name: String
    /// What the caller builds (a zoo name).
    public var model: String
    public var configuration: TrainingConfiguration
    /// Creates an arm.
    public init(name: String, model: String, configuration: TrainingConfiguration) {
        (self.name, self.model, self.configuration) = (name, model, configuration)
    }
}

/// What an arm measured: per-epoch training and test figures, and the loss of every step.
public struct ArmResult: Sendable, Equatable {
    /// One epoch's figures; errors are 1 − top-1 accuracy.
    public struct Epoch: Sendable, Equatable {
        public var epoch: Int, step: Int
        public var trainLoss: Double, trainError: Double, testLoss: Double, testError: Double
        /// Creates an epoch's figures.
        public init(epoch: Int, step: Int, trainLoss: Double, trainError: Double, testLoss: Double, testError: Double) {
            (self.epoch, self.step, self.trainLoss, self.trainError, self.testLoss, self.testError) =
                (epoch, step, trainLoss, trainError, testLoss, testError)
        }
    }
    public var name: String
    public var model: String
    public var parameters: Int
    public var epochs: [Epoch]
    /// The training loss of every step (index 0: step 1).
    public var stepLosses: [Double]
    /// Training time, in seconds.
    public var seconds: Double
    /// Why training stopped early (a non-finite loss), if it did.
    public var failure: String?
    /// What the arm was trained with (the training settings and the data's size), as one line; an
    /// arm read back is reused only when this equals the new run's. Nil in results written before it
    /// was recorded.
    public var settings: String?

    /// Creates a result.
    public init(
        name: String, model: String, parameters: Int, epochs: [Epoch], stepLosses: [Double], seconds: Double,
        failure: String? = nil, settings: String? = nil
    ) {
        (self.name, self.model, self.parameters, self.epochs, self.stepLosses, self.seconds, self.failure) =
            (name, model, parameters, epochs, stepLosses, seconds, failure)
        self.settings = settings
    }

    /// The last epoch's training error (1 when none finished).
    public var finalTrainError: Double { epochs.last?.trainError ?? 1 }
    /// The last epoch's test error (1 when none finished).
    public var finalTestError: Double { epochs.last?.testError ?? 1 }

    package var json: JSON {
        .object([
            ("name", .string(name)), ("model", .string(model)), ("parameters", .int(parameters)),
            ("seconds", .number(seconds)),
            ("failure", failure.map { .string($0) } ?? .null),
            ("settings", settings.map { .string($0) } ?? .null),
            (
                "epochs",
                .array(
                    epochs.map { e in
                        .object([
                            ("epoch", .int(e.epoch)), ("step", .int(e.step)), ("train_loss", .number(e.trainLoss)),
                            ("train_error", .number(e.trainError)), ("test_loss", .number(e.testLoss)),
                            ("test_error", .number(e.testError)),
                        ])
                    })
            ),
            ("step_losses", .array(stepLosses.map { .number($0) })),
        ])
    }

    package init(json: JSON) throws {
        func bad(_ what: String) -> TrainingError { .corruptCheckpoint("experiment result: \(what)") }
        guard let name = json["name"]?.stringValue, let model = json["model"]?.stringValue,
            let parameters = json["parameters"]?.intValue,
            let seconds = json["seconds"]?.doubleValue, let epochs = json["epochs"]?.arrayValue,
            let losses = json["step_losses"]?.arrayValue
        else { throw bad("missing name, model, parameters, seconds, epochs or step_losses") }
        self.init(
            name: name, model: model, parameters: parameters,
            epochs: try epochs.map { e in
                guard let epoch = e["epoch"]?.intValue, let step = e["step"]?.intValue,
                    let tl = e["train_loss"]?.doubleValue,
                    let te = e["train_error"]?.doubleValue, let vl = e["test_loss"]?.doubleValue,
                    let ve = e["test_error"]?.doubleValue
                else { throw bad("an epoch lacks one of epoch, step, train_loss, train_error, test_loss, test_error") }
                return Epoch(epoch: epoch, step: step, trainLoss: tl, trainError: te, testLoss: vl, testError: ve)
            }, stepLosses: losses.map { $0.doubleValue ?? .nan }, seconds: seconds,
            failure: json["failure"]?.stringValue, settings: json["settings"]?.stringValue)
    }
}

/// A claim checked against measurements: the verdict and the numbers it rests on.
public struct ExperimentVerdict: Sendable, Equatable {
    /// One checked statement.
    public struct Finding: Sendable, Equatable {
        /// What is claimed ("plain-56 trains worse than plain-20").
        public var claim: String
        /// Whether the measurements show it; nil when it was not measured.
        public var holds: Bool?
        /// The measured evidence, in words with the numbers.
        public var evidence: String
        /// Creates a finding.
        public init(claim: String, holds: Bool?, evidence: String) {
            (self.claim, self.holds, self.evidence) = (claim, holds, evidence)
        }
    }
    /// `degradation`, `batchnorm`, `efficiency`.
    public var experiment: String
    /// One line: what was reproduced.
    public var summary: String
    /// Whether every measured finding holds.
    public var reproduced: Bool
    public var findings: [Finding]
    /// The numbers, by name (for verdict.json).
    public var measurements: [(String, Double)]

    public static func == (a: Self, b: Self) -> Bool {
        a.experiment == b.experiment && a.summary == b.summary && a.reproduced == b.reproduced
            && a.findings == b.findings
            && a.measurements.map(\.0) == b.measurements.map(\.0) && a.measurements.map(\.1) == b.measurements.map(\.1)
    }

    /// Combines findings: reproduced when every measured one holds (and at least one was measured).
    public init(experiment: String, findings: [Finding], measurements: [(String, Double)]) {
        self.experiment = experiment
        self.findings = findings
        self.measurements = measurements
        let measured = findings.compactMap(\.holds)
        reproduced = !measured.isEmpty && measured.allSatisfy { $0 }
        let held = findings.filter { $0.holds == true }.count
        summary =
            "\(experiment): \(reproduced ? "reproduced" : "not reproduced") (\(held) of \(measured.count) measured claims hold"
            + (measured.count < findings.count ? ", \(findings.count - measured.count) not measured" : "") + ")"
    }

    package var json: JSON {
        .object([
            ("experiment", .string(experiment)), ("reproduced", .bool(reproduced)), ("summary", .string(summary)),
            (
                "findings",
                .array(
                    findings.map { f in
                        .object([
                            ("claim", .string(f.claim)), ("holds", f.holds.map { .bool($0) } ?? .null),
                            ("evidence", .string(f.evidence)),
                        ])
                    })
            ),
            ("measurements", .object(measurements.map { ($0.0, .number($0.1)) })),
        ])
    }

    /// verdict.md: the summary, then each claim with ✓ / ✗ / (not measured) and its evidence.
    public var markdown: String {
        var s = "# \(experiment): \(reproduced ? "reproduced" : "not reproduced")\n\n\(summary)\n\n"
        for f in findings {
            let mark = f.holds.map { $0 ? "✓ holds" : "✗ does not hold" } ?? "— not measured"
            s += "- **\(f.claim)**: \(mark). \(f.evidence)\n"
        }
        return s
    }

    /// Writes verdict.json and verdict.md into `directory` (atomically).
    public func write(to directory: String) throws {
        try AtomicFile.write(Array((json.serialized(pretty: true) + "\n").utf8), to: directory + "/verdict.json")
        try AtomicFile.write(Array(markdown.utf8), to: directory + "/verdict.md")
    }
}

/// "12.3%".
public func percentText(_ v: Double) -> String {
    guard v.isFinite else { return "nan" }
    return "\((v * 1000).rounded() / 10)%"
}

/// Running the arms and computing the verdicts.
public enum Experiments {
    /// Trains one arm with the ordinary ``Trainer`` into `directory/<arm name>` (metrics.jsonl,
    /// TensorBoard events, report.html, result.json; checkpoints are deleted afterwards unless
    /// `keepCheckpoints`). An arm whose result.json exists is read back instead of retrained, so a
    /// stopped experiment continues with the arms it lacks. A non-finite loss ends the arm with
    /// ``ArmResult/failure`` set (divergence is a result here, not an error).
    /// - Parameters:
    ///   - arm: the arm's name, model name and training settings.
    ///   - model: the freshly built model of the arm (seeded by the caller).
    ///   - data: what it trains and is tested on.
    ///   - directory: the experiment's run directory; nil trains without writing anything.
    ///   - keepCheckpoints: whether the arm's checkpoints stay in its folder.
    ///   - onStep: progress, after every step.
    ///   - report: each epoch's figures.
    public static func train(
        _ arm: ExperimentArm, model: Module, data: ExperimentData, directory: String?, keepCheckpoints: Bool = false,
        onStep: ((StepInfo) -> Void)? = nil, report: ((EpochReport) -> Void)? = nil
    ) throws -> ArmResult {
        let folder = directory.map { $0 + "/" + arm.name }
        let settings = Self.settings(of: arm, data: data)
        if let folder, let text = readTextFile(folder + "/result.json") {
            let old = try ArmResult(json: JSON.parse(text))
            if let recorded = old.settings, recorded != settings {
                throw TrainingError.invalidConfiguration(
                    "\(folder)/result.json was trained with other settings (\(recorded)); this run asks for \(settings). "
                        + "Give another --out, or delete \(folder) to retrain the arm")
            }
            return old
        }
        let trainer = Trainer(model: model, configuration: arm.configuration)
        trainer.trainTransform = data.trainTransform
        trainer.evaluationTransform = data.testTransform
        trainer.augment = data.augment
        var losses: [Double] = []
        trainer.onStep = { info in
            losses.append(info.loss)
            onStep?(info)
        }
        if let folder {
            // A partly trained arm (stopped before result.json) starts over: its files are replaced.
            for name in [Checkpoint.lastName, Checkpoint.bestName, "last.json", "best.json", "metrics.jsonl"] {
                unlink(folder + "/" + name)
            }
            trainer.runDirectory = try RunDirectory(folder)
        }
        let start = MonotonicClock.now()
        var failure: String?
        do {
            try trainer.fit(train: data.train, validation: data.test) { r in report?(r) }
        } catch let TrainingError.nonFinite(r) {
            failure = r.description
        }
        let epochs = trainer.progress.history.map {
            ArmResult.Epoch(
                epoch: $0.epoch, step: $0.step, trainLoss: $0.trainLoss, trainError: 1 - $0.trainAccuracy,
                testLoss: $0.validationLoss, testError: 1 - $0.validationTop1)
        }
        let result = ArmResult(
            name: arm.name, model: arm.model, parameters: model.parameterCount, epochs: epochs, stepLosses: losses,
            seconds: MonotonicClock.now() - start, failure: failure, settings: settings)
        if let folder {
            if !keepCheckpoints {
                for name in [Checkpoint.lastName, Checkpoint.bestName] { unlink(folder + "/" + name) }
            }
            try AtomicFile.write(Array((result.json.serialized() + "\n").utf8), to: folder + "/result.json")
        }
        return result
    }

    /// The settings an arm's result depends on, as one line (the data folder's path is left out: the
    /// same data read from elsewhere gives the same arm).
    static func settings(of arm: ExperimentArm, data: ExperimentData) -> String {
        guard case .object(var items) = arm.configuration.json else { return "" }
        items.removeAll { ["data", "workers", "log_every_steps"].contains($0.0) }
        items.append(("train_examples", .int(data.train.count)))
        items.append(("test_examples", .int(data.test.count)))
        return JSON.object(items).serialized()
    }

    // MARK: Degradation (He et al. 2016, Fig. 6)

    /// The degradation verdict: the deeper plain net has the higher final training error, and the
    /// deeper residual net the lower one (and the lower test error).
    public static func degradationVerdict(
        plainShallow: ArmResult, plainDeep: ArmResult, residualShallow: ArmResult,
        residualDeep: ArmResult
    ) -> ExperimentVerdict {
        func e(_ r: ArmResult) -> String {
            "\(r.name) \(percentText(r.finalTrainError)) train / \(percentText(r.finalTestError)) test"
        }
        let degrades = plainDeep.finalTrainError > plainShallow.finalTrainError
        let residualTrain = residualDeep.finalTrainError < residualShallow.finalTrainError
        let residualTest = residualDeep.finalTestError < residualShallow.finalTestError
        let shortcutHelps = residualDeep.finalTrainError < plainDeep.finalTrainError
        let findings = [
            ExperimentVerdict.Finding(
                claim: "degradation: \(plainDeep.name) trains worse than \(plainShallow.name)", holds: degrades,
                evidence: "final training error \(e(plainDeep)) \(degrades ? ">" : "≤") \(e(plainShallow))"
                    + (degrades ? " → degradation reproduced" : " → degradation not reproduced")),
            .init(
                claim: "\(residualDeep.name) trains better than \(residualShallow.name)", holds: residualTrain,
                evidence:
                    "final training error \(percentText(residualDeep.finalTrainError)) \(residualTrain ? "<" : "≥") \(percentText(residualShallow.finalTrainError))"
            ),
            .init(
                claim: "\(residualDeep.name) tests better than \(residualShallow.name)", holds: residualTest,
                evidence:
                    "final test error \(percentText(residualDeep.finalTestError)) \(residualTest ? "<" : "≥") \(percentText(residualShallow.finalTestError))"
            ),
            .init(
                claim: "shortcuts fix the deep net: \(residualDeep.name) trains better than \(plainDeep.name)",
                holds: shortcutHelps,
                evidence:
                    "final training error \(percentText(residualDeep.finalTrainError)) \(shortcutHelps ? "<" : "≥") \(percentText(plainDeep.finalTrainError))"
            ),
        ]
        var m: [(String, Double)] = []
        for r in [plainShallow, plainDeep, residualShallow, residualDeep] {
            m += [("\(r.name)_train_error", r.finalTrainError), ("\(r.name)_test_error", r.finalTestError)]
        }
        return ExperimentVerdict(experiment: "degradation", findings: findings, measurements: m)
    }

    // MARK: Batch normalization (Ioffe & Szegedy 2015)

    /// Mean of each window of `window` consecutive values ending at each index (shorter at the start).
    public static func movingAverage(_ values: [Double], window: Int) -> [Double] {
        var out: [Double] = []
        var sum = 0.0
        for (i, v) in values.enumerated() {
            sum += v
            if i >= window { sum -= values[i - window] }
            out.append(sum / Double(Swift.min(i + 1, window)))
        }
        return out
    }

    /// The smoothing window of a curve of `count` steps: a tenth of it, at least 1.
    static func window(_ count: Int) -> Int { Swift.max(1, count / 10) }

    /// 1-based step at which the moving average of `losses` first reaches `target` or below (nil: never).
    public static func stepsToReach(_ target: Double, losses: [Double]) -> Int? {
        let smooth = movingAverage(losses, window: window(losses.count))
        return smooth.firstIndex { $0.isFinite && $0 <= target }.map { $0 + 1 }
    }

    /// The batch-norm verdict: with BN the network reaches the loss the network without BN ends at
    /// in at most half the steps; with BN a 10× learning rate still trains (finite, ending below
    /// where it started and at or below the no-BN run's final loss).
    public static func batchNormVerdict(withBN: ArmResult, withoutBN: ArmResult, withBNHighRate: ArmResult)
        -> ExperimentVerdict
    {
        func final(_ r: ArmResult) -> Double {
            guard r.failure == nil, let last = movingAverage(r.stepLosses, window: window(r.stepLosses.count)).last
            else { return .infinity }
            return last
        }
        func initial(_ r: ArmResult) -> Double {
            r.stepLosses.prefix(window(r.stepLosses.count)).reduce(0, +)
                / Double(Swift.max(1, Swift.min(r.stepLosses.count, window(r.stepLosses.count))))
        }
        let target = final(withoutBN)
        let bnSteps = target.isFinite ? stepsToReach(target, losses: withBN.stepLosses) : nil
        let noBNSteps = target.isFinite ? stepsToReach(target, losses: withoutBN.stepLosses) : nil
        let faster: Bool
        let evidence: String
        if target.isFinite && !(target < 0.95 * initial(withoutBN)) {
            // Without BN the loss did not fall (by 5%) at all: "reaching its final loss" would mean nothing.
            let bnFinal = final(withBN)
            faster = bnFinal < 0.95 * initial(withBN) && bnFinal < target
            evidence =
                "\(withoutBN.name) does not learn in \(withoutBN.stepLosses.count) steps (moving average \(shortText(initial(withoutBN))) → \(shortText(target))); "
                + "\(withBN.name) goes from \(shortText(initial(withBN))) to \(shortText(bnFinal))"
        } else if let noBNSteps, let bnSteps {
            faster = Double(bnSteps) <= 0.5 * Double(noBNSteps)
            evidence =
                "\(withBN.name) reaches the loss \(withoutBN.name) ends at (\(shortText(target)), moving average) at step \(bnSteps); \(withoutBN.name) at step \(noBNSteps) (\(shortText(Double(noBNSteps) / Double(bnSteps)))× as many)"
        } else if !target.isFinite {
            faster = true
            evidence =
                "\(withoutBN.name) did not converge (\(withoutBN.failure ?? "non-finite loss")); \(withBN.name) ends at \(shortText(final(withBN)))"
        } else {
            faster = false
            evidence =
                "\(withBN.name) never reaches the loss \(withoutBN.name) ends at (\(shortText(target))); it ends at \(shortText(final(withBN)))"
        }
        let high = final(withBNHighRate)
        let highTrains = high.isFinite && high < initial(withBNHighRate) && high <= target
        let highEvidence =
            withBNHighRate.failure.map { "\(withBNHighRate.name) diverged: \($0)" }
            ?? "\(withBNHighRate.name) goes from \(shortText(initial(withBNHighRate))) to \(shortText(high)) (\(withoutBN.name) ends at \(shortText(target)))"
        let findings = [
            ExperimentVerdict.Finding(
                claim: "batch norm converges at least 2× faster", holds: faster, evidence: evidence),
            .init(
                claim:
                    "with batch norm a 10× learning rate still trains, ending at or below the run without batch norm",
                holds: highTrains,
                evidence: highEvidence),
        ]
        let m: [(String, Double)] = [
            ("\(withBN.name)_final_loss", final(withBN)), ("\(withoutBN.name)_final_loss", target),
            ("\(withBNHighRate.name)_final_loss", high),
            ("\(withBN.name)_steps_to_target", bnSteps.map(Double.init) ?? .nan),
            ("\(withoutBN.name)_steps_to_target", noBNSteps.map(Double.init) ?? .nan),
        ]
        return ExperimentVerdict(experiment: "batchnorm", findings: findings, measurements: m)
    }

    // MARK: Efficiency

    /// One model's cost and measured quality.
    public struct EfficiencyRow: Sendable, Equatable {
        public var model: String
        public var parameters: Int
        /// Multiply-accumulates of one image's forward pass.
        public var macs: Int
        /// Inference throughput on the current backend (batch of the measurement).
        public var imagesPerSecond: Double
        /// Test top-1 accuracy when measured.
        public var accuracy: Double?
        /// Creates a row.
        public init(model: String, parameters: Int, macs: Int, imagesPerSecond: Double, accuracy: Double?) {
            (self.model, self.parameters, self.macs, self.imagesPerSecond, self.accuracy) = (
                model, parameters, macs, imagesPerSecond, accuracy
            )
        }
    }

    /// Images per second of `model`'s inference (eval mode, no gradients) on `batch` images of
    /// shape `input`, timed over `iterations` passes after one warm-up pass.
    public static func inferenceThroughput(_ model: Module, input: [Int], batch: Int, iterations: Int) -> Double {
        model.eval()
        let x = Tensor.fromFunction([batch] + input) { i in Double((i &* 2_654_435_761) % 1000) / 1000 }
        withNoGrad { _ = model(x) }
        let start = MonotonicClock.now()
        for _ in 0..<Swift.max(1, iterations) { withNoGrad { _ = model(x).floats.count } }
        return Double(batch * Swift.max(1, iterations)) / Swift.max(MonotonicClock.now() - start, 1e-9)
    }

    /// The efficiency verdict: DenseNet-BC has fewer than half the parameters of the ResNet and (when
    /// accuracies were measured) at least its accuracy; the 1×1 reductions cut the Inception module's MACs.
    /// - Parameters:
    ///   - dense: the DenseNet row.
    ///   - residual: the ResNet it is compared with.
    ///   - inceptionMACs: the module's MACs with and without the 1×1 reductions.
    public static func efficiencyVerdict(
        dense: EfficiencyRow?, residual: EfficiencyRow?,
        inceptionMACs: (withReductions: Int, withoutReductions: Int)
    ) -> ExperimentVerdict {
        var findings: [ExperimentVerdict.Finding] = []
        var m: [(String, Double)] = []
        if let dense, let residual {
            let ratio = Double(dense.parameters) / Double(residual.parameters)
            findings.append(
                .init(
                    claim: "\(dense.model) has fewer than half the parameters of \(residual.model)", holds: ratio < 0.5,
                    evidence:
                        "\(groupedThousands(dense.parameters)) vs \(groupedThousands(residual.parameters)) parameters (\(shortText(ratio))×)"
                ))
            if let a = dense.accuracy, let b = residual.accuracy {
                findings.append(
                    .init(
                        claim: "\(dense.model) is at least as accurate as \(residual.model)", holds: a >= b,
                        evidence: "test top-1 \(percentText(a)) vs \(percentText(b))"))
                m += [("\(dense.model)_test_top1", a), ("\(residual.model)_test_top1", b)]
            } else {
                findings.append(
                    .init(
                        claim: "\(dense.model) is at least as accurate as \(residual.model)", holds: nil,
                        evidence: "accuracy not measured (give --weights or --train-epochs)"))
            }
            m += [("parameter_ratio", ratio)]
        }
        let cut = Double(inceptionMACs.withoutReductions) / Double(Swift.max(1, inceptionMACs.withReductions))
        findings.append(
            .init(
                claim: "1×1 reductions make the Inception module cheaper", holds: cut > 1,
                evidence: "inception3a: \(groupedThousands(inceptionMACs.withReductions)) MACs with the reductions, "
                    + "\(groupedThousands(inceptionMACs.withoutReductions)) without (\(shortText(cut))×)"))
        m += [
            ("inception3a_macs_with_reductions", Double(inceptionMACs.withReductions)),
            ("inception3a_macs_without_reductions", Double(inceptionMACs.withoutReductions)),
        ]
        return ExperimentVerdict(experiment: "efficiency", findings: findings, measurements: m)
    }
}

/// 3 significant digits, plain ("0.0123", "2.35", "1234").
public func shortText(_ v: Double) -> String {
    guard v.isFinite else { return v.isNaN ? "nan" : "inf" }
    if v == 0 { return "0" }
    var digits = 2
    var a = Swift.abs(v)
    while a < 1 && digits < 12 {
        a *= 10
        digits += 1
    }
    if Swift.abs(v) >= 100 { return String(Int(v.rounded())) }
    if Swift.abs(v) >= 10 { digits = 1 }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let r = (v * scale).rounded() / scale
    return "\(r)"
}
