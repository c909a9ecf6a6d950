import StrataData
import StrataModels
import StrataNN
import StrataTensor
import StrataTraining
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct OptimizerTests {
    /// Worked by hand from torch.optim.SGD's rule: p = 1, g = 0.5 each step, lr 0.1, μ 0.9, λ 0.1.
    /// step 1: d = 0.5 + 0.1·1 = 0.6; b = 0.6; Nesterov d = 0.6 + 0.9·0.6 = 1.14; p = 1 − 0.114 = 0.886
    /// step 2: d = 0.5 + 0.0886 = 0.5886; b = 0.9·0.6 + 0.5886 = 1.1286; d = 0.5886 + 0.9·1.1286 = 1.60434; p = 0.886 − 0.160434
    @Test func nesterovMomentumWithWeightDecayMatchesWorkedValues() {
        let p = Tensor([1.0], shape: [1]).requiringGrad()
        let sgd = SGD([p], momentum: 0.9, nesterov: true, weightDecay: 0.1)
        p.grad = Tensor([0.5], shape: [1])
        sgd.step(lr: 0.1)
        #expect(abs(p.item() - 0.886) < 1e-12)
        p.grad = Tensor([0.5], shape: [1])
        sgd.step(lr: 0.1)
        #expect(abs(p.item() - (0.886 - 0.160434)) < 1e-12)
    }

    /// Plain momentum: b₁ = g, b₂ = μ·b₁ + g; p moves by lr·b.
    @Test func heavyBallMomentum() {
        let p = Tensor([2.0], shape: [1]).requiringGrad()
        let sgd = SGD([p], momentum: 0.5)
        for _ in 0..<2 {
            p.grad = Tensor([1.0], shape: [1])
            sgd.step(lr: 1)
        }
        #expect(abs(p.item() - (2 - 1 - 1.5)) < 1e-12)
    }

    @Test func scheduleValues() {
        let cosine = LearningRateSchedule.cosine(base: 0.2, warmup: 10, total: 110)
        #expect(abs(cosine.learningRate(at: 0) - 0.02) < 1e-12)
        #expect(abs(cosine.learningRate(at: 9) - 0.2) < 1e-12)
        #expect(abs(cosine.learningRate(at: 60) - 0.1) < 1e-12) // halfway through the decay
        #expect(cosine.learningRate(at: 110) < 1e-12)
        let steps = LearningRateSchedule.multiStep(base: 0.1, milestones: [32_000, 48_000])
        #expect(steps.learningRate(at: 31_999) == 0.1)
        #expect(abs(steps.learningRate(at: 32_000) - 0.01) < 1e-15)
        #expect(abs(steps.learningRate(at: 64_000) - 0.001) < 1e-15)
    }
}

@Suite struct SyntheticTrainingTests {
    @Test func syntheticShapesAreDeterministic() {
        let a = SyntheticShapes(count: 20, seed: 3)
        let b = SyntheticShapes(count: 20, seed: 3)
        let x = BatchLoader(a, batchSize: 20).batch(0)
        let y = BatchLoader(b, batchSize: 20).batch(0)
        #expect(x.images.floats == y.images.floats)
        #expect(x.labels == Array(0..<20).map { $0 % 10 })
    }

    /// LeNet-5 learns the built-in dataset (the README's main job, shortened). Slow in a debug
    /// build, so it runs with STRATA_HEAVY_TESTS=1 (`swift test -c release` takes seconds).
    @Test(.enabled(if: heavyTestsEnabled)) func lenetLearnsSyntheticShapes() throws {
        GlobalRandom.seed(0)
        let model = LeNet5(classes: 10)
        var config = TrainingConfiguration()
        (config.epochs, config.batchSize, config.learningRate, config.warmupEpochs) = (3, 64, 0.05, 0.5)
        var accuracy = 0.0
        try Trainer(model: model, configuration: config).fit(
            train: SyntheticShapes(count: 6_000, seed: 1),
            validation: SyntheticShapes(count: 300, seed: 2)
        ) { accuracy = $0.validation.top1 }
        #expect(accuracy > 0.9)
    }
}

let heavyTestsEnabled: Bool = {
    guard let v = getenv("STRATA_HEAVY_TESTS") else { return false }
    return String(cString: v) == "1"
}()
