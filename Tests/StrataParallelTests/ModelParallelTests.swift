// Model parallelism (AlexNet's two towers on two ranks) under mpirun: the parent tests start
// `mpirun -np 2` on this test binary, filtered to `TowerWorker/worker()`, with STRATA_TOWER_WORKER
// naming what the ranks do; each rank prints "TOWER ok …" (or "TOWER FAIL …") and the parent checks.
//
// By hand:
//   STRATA_TOWER_WORKER=equivalence STRATA_TOWER_CONFIG=scaled mpirun --allow-run-as-root --oversubscribe -np 2 \
//     -x STRATA_TOWER_WORKER -x STRATA_TOWER_CONFIG .build/debug/StrataPackageTests.xctest \
//     --testing-library swift-testing --filter TowerWorker/worker
//
// Tolerance (float32): the towers compute every output as the single-process network does, but
// the backends may sum the dot products of a 2048-row matrix product in another order than those of
// a 4096-row one; logits, gradients and the weights after 3 SGD steps (momentum, weight decay,
// dropout active) agree within max|a − b| ≤ 1e-5 · max(1, max|b|) per tensor (measured worst in the
// "TOWER ok" lines).

import Foundation
import StrataData
import StrataDistributed
import StrataModels
import StrataNN
import StrataParallel
import StrataTensor
import StrataTestSupport
import StrataTraining
import Testing

let towerWorker = ProcessInfo.processInfo.environment["STRATA_TOWER_WORKER"]
let towerTolerance = 1e-5

/// A width-scaled two-tower AlexNet (the same code path as alexnet2012, seconds instead of minutes).
let scaledAlexNet = ModelParallelAlexNet.Configuration(channels: [8, 16, 24, 24, 16], hidden: 32, classes: 10)

@Suite(.serialized) struct ModelParallelTests {
    /// Logits, gradients, trained weights and the checkpoint of 2 towers against one process.
    @Test(
        .enabled(if: mpirunPath != nil, "mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev)"),
        .enabled(if: towerWorker == nil && parallelWorker == nil, "this process is itself a worker"))
    func towersMatchOneProcess() throws {
        try checkTowers(config: "scaled", timeout: 240)
    }

    /// The same with alexnet2012 itself (57 M parameters at 10 classes; 24 min in a debug build on a busy 2-core machine).
    @Test(
        .enabled(if: mpirunPath != nil, "mpirun is not installed"),
        .enabled(if: towerWorker == nil && parallelWorker == nil, "this process is itself a worker"),
        .enabled(if: ProcessInfo.processInfo.environment["STRATA_HEAVY_TESTS"] == "1", "set STRATA_HEAVY_TESTS=1"))
    func alexnet2012TowersMatchOneProcess() throws {
        try checkTowers(config: "alexnet2012", timeout: 2400)
    }

    func checkTowers(config: String, timeout: Double) throws {
        let directory = NSTemporaryDirectory() + "strata-towers-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let run = try runTestBinaryUnderMPI(
            np: 2, variable: "STRATA_TOWER_WORKER", mode: "equivalence", filter: "TowerWorker/worker",
            environment: ["STRATA_TOWER_CONFIG": config, "STRATA_TOWER_DIR": directory], timeout: timeout)
        #expect(!run.timedOut, "still running after \(timeout) s:\n\(run.output)")
        #expect(run.status == 0, "mpirun exited with \(run.status):\n\(run.output)")
        #expect(!run.output.contains("TOWER FAIL"), "\(run.output)")
        for rank in 0..<2 { #expect(run.output.contains("TOWER ok rank \(rank)"), "\(run.output)") }
        #expect(run.output.contains("TOWER ok checkpoint"), "\(run.output)")
        for line in run.output.split(separator: "\n") where line.hasPrefix("TOWER ok") {
            print("\(config): \(line) (\(String(format: "%.1f", run.seconds)) s)")
        }
    }

