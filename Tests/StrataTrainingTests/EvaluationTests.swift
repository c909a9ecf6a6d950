import Foundation
import StrataData
import StrataNN
import StrataTensor
import Testing

@testable import StrataTraining

/// `evaluate` against loss, top-k and confusion computed here from the raw logits, with and without
/// flip test-time augmentation, over several batches (the last one partial).
@Suite struct EvaluationTests {
    /// All examples of `set` as one [N, 1, 32, 32] batch, with labels.
    func everything(_ set: any Dataset) -> (images: [Float], labels: [Int]) {
        let batch = BatchLoader(set, batchSize: set.count).first { _ in true }!
        return (batch.images.floats, batch.labels)
    }

    /// Logits of `model` (eval mode) for the given pixels, as rows.
    func logits(_ model: Module, _ pixels: [Float], count: Int) -> [[Double]] {
        model.eval()
        let out = withNoGrad { model(Tensor(pixels, shape: [count, 1, 32, 32])) }
        let k = out.shape[1]
        let v = out.doubles
        return (0..<count).map { Array(v[($0 * k)..<($0 * k + k)]) }
    }

    func softmax(_ row: [Double]) -> [Double] {
        let m = row.max()!
        let e = row.map { Foundation.exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    /// (loss, top-1, top-5, confusion) of per-example scores where the loss is −log p[label].
    func expected(probabilities: [[Double]], labels: [Int]) -> (Double, Double, Double, [[Int]]) {
        let k = probabilities[0].count
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
        var loss = 0.0
        var top1 = 0
        var top5 = 0
        for (p, label) in zip(probabilities, labels) {
            loss -= Foundation.log(p[label])
            let ranked = p.indices.sorted { p[$0] > p[$1] }
            if ranked[0] == label { top1 += 1 }
            if ranked.prefix(5).contains(label) { top5 += 1 }
            confusion[label][ranked[0]] += 1
        }
        let n = Double(labels.count)
        return (loss / n, Double(top1) / n, Double(top5) / n, confusion)
    }

    @Test func plainEvaluationMatchesLogits() {
        let model = tinyNet()
        let (pixels, labels) = everything(smallValidation)
        let probabilities = logits(model, pixels, count: labels.count).map(softmax)
        let (loss, top1, top5, confusion) = expected(probabilities: probabilities, labels: labels)
        model.train()
        let result = evaluate(model, on: smallValidation, batchSize: 7)
        #expect(model.training, "evaluate restores the training mode")
        #expect(abs(result.loss - loss) < 1e-5 * max(1, loss))
        #expect(result.top1 == top1 && result.top5 == top5 && result.confusion == confusion)
        #expect(result.count == smallValidation.count)
    }

    @Test func flipAugmentationAveragesTheMirrorImagesProbabilities() {
        let model = tinyNet()
        let (pixels, labels) = everything(smallValidation)
        // Mirror by index arithmetic, independently of mirroredLeftRight.
        var mirrored = pixels
        for row in 0..<(pixels.count / 32) { for x in 0..<32 { mirrored[row * 32 + x] = pixels[row * 32 + 31 - x] } }
        let a = logits(model, pixels, count: labels.count).map(softmax)
        let b = logits(model, mirrored, count: labels.count).map(softmax)
        let averaged = zip(a, b).map { zip($0, $1).map { ($0 + $1) / 2 } }
        let (loss, top1, top5, confusion) = expected(probabilities: averaged, labels: labels)
        let result = evaluate(model, on: smallValidation, batchSize: 6, augmentation: .flip)
        #expect(abs(result.loss - loss) < 1e-5 * max(1, loss))
        #expect(result.top1 == top1 && result.top5 == top5 && result.confusion == confusion)
        // The synthetic shapes are not all mirror-symmetric, so the augmentation changes the scores.
        let plain = evaluate(model, on: smallValidation, batchSize: 6)
        #expect(plain.loss != result.loss)
    }

    @Test func mirroringReversesTheLastAxis() {
        let t = Tensor((0..<12).map { Float($0) }, shape: [1, 2, 2, 3])
        #expect(mirroredLeftRight(t).floats == [2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9])
        #expect(mirroredLeftRight(t).shape == [1, 2, 2, 3])
        let d = Tensor((0..<4).map { Double($0) }, shape: [2, 1, 1, 2])
        #expect(mirroredLeftRight(d).doubles == [1, 0, 3, 2])
    }
}
