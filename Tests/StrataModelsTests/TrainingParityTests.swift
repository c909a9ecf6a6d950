import StrataModels
import StrataNN
import StrataTensor
import StrataTestSupport
import Testing

/// One training step against PyTorch (Fixtures/training.json): the fixtures' deterministic
/// weights and input, training mode, Float64, mean cross-entropy against labels i % 10,
/// backward. Checks the loss (1e-10 relative), the logits (1e-10 of their scale), the gradients
/// of the named parameters (1e-8 of each gradient's largest magnitude: the backward pass
/// through batch statistics subtracts nearly equal sums) and the named batch-norm layers'
/// running statistics after the forward (1e-10: momentum 0.1, unbiased variance).
@Suite struct TrainingParityTests {
    static let cases = ZooFixtures.training.cases.map(\.name)

    @Test(arguments: cases)
    func oneStepMatchesPyTorch(_ name: String) throws {
        let c = ZooFixtures.training.cases.first { $0.name == name }!
        let model = try makeHashModel(c.model, classes: c.classes, dtype: .float64)
        model.train()
        #expect(c.labels == (0..<c.input[0]).map { $0 % c.classes })

        let logits = model(HashWeights.input(c.input, dtype: .float64))
        try #require(logits.shape == c.logits.shape)
        let loss = crossEntropy(logits, labels: c.labels)
        loss.backward()

        let lossError = abs(loss.item() - c.loss) / abs(c.loss)
        #expect(lossError <= 1e-10, "\(name): loss \(loss.item()) vs PyTorch \(c.loss)")
        let logitsError = maxAbsDifference(logits.doubles, c.logits.data) / max(1, maxAbs(c.logits.data))
        #expect(logitsError <= 1e-10, "\(name): logits, relative error \(logitsError)")

        let parameters = Dictionary(uniqueKeysWithValues: model.namedParameters())
        var worstGradient = 0.0
        for (key, expected) in c.gradients.sorted(by: { $0.key < $1.key }) {
            let p = try #require(parameters[key], "\(name): no parameter \(key)")
            let grad = try #require(p.grad, "\(name): \(key) has no gradient")
            try #require(grad.shape == expected.shape, "\(name): gradient of \(key) has shape \(grad.shape)")
            let error = maxAbsDifference(grad.doubles, expected.data) / maxAbs(expected.data)
            worstGradient = max(worstGradient, error)
            #expect(error <= 1e-8, "\(name): gradient of \(key), relative error \(error)")
        }

        let state = Dictionary(uniqueKeysWithValues: model.stateDict().map { ($0.key, $0.tensor) })
        var worstStatistic = 0.0
        for (prefix, expected) in c.running_stats.sorted(by: { $0.key < $1.key }) {
            for (suffix, values) in [("running_mean", expected.running_mean), ("running_var", expected.running_var)] {
                let t = try #require(state["\(prefix).\(suffix)"], "\(name): no buffer \(prefix).\(suffix)")
                let error = maxAbsDifference(t.doubles, values.data) / max(1, maxAbs(values.data))
                worstStatistic = max(worstStatistic, error)
                #expect(error <= 1e-10, "\(name): \(prefix).\(suffix), relative error \(error)")
            }
            #expect(
                state["\(prefix).num_batches_tracked"]?.item() == Double(expected.num_batches_tracked),
                "\(name): \(prefix)")
        }
        print(
            String(
                format: "training %@: relative error loss %.2e, logits %.2e, gradients %.2e, running stats %.2e",
                name, lossError, logitsError, worstGradient, worstStatistic))
    }
}