    /// Splitting a state dict (and SGD/AdamW-style optimizer state) into the towers' parts and
    /// assembling them gives back every tensor bit for bit (an odd class count: fc8 splits 3 + 4).
    @Test func splitAndAssembleRoundTrip() throws {
        var config = scaledAlexNet
        config.classes = 7
        GlobalRandom.seed(3)
        let model = config.makeSingleProcessModel()
        var full = Dictionary(uniqueKeysWithValues: model.stateDict().map { ($0.key, $0.tensor) })
        for (key, t) in model.stateDict() where key.hasSuffix("weight") {
            full[key + "/momentum_buffer"] = t * 0.5
            full[key + "/step"] = Tensor([3.0], shape: [])
        }
        let parts = (0..<2).map { config.part($0, of: full) }
        #expect(parts[0]["features.0.weight"]!.shape == [4, 3, 11, 11])
        #expect(parts[1]["features.4.weight"]!.shape == [8, 4, 5, 5]) // its group: conv2 reads its own 4 maps
        #expect(parts[1]["features.8.weight"]!.shape == [12, 16, 3, 3]) // conv3 reads both towers' 16
        #expect(parts[0]["classifier.6.weight"]!.shape == [3, 32])
        #expect(parts[1]["classifier.6.weight"]!.shape == [4, 32])
        #expect(parts[1]["classifier.1.weight/momentum_buffer"]!.shape == [16, 576])
        #expect(parts[1]["classifier.1.weight/step"]!.shape == [])
        #expect(parts[1]["features.0.bias"]!.floats == Array(full["features.0.bias"]!.floats[4..<8]))
        let back = try config.assemble(parts)
        #expect(Set(back.keys) == Set(full.keys))
        for (key, t) in full {
            #expect(back[key]?.shape == t.shape, "\(key)")
            #expect(back[key]?.floats == t.floats, "\(key)")
        }
    }

    /// The one-process network the configuration builds is alexnet2012 itself: the same keys and
    /// shapes, and the same weights from the same seed (two 61 M-parameter models: heavy).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["STRATA_HEAVY_TESTS"] == "1", "set STRATA_HEAVY_TESTS=1"))
    func configurationBuildsAlexnet2012() throws {
        GlobalRandom.seed(3)
        let zoo = try Models.make("alexnet2012", classes: 7)
        GlobalRandom.seed(3)
        let mine = ModelParallelAlexNet.Configuration.alexnet2012(classes: 7).makeSingleProcessModel()
        let zooState = zoo.stateDict()
        let mineState = mine.stateDict()
        #expect(zooState.map(\.key) == mineState.map(\.key))
        #expect(zooState.map(\.tensor.shape) == mineState.map(\.tensor.shape))
        for (a, b) in zip(zooState, mineState) where a.key == b.key {
            #expect(a.tensor.floats == b.tensor.floats, "\(a.key)")
        }
    }

    /// One process, a width that does not split, a state dict of another network: errors naming what is wrong.
    @Test func towersRejectWhatDoesNotFit() throws {
        #expect { try ModelParallelAlexNet(group: SingleProcessGroup(), configuration: scaledAlexNet) } throws: {
            "\($0)".contains("exactly 2 ranks") && "\($0)".contains("mpirun -np 2")
        }
        var odd = scaledAlexNet
        odd.channels[2] = 25
        #expect { try odd.validate() } throws: { "\($0)".contains("positive and even") }
    }

    /// `strata train --model-parallel 2` outside mpirun, or with another model, or with data-parallel options: clear errors.
    @Test(.enabled(if: towerWorker == nil && parallelWorker == nil, "this process is itself a worker"))
    func cliRejectsWhatCannotRun() throws {
        let alone = try runStrataBinary(["train", "--model", "alexnet2012", "--model-parallel", "2", "--quiet"])
        #expect(alone.status != 0)
        #expect(alone.stderr.contains("--model-parallel 2") && alone.stderr.contains("mpirun -np 2"), "\(alone.stderr)")
        let other = try runStrataBinary(["train", "--model", "resnet20", "--model-parallel", "2", "--quiet"])
        #expect(other.status != 0)
        #expect(other.stderr.contains("alexnet2012"), "\(other.stderr)")
        let three = try runStrataBinary(["train", "--model", "alexnet2012", "--model-parallel", "3", "--quiet"])
        #expect(three.status != 0)
        #expect(three.stderr.contains("2"), "\(three.stderr)")
    }
}

