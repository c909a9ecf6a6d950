// Resuming with another number of ranks (issue 13, item 2): a checkpoint written by a 2-rank
// data-parallel run resumes in one process and continues with the same global order of batches.
// The parent starts `mpirun -np 2` on this test binary filtered to `ResumeWorker/worker()`; rank 0
// prints "RESUME ok …" or "RESUME FAIL …".
//
// The 2 ranks train ResNet-20 with synchronized batch norm (so 2 ranks × 6 equal 1 rank × 12 within
// float32 rounding) and stop after epoch 1 (2 of 4 steps), writing last.safetensors; one process
// resumes it for epoch 2. Its losses and final weights must equal those of one process that trained
// all 4 steps uninterrupted, within the data-parallel tolerance (2e-4 · max(1, max|b|) per tensor).
// A resumed run that read epoch 2 in another order (per-rank shards, say) would differ by far more.

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

let resumeWorker = ProcessInfo.processInfo.environment["STRATA_RESUME_WORKER"]

@Suite struct ResumeAcrossRanksTests {
    @Test(
        .enabled(if: mpirunPath != nil, "mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev)"),
        .enabled(
            if: resumeWorker == nil && towerWorker == nil && parallelWorker == nil, "this process is itself a worker"))
    func twoRankCheckpointResumesInOneProcess() throws {
        let directory = NSTemporaryDirectory() + "strata-resume-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let run = try runTestBinaryUnderMPI(
            np: 2, variable: "STRATA_RESUME_WORKER", mode: "resume", filter: "ResumeWorker/worker",
            environment: ["STRATA_RESUME_DIR": directory], timeout: 240)
        #expect(!run.timedOut, "still running after 240 s:\n\(run.output)")
        #expect(run.status == 0, "mpirun exited with \(run.status):\n\(run.output)")
        #expect(run.output.contains("RESUME ok"), "\(run.output)")
        #expect(!run.output.contains("RESUME FAIL"), "\(run.output)")
        for line in run.output.split(separator: "\n") where line.hasPrefix("RESUME ok") { print(line) }
    }
}

@Suite struct ResumeWorker {
    @Test(.enabled(if: resumeWorker != nil, "runs only as a rank under mpirun, started by ResumeAcrossRanksTests"))
    func worker() throws {
        let group = try ProcessGroups.current()
        do { try resume(group) } catch { DataParallel.fail(error, group: group) }
        try group.finalize()
    }

    func resume(_ group: any ProcessGroup) throws {
        let directory = ProcessInfo.processInfo.environment["STRATA_RESUME_DIR"]!
        var c = configuration() // ResNet-20, batch 12, seed 6 (DataParallelTests)
        c.maxSteps = nil
        c.epochs = 2
        let train = Noise(count: 24, seed: 1)
        let validation = Noise(count: 10, seed: 2)
        GlobalRandom.seed(c.seed)
        let initial = try Models.make("resnet20", classes: 10)
        let initialState = Dictionary(uniqueKeysWithValues: initial.stateDict().map { ($0.key, $0.tensor.copy()) })
        let afterInit = GlobalRandom.state

        // 2 ranks, epoch 1 only (a stop agreed by both after step 2 saves last.safetensors).
        let model = try Models.make("resnet20", classes: 10)
        try model.loadStateDict(initialState)
        GlobalRandom.state = afterInit
        let trainer = Trainer(model: model, configuration: c)
        trainer.synchronizer = DataParallel(group: group)
        DataParallel.synchronizeBatchNorm(in: model, group: group)
        if group.rank == 0 { trainer.runDirectory = try RunDirectory(directory) }
        var twoRankLosses: [Double] = []
        trainer.onStep = { info in
            twoRankLosses.append(info.loss)
            if info.step == 1 { trainer.requestStop() } // agreed in step 2's sums: stops after epoch 1
        }
        let outcome = try trainer.fit(train: train, validation: validation)
        guard group.rank == 0 else { return }
        var failures: [String] = []
        if outcome != .interrupted(step: 2) {
            failures.append("the 2-rank run ended \(outcome), expected interrupted at step 2")
        }

        // One process resumes the 2-rank checkpoint for epoch 2.
        let checkpoint = try Checkpoint.load(directory + "/last.safetensors")
        let resumedModel = try Models.make("resnet20", classes: 10)
        let resumed = Trainer(model: resumedModel, configuration: checkpoint.state.configuration)
        try resumed.restore(from: checkpoint)
        var resumedLosses: [Double] = []
        resumed.onStep = { resumedLosses.append($0.loss) }
        try resumed.fit(train: train, validation: validation)

        // One process, all 4 steps uninterrupted.
        let single = try Models.make("resnet20", classes: 10)
        try single.loadStateDict(initialState)
        GlobalRandom.state = afterInit
        let uninterrupted = Trainer(model: single, configuration: c)
        var losses: [Double] = []
        uninterrupted.onStep = { losses.append($0.loss) }
        try uninterrupted.fit(train: train, validation: validation)

        var worst = 0.0
        func compare(_ what: String, _ a: [Double], _ b: [Double]) {
            guard a.count == b.count else {
                failures.append("\(what): \(a.count) vs \(b.count) values")
                return
            }
            let scale = Swift.max(1, b.map(abs).max() ?? 0)
            let d = zip(a, b).map { abs($0 - $1) }.max() ?? 0
            worst = Swift.max(worst, d / scale)
            if !(d <= tolerance * scale) { failures.append("\(what): max difference \(d) (scale \(scale))") }
        }
        compare("losses (2 ranks, then 1 resumed)", twoRankLosses + resumedLosses, losses)
        if resumed.progress.step != 4 {
            failures.append("the resumed run ended at step \(resumed.progress.step), expected 4")
        }
        let reference = Dictionary(uniqueKeysWithValues: single.namedParameters())
        for (key, p) in resumedModel.namedParameters() { compare("weight \(key)", p.doubles, reference[key]!.doubles) }
        let buffers = Dictionary(uniqueKeysWithValues: single.namedBuffers())
        for (key, t) in resumedModel.namedBuffers() { compare("buffer \(key)", t.doubles, buffers[key]!.doubles) }
        for f in failures { say("RESUME FAIL \(f)") }
        if failures.isEmpty {
            say(
                "RESUME ok: 2 ranks (steps 1-2) + 1 resumed process (steps 3-4) = 1 process (steps 1-4), worst relative difference \(String(format: "%.2e", worst)); losses \((twoRankLosses + resumedLosses).map { String(format: "%.6f", $0) }) vs \(losses.map { String(format: "%.6f", $0) })"
            )
        }
    }
}
