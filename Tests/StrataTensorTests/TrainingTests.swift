import StrataTensor
import StrataTestSupport
import Testing

/// End to end: a small conv net trained with plain SGD on a fixed, learnable problem
/// (the task of `strata demo`) must drive its loss well down.
@Suite("Training")
struct TrainingTests {
    @Test("a conv net trained with SGD cuts its loss", arguments: [DType.float32, .float64])
    func sgd(_ dtype: DType) {
        var rng = RandomGenerator(seed: 0)
        // Is the bright 2×2 square in the left or the right half of an 8×8 image?
        let n = 32
        var pixels = [Double](repeating: 0, count: n * 64)
        var labels = [Int]()
        for i in 0..<n {
            let label = i % 2
            let x0 = label == 0 ? rng.nextInt(below: 3) : 4 + rng.nextInt(below: 3)
            let y0 = rng.nextInt(below: 7)
            for dy in 0..<2 { for dx in 0..<2 { pixels[i * 64 + (y0 + dy) * 8 + x0 + dx] = 1 } }
            for j in 0..<64 { pixels[i * 64 + j] += 0.1 * rng.nextNormal() }
            labels.append(label)
        }
        let images = Tensor(pixels, shape: [n, 1, 8, 8]).to(dtype)
        let conv = Tensor.normal([4, 1, 3, 3], std: 0.5, dtype: dtype, generator: &rng).requiringGrad()
        let convBias = Tensor.zeros([4], dtype: dtype).requiringGrad()
        let bnWeight = Tensor.ones([4], dtype: dtype).requiringGrad()
        let bnBias = Tensor.zeros([4], dtype: dtype).requiringGrad()
        let runningMean = Tensor.zeros([4], dtype: dtype)
        let runningVar = Tensor.ones([4], dtype: dtype)
        let fc = Tensor.normal([2, 4 * 4 * 4], std: 0.1, dtype: dtype, generator: &rng).requiringGrad()
        let fcBias = Tensor.zeros([2], dtype: dtype).requiringGrad()
        let parameters = [conv, convBias, bnWeight, bnBias, fc, fcBias]

        func forward(training: Bool) -> Tensor {
            var h = conv2d(images, weight: conv, bias: convBias, .init(padding: 1))
            h = batchNorm2d(
                h, runningMean: runningMean, runningVar: runningVar, weight: bnWeight, bias: bnBias, training: training)
            h = maxPool2d(h.relu(), .init(kernel: 2)).flattened()
            return linear(h, weight: fc, bias: fcBias)
        }

        var losses: [Double] = []
        for _ in 0..<40 {
            let loss = crossEntropy(forward(training: true), labels: labels)
            losses.append(loss.item())
            for p in parameters { p.zeroGrad() }
            loss.backward()
            for p in parameters {
                guard let g = p.grad else {
                    Issue.record("a parameter got no gradient")
                    return
                }
                p.assign(withNoGrad { p - g * 0.1 })
            }
        }
        let ratio = losses.last! / losses.first!
        #expect(losses.allSatisfy { $0.isFinite })
        #expect(ratio < 0.3, "loss \(losses.first!) → \(losses.last!) (ratio \(ratio))")
        // The eval-mode net (running statistics) classifies the training set.
        let logits = withNoGrad { forward(training: false) }
        #expect(correctCount(logits, labels: labels) >= 28, "correct \(correctCount(logits, labels: labels)) of 32")
    }
}