/// Runs the built `strata` executable (beside the test bundle).
func runStrataBinary(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("strata").path) && dir.path != "/" {
        dir = dir.deletingLastPathComponent()
    }
    let process = Process()
    process.executableURL = dir.appendingPathComponent("strata")
    process.arguments = arguments
    // Not under this test's mpirun (if any): a plain single process.
    process.environment = ProcessInfo.processInfo.environment.filter {
        !$0.key.hasPrefix("OMPI_") && !$0.key.hasPrefix("PMIX_")
    }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, stdout, stderr)
}

/// Reproducible noise images [3, side, side] with labels 0…9.
struct NoiseImages: Dataset {
    let count: Int
    let seed: UInt64
    var side = 63
    var imageShape: [Int] { [3, side, side] }
    var classNames: [String] { (0..<10).map { "c\($0)" } }
    func load(_ index: Int, into pixels: UnsafeMutableBufferPointer<Float>) -> Int {
        var g = RandomGenerator(seed: seed &* 1000 &+ UInt64(index))
        for i in 0..<pixels.count { pixels[i] = Float(g.nextDouble() * 2 - 1) }
        return index % 10
    }
}

// MARK: The ranks

@Suite struct TowerWorker {
    @Test(.enabled(if: towerWorker != nil, "runs only as a rank under mpirun, started by ModelParallelTests"))
    func worker() throws {
        let group = try ProcessGroups.current()
        do {
            switch towerWorker {
            case "equivalence": try equivalence(group)
            default:
                throw DataParallelError(message: "unknown STRATA_TOWER_WORKER \(towerWorker ?? "")", collective: false)
            }
        } catch {
            DataParallel.fail(error, group: group)
        }
        try group.finalize()
    }

