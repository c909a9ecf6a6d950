import ArgumentParser
import Strata

/// Fits a small conv net on generated data and prints the loss: proof that the
/// tensors, ops and autograd work end to end.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fit a small conv net on generated data, printing the loss.")

    @Option(help: "Training steps.") var steps = 60
    @Option(help: "Learning rate.") var lr = 0.05
    @Option(help: "Random seed.") var seed: UInt64 = 0

    func run() throws {
        var rng = RandomGenerator(seed: seed)
        // Task: is the bright square in the left or the right half of an 8×8 image?
        let n = 32
        var pixels = [Float](repeating: 0, count: n * 64)
        var labels = [Int]()
        for i in 0..<n {
            let label = i % 2
            let x0 = label == 0 ? rng.nextInt(below: 3) : 4 + rng.nextInt(below: 3)
            let y0 = rng.nextInt(below: 7)
            for dy in 0..<2 { for dx in 0..<2 { pixels[i * 64 + (y0 + dy) * 8 + x0 + dx] = 1 } }
            for j in 0..<64 { pixels[i * 64 + j] += 0.1 * Float(rng.nextNormal()) }
            labels.append(label)
        }
        let images = Tensor(pixels, shape: [n, 1, 8, 8])
        let conv = Tensor.normal([4, 1, 3, 3], std: 0.5, generator: &rng).requiringGrad()
        let fc = Tensor.normal([2, 4 * 4 * 4], std: 0.1, generator: &rng).requiringGrad()
        let fcBias = Tensor.zeros([2]).requiringGrad()
        for step in 0...steps {
            var h = conv2d(images, weight: conv, bias: nil, .init(padding: 1)).relu()
            h = maxPool2d(h, .init(kernel: 2)).flattened()
            let loss = crossEntropy(linear(h, weight: fc, bias: fcBias), labels: labels)
            loss.backward()
            for p in [conv, fc, fcBias] {
                p.assign(withNoGrad { p - p.grad! * lr })
                p.zeroGrad()
            }
            if step % 10 == 0 { print("step \(step)  loss \(String(format4: loss.item()))") }
        }
    }
}

extension String {
    init(format4 v: Double) { self = String((v * 10000).rounded() / 10000) }
}
