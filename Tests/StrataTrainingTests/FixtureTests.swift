import Foundation
import StrataTensor
import StrataTestSupport
import Testing

@testable import StrataTraining

/// Optimizers, schedules and clipping against PyTorch (`Scripts/make_training_fixtures.py`).
@Suite struct PyTorchFixtureTests {
    struct Case: Decodable {
        let name: String
        let kind: String
        let dtype: String?
        let `init`: [[Double]]?
        let grads: [[[Double]]]?
        let params: [[[Double]]]?
        let lrs: [Double]?
        let lr: Double?
        let beta1: Double?, beta2: Double?, eps: Double?
        let weight_decay: Double?
        let momentum: Double?
        let nesterov: Bool?
        let schedule: String?
        let milestones: [Int]?
        let gamma: Double?
        let warmup: Int?
        let total: Int?
        let pct_start: Double?
        let steps: Int?
        let base_lr: Double?
        let momentums: [Double]?
        let max_norm: Double?
        let clip_grads: [[Double]]?
        let norm: Double?
        let clipped: [[Double]]?
    }

    struct File: Decodable { let cases: [Case] }

    static let cases: [Case] = {
        let data = try! Data(contentsOf: URL(fileURLWithPath: fixturePath("training.json")))
        return try! JSONDecoder().decode(File.self, from: data).cases
    }()

    static func close(_ a: Double, _ b: Double, _ tol: Double) -> Bool { abs(a - b) <= tol * max(1, abs(b)) }

    @Test(arguments: cases.filter { $0.kind == "optimizer" }.map(\.name))
    func optimizerMatchesPyTorch(_ name: String) {
        let c = Self.cases.first { $0.name == name }!
        let dtype: DType = c.dtype == "float32" ? .float32 : .float64
        let tol = dtype == .float32 ? 2e-6 : 1e-12
        let params = c.`init`!.map { Tensor($0, shape: [$0.count]).to(dtype).requiringGrad() }
        // Parameter 0 is decayed, parameter 1 not (the fixture uses two parameter groups).
        let optimizer: any Optimizer =
            name.hasPrefix("adamw")
            ? AdamW(
                params, names: ["a", "b"], beta1: c.beta1!, beta2: c.beta2!, epsilon: c.eps!,
                weightDecay: c.weight_decay!, decays: [true, false])
            : SGD(
                params, names: ["a", "b"], momentum: c.momentum!, nesterov: c.nesterov!, weightDecay: c.weight_decay!,
                decays: [true, false])
        for (s, grads) in c.grads!.enumerated() {
            for (p, g) in zip(params, grads) { p.grad = Tensor(g, shape: [g.count]).to(dtype) }
            optimizer.step(lr: c.lrs?[s] ?? c.lr!)
            for (k, p) in params.enumerated() {
                let expected = c.params![s][k]
                for (x, y) in zip(p.doubles, expected) {
                    #expect(Self.close(x, y, tol), "\(name) step \(s + 1) parameter \(k): \(x) vs PyTorch \(y)")
                }
            }
        }
    }

    static func schedule(for c: Case) -> LearningRateSchedule {
        let base = c.base_lr!
        switch c.schedule! {
        case "multistep": return .multiStep(base: base, milestones: c.milestones!, gamma: c.gamma!)
        case "cosine": return .cosine(base: base, warmup: c.warmup!, total: c.total!)
        case "onecycle": return .oneCycle(OneCycle(maxLR: base, total: c.total!, pctStart: c.pct_start ?? 0.3))
        case "multistep_warmup":
            return .linearWarmup(
                steps: c.warmup!, then: .multiStep(base: base, milestones: c.milestones!, gamma: c.gamma!))
        case "constant_warmup": return .linearWarmup(steps: c.warmup!, then: .constant(base))
        default: fatalError("unknown schedule \(c.schedule!)")
        }
    }