    func equivalence(_ group: any ProcessGroup) throws {
        let env = ProcessInfo.processInfo.environment
        let heavy = env["STRATA_TOWER_CONFIG"] == "alexnet2012"
        let config = heavy ? ModelParallelAlexNet.Configuration.alexnet2012(classes: 10) : scaledAlexNet
        let rank = group.rank
        var failures: [String] = []
        var worst = 0.0
        func compare(_ what: String, _ a: Tensor?, _ b: Tensor?) {
            guard let a, let b, a.shape == b.shape else {
                failures.append("\(what): shapes \(a?.shape ?? []) vs \(b?.shape ?? [])")
                return
            }
            let (x, y) = (a.doubles, b.doubles)
            let scale = Swift.max(1, y.map(abs).max() ?? 0)
            let d = zip(x, y).map { abs($0 - $1) }.max() ?? 0
            worst = Swift.max(worst, d / scale)
            if !(d <= towerTolerance * scale) { failures.append("\(what): max difference \(d) (scale \(scale))") }
        }
        func makeFull() throws -> Module {
            heavy ? try Models.make("alexnet2012", classes: 10) : config.makeSingleProcessModel()
        }
        func dict(_ m: Module) -> [String: Tensor] {
            Dictionary(uniqueKeysWithValues: m.stateDict().map { ($0.key, $0.tensor.copy()) })
        }

        var c = TrainingConfiguration()
        c.model = "alexnet2012"
        c.dataset = "noise"
        c.epochs = 2
        c.maxSteps = 3
        c.batchSize = 4
        c.learningRate = 0.01
        c.schedule = .constant
        c.warmupEpochs = 0
        c.weightDecay = 5e-4
        c.momentum = 0.9
        c.nesterov = true
        c.seed = 11
        GlobalRandom.seed(c.seed)
        let full = try makeFull()
        let initial = dict(full)
        let afterInit = GlobalRandom.state
        let tower = try ModelParallelAlexNet(group: group, configuration: config, fullStateDict: initial)
        #expect(GlobalRandom.state == afterInit)

        // 1. Logits (evaluation mode) and gradients (training mode, dropout active, the same masks).
        let images = Tensor.stack(
            (0..<4).map { i -> Tensor in
                var pixels = [Float](repeating: 0, count: 3 * 63 * 63)
                _ = pixels.withUnsafeMutableBufferPointer { NoiseImages(count: 4, seed: 5).load(i, into: $0) }
                return Tensor(pixels, shape: [3, 63, 63])
            })
        let labels = [1, 7, 3, 9]
        full.eval()
        tower.eval()
        let logits = tower(images)
        let reference = full(images)
        compare("logits", logits, reference)
        full.train()
        tower.train()
        GlobalRandom.seed(99)
        let towerLoss = crossEntropy(tower(images), labels: labels)
        towerLoss.backward()
        GlobalRandom.seed(99)
        let referenceLoss = crossEntropy(full(images), labels: labels)
        referenceLoss.backward()
        compare("training loss", towerLoss, referenceLoss)
        let referenceGrads = config.part(
            rank, of: Dictionary(uniqueKeysWithValues: full.namedParameters().map { ($0.0, $0.1.grad!) }))
        for (key, p) in tower.namedParameters() { compare("gradient \(key)", p.grad, referenceGrads[key]) }
        let gradientWorst = worst

        // 2. Three SGD steps through the trainer (rank 0 writes the checkpoint) against one process.
        try tower.loadFullStateDict(initial)
        tower.zeroGrad()
        GlobalRandom.state = afterInit
        let trainer = Trainer(model: tower, configuration: c)
        trainer.synchronizer = ModelParallel(group: group, partition: config)
        let directory = env["STRATA_TOWER_DIR"]!
        if rank == 0 { trainer.runDirectory = try RunDirectory(directory) }
        var losses: [Double] = []
        trainer.onStep = { losses.append($0.loss) }
        let train = NoiseImages(count: 6, seed: 1)
        let validation = NoiseImages(count: 4, seed: 2)
        try trainer.fit(train: train, validation: validation)

        let single = try makeFull()
        try single.loadStateDict(initial)
        GlobalRandom.state = afterInit
        let oneProcess = Trainer(model: single, configuration: c)
        var referenceLosses: [Double] = []
        oneProcess.onStep = { referenceLosses.append($0.loss) }
        try oneProcess.fit(train: train, validation: validation)
        compare(
            "losses", Tensor(losses, shape: [losses.count]), Tensor(referenceLosses, shape: [referenceLosses.count]))
        let trained = config.part(rank, of: dict(single))
        for (key, p) in tower.namedParameters() {
            compare("weight \(key) after \(losses.count) steps", p, trained[key])
        }
        let momentum = config.part(rank, of: oneProcess.optimizer.stateDict())
        for (key, t) in trainer.optimizer.stateDict() { compare("optimizer \(key)", t, momentum[key]) }

        for f in failures { say("TOWER FAIL rank \(rank): \(f)") }
        if failures.isEmpty {
            say(
                "TOWER ok rank \(rank): logits, gradients (worst relative difference \(String(format: "%.2e", gradientWorst))) and \(losses.count) steps (worst \(String(format: "%.2e", worst))); losses \(losses.map { String(format: "%.6f", $0) })"
            )
        }
        guard rank == 0 else { return }

        // 3. The checkpoint rank 0 wrote is the whole network's: it loads into one process and resumes there.
        var checkpointFailures: [String] = []
        failures = []
        let checkpoint = try Checkpoint.load(directory + "/last.safetensors")
        let loaded = try makeFull()
        do { try loaded.loadStateDict(checkpoint.model) } catch {
            checkpointFailures.append("checkpoint does not load in one process: \(error)")
        }
        for (key, t) in single.stateDict() { compare("checkpoint \(key)", checkpoint.model[key], t) }
        for (key, t) in oneProcess.optimizer.stateDict() {
            compare("checkpoint optimizer \(key)", checkpoint.optimizer[key], t)
        }
        let resumed = Trainer(model: try makeFull(), configuration: c)
        do { try resumed.restore(from: checkpoint) } catch {
            checkpointFailures.append("one process cannot resume: \(error)")
        }
        if resumed.progress.step != losses.count {
            checkpointFailures.append("resumed at step \(resumed.progress.step)")
        }
        checkpointFailures += failures
        for f in checkpointFailures { say("TOWER FAIL checkpoint: \(f)") }
        if checkpointFailures.isEmpty {
            say(
                "TOWER ok checkpoint: \(checkpoint.model.count) tensors of alexnet2012's keys, loads and resumes in one process"
            )
        }
    }
}
