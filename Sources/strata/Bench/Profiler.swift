import Strata

/// Wraps a backend and accumulates wall time per kernel (`strata bench --profile`); the time
/// outside every kernel is elementwise ops, autograd bookkeeping and the optimizer.
final class ProfilingBackend: Backend, @unchecked Sendable {
    let base: any Backend
    var name: String { base.name + "+profile" }
    private(set) var totals: [String: (calls: Int, seconds: Double)] = [:]
    init(_ base: any Backend) { self.base = base }

    func reset() { totals = [:] }

    @inline(__always)
    private func time<R>(_ op: String, _ body: () -> R) -> R {
        let t0 = MonotonicClock.now()
        let r = body()
        let dt = MonotonicClock.now() - t0
        let old = totals[op] ?? (0, 0)
        totals[op] = (old.calls + 1, old.seconds + dt)
        return r
    }

    func matmul(_ a: Tensor, _ b: Tensor, transA: Bool, transB: Bool) -> Tensor {
        time("matmul") { base.matmul(a, b, transA: transA, transB: transB) }
    }
    func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, _ p: Conv2dParameters) -> Tensor {
        time("conv2d") { base.conv2d(x, weight: weight, bias: bias, p) }
    }
    func conv2dBackwardData(_ g: Tensor, weight: Tensor, inputShape: [Int], _ p: Conv2dParameters) -> Tensor {
        time("conv2dBackwardData") { base.conv2dBackwardData(g, weight: weight, inputShape: inputShape, p) }
    }
    func conv2dBackwardWeight(_ g: Tensor, input: Tensor, weightShape: [Int], _ p: Conv2dParameters) -> Tensor {
        time("conv2dBackwardWeight") { base.conv2dBackwardWeight(g, input: input, weightShape: weightShape, p) }
    }
    func maxPool2d(_ x: Tensor, _ p: Pool2dParameters) -> (output: Tensor, indices: Tensor) {
        time("maxPool2d") { base.maxPool2d(x, p) }
    }
    func maxPool2dBackward(_ g: Tensor, indices: Tensor, inputShape: [Int]) -> Tensor {
        time("maxPool2dBackward") { base.maxPool2dBackward(g, indices: indices, inputShape: inputShape) }
    }
    func avgPool2d(_ x: Tensor, _ p: Pool2dParameters) -> Tensor { time("avgPool2d") { base.avgPool2d(x, p) } }
    func avgPool2dBackward(_ g: Tensor, inputShape: [Int], _ p: Pool2dParameters) -> Tensor {
        time("avgPool2dBackward") { base.avgPool2dBackward(g, inputShape: inputShape, p) }
    }
    func adaptiveAvgPool2d(_ x: Tensor, outputSize: (Int, Int)) -> Tensor {
        time("adaptiveAvgPool2d") { base.adaptiveAvgPool2d(x, outputSize: outputSize) }
    }
    func adaptiveAvgPool2dBackward(_ g: Tensor, inputShape: [Int]) -> Tensor {
        time("adaptiveAvgPool2dBackward") { base.adaptiveAvgPool2dBackward(g, inputShape: inputShape) }
    }
    func batchNormStatistics(_ x: Tensor, eps: Double) -> BatchNormSaved {
        time("batchNormStatistics") { base.batchNormStatistics(x, eps: eps) }
    }
    func batchNormTraining(_ x: Tensor, eps: Double, weight: Tensor?, bias: Tensor?) -> (
        output: Tensor, saved: BatchNormSaved
    ) {
        time("batchNormTraining") { base.batchNormTraining(x, eps: eps, weight: weight, bias: bias) }
    }
    func batchNormApply(_ x: Tensor, saved: BatchNormSaved, weight: Tensor?, bias: Tensor?) -> Tensor {
        time("batchNormApply") { base.batchNormApply(x, saved: saved, weight: weight, bias: bias) }
    }
    func batchNormBackward(
        _ g: Tensor, input: Tensor, saved: BatchNormSaved, weight: Tensor?,
        trainingStatistics: Bool
    ) -> (input: Tensor, weight: Tensor, bias: Tensor) {
        time("batchNormBackward") {
            base.batchNormBackward(
                g, input: input, saved: saved, weight: weight, trainingStatistics: trainingStatistics)
        }
    }
    func relu(_ x: Tensor) -> Tensor { time("relu") { base.relu(x) } }
    func reluBackward(_ g: Tensor, output: Tensor) -> Tensor {
        time("reluBackward") { base.reluBackward(g, output: output) }
    }
    func add(_ a: Tensor, _ b: Tensor) -> Tensor { time("add") { base.add(a, b) } }
    func concatenate(_ tensors: [Tensor], axis: Int) -> Tensor {
        time("concatenate") { base.concatenate(tensors, axis: axis) }
    }
    func split(_ x: Tensor, axis: Int, sizes: [Int]) -> [Tensor] {
        time("split") { base.split(x, axis: axis, sizes: sizes) }
    }
    func localResponseNorm(_ x: Tensor, size: Int, alpha: Double, beta: Double, k: Double) -> Tensor {
        time("localResponseNorm") { base.localResponseNorm(x, size: size, alpha: alpha, beta: beta, k: k) }
    }
    func localResponseNormBackward(_ g: Tensor, input: Tensor, size: Int, alpha: Double, beta: Double, k: Double)
        -> Tensor
    {
        time("localResponseNormBackward") {
            base.localResponseNormBackward(g, input: input, size: size, alpha: alpha, beta: beta, k: k)
        }
    }

    /// The totals as a table, largest first, with the time outside the backend.
    func report(total: Double, iterations: Int) -> String {
        var lines = [
            "kernel".padded(toWidth: 28) + "calls/it".leftPadded(toWidth: 9) + "ms/it".leftPadded(toWidth: 10)
                + "share".leftPadded(toWidth: 8)
        ]
        var inside = 0.0
        for (op, t) in totals.sorted(by: { $0.value.seconds > $1.value.seconds }) {
            inside += t.seconds
            lines.append(
                op.padded(toWidth: 28) + "\(t.calls / max(iterations, 1))".leftPadded(toWidth: 9)
                    + fixed(t.seconds * 1000 / Double(iterations), 1).leftPadded(toWidth: 10)
                    + (fixed(100 * t.seconds / total, 1) + "%").leftPadded(toWidth: 8))
        }
        let outside = total - inside
        lines.append(
            "(outside the backend)".padded(toWidth: 28) + "".leftPadded(toWidth: 9)
                + fixed(outside * 1000 / Double(iterations), 1).leftPadded(toWidth: 10)
                + (fixed(100 * outside / total, 1) + "%").leftPadded(toWidth: 8))
        return lines.joined(separator: "\n")
    }
}