    @Test(arguments: cases.filter { $0.kind == "schedule" }.map(\.name))
    func scheduleMatchesPyTorch(_ name: String) {
        let c = Self.cases.first { $0.name == name }!
        let s = Self.schedule(for: c)
        for (step, expected) in c.lrs!.enumerated() {
            #expect(
                Self.close(s.learningRate(at: step), expected, 1e-12),
                "\(name) step \(step): \(s.learningRate(at: step)) vs PyTorch \(expected)")
        }
        if let momentums = c.momentums {
            for (step, expected) in momentums.enumerated() {
                #expect(Self.close(s.momentum(at: step) ?? .nan, expected, 1e-12), "\(name) momentum at step \(step)")
            }
        }
    }

    @Test(arguments: cases.filter { $0.kind == "clip" }.map(\.name))
    func gradientClippingMatchesPyTorch(_ name: String) {
        let c = Self.cases.first { $0.name == name }!
        let params = c.clip_grads!.map { Tensor.zeros([$0.count], dtype: .float64).requiringGrad() }
        for (p, g) in zip(params, c.clip_grads!) { p.grad = Tensor(g, shape: [g.count]) }
        let norm = clipGradientNorm(params, maxNorm: c.max_norm!)
        #expect(Self.close(norm, c.norm!, 1e-12))
        for (p, expected) in zip(params, c.clipped!) {
            for (x, y) in zip(p.grad!.doubles, expected) { #expect(Self.close(x, y, 1e-12), "\(name): \(x) vs \(y)") }
        }
    }
}

@Suite struct ScheduleConfigurationTests {
    /// He et al.'s CIFAR recipe: 0.1, ÷10 at 32k and 48k, stop at 64k (182 epochs of 45k at batch 128).
    @Test func heMultiStepRecipe() {
        var c = TrainingConfiguration()
        (c.schedule, c.learningRate, c.maxSteps, c.batchSize, c.warmupEpochs) = (.multistep, 0.1, 64_000, 128, 0)
        let s = c.makeSchedule(examples: 45_000)
        #expect(s == .multiStep(base: 0.1, milestones: [32_000, 48_000], gamma: 0.1))
        #expect(c.totalSteps(examples: 45_000) == 64_000)
        #expect(c.epochCount(examples: 45_000) == 182)
        #expect(s.learningRate(at: 31_999) == 0.1)
        #expect(abs(s.learningRate(at: 32_000) - 0.01) < 1e-15)
        #expect(abs(s.learningRate(at: 63_999) - 0.001) < 1e-15)
    }

    @Test func warmupAndOneCycleFromConfiguration() {
        var c = TrainingConfiguration()
        (c.learningRate, c.epochs, c.batchSize, c.warmupEpochs) = (0.2, 10, 100, 2)
        c.schedule = .cosine
        #expect(c.makeSchedule(examples: 1_000) == .cosine(base: 0.2, warmup: 20, total: 100))
        c.schedule = .constant
        #expect(c.makeSchedule(examples: 1_000) == .linearWarmup(steps: 20, then: .constant(0.2)))
        c.schedule = .onecycle
        #expect(c.makeSchedule(examples: 1_000) == .oneCycle(OneCycle(maxLR: 0.2, total: 100, pctStart: 0.2)))
        c.warmupEpochs = 0
        #expect(c.makeSchedule(examples: 1_000) == .oneCycle(OneCycle(maxLR: 0.2, total: 100)))
        c.schedule = .multistep
        c.milestones = [30, 60]
        #expect(c.makeSchedule(examples: 1_000) == .multiStep(base: 0.2, milestones: [30, 60], gamma: 0.1))
    }

    @Test func invalidSettingsAreRejectedWithTheirName() {
        var c = TrainingConfiguration()
        c.labelSmoothing = 1.5
        #expect(throws: TrainingError.self) { try c.validate() }
        c = TrainingConfiguration()
        c.milestones = [10, 5]
        do {
            try c.validate()
            Issue.record("expected an error")
        } catch { #expect("\(error)".contains("milestones")) }
    }

    /// The trainer decays only tensors of rank > 1 unless told otherwise (no decay on BN and biases).
    @Test func noDecayOnNormAndBias() throws {
        let model = tinyNet()
        var c = TrainingConfiguration()
        let sgd = try #require(c.makeOptimizer(for: model) as? SGD)
        #expect(zip(sgd.names, sgd.decays).filter(\.1).map(\.0) == ["0.weight", "5.weight"])
        c.decayNormAndBias = true
        c.optimizer = .adamw
        let adam = try #require(c.makeOptimizer(for: model) as? AdamW)
        #expect(adam.decays.allSatisfy { $0 })
        #expect(adam.names == model.namedParameters().map(\.0))
    }
}
