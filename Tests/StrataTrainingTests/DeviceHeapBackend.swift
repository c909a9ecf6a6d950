import Foundation
import StrataTensor

// A test backend whose tensors live in a separate "device" heap: blocks of bytes the library
// reaches only through DeviceMemory's two copies. Its kernels are the reference ones, run on
// host copies of their inputs, with the results copied into the heap. It shows that a backend
// whose memory is not host memory needs no change to Ops/ or the optimizers: any op that read
// a device tensor's memory directly would stop at TensorStorage.pointer.

/// The heap: counts blocks and copies in each direction.
final class DeviceHeap: @unchecked Sendable {
    private let lock = NSLock()
    private var _copiesToHost = 0, _copiesFromHost = 0, _liveBlocks = 0

    /// Copies out of the heap (host reads: downloads of kernel inputs, `item()`, …).
    var copiesToHost: Int { lock.withLock { _copiesToHost } }
    /// Copies into the heap (uploads of kernel results and host-made inputs, in-place writes).
    var copiesFromHost: Int { lock.withLock { _copiesFromHost } }
    /// Blocks allocated and not yet freed.
    var liveBlocks: Int { lock.withLock { _liveBlocks } }

    func allocate(byteCount: Int) -> DeviceBlock {
        lock.withLock { _liveBlocks += 1 }
        return DeviceBlock(heap: self, byteCount: byteCount)
    }

    fileprivate func counted(toHost: Bool) {
        lock.withLock { if toHost { _copiesToHost += 1 } else { _copiesFromHost += 1 } }
    }
    fileprivate func freed() { lock.withLock { _liveBlocks -= 1 } }
}

/// One allocation in the heap: bytes in a Swift array, never handed out as a pointer.
final class DeviceBlock: DeviceMemory, @unchecked Sendable {
    private let heap: DeviceHeap
    private var bytes: [UInt8]

    fileprivate init(heap: DeviceHeap, byteCount: Int) {
        self.heap = heap
        bytes = [UInt8](repeating: 0, count: byteCount)
    }

    deinit { heap.freed() }

    func copyToHost(_ destination: UnsafeMutableRawPointer, byteCount: Int) {
        heap.counted(toHost: true)
        if byteCount == 0 { return } // an empty array may have no base address
        bytes.withUnsafeBytes { destination.copyMemory(from: $0.baseAddress!, byteCount: byteCount) }
    }

    func copyFromHost(_ source: UnsafeRawPointer, byteCount: Int) {
        heap.counted(toHost: false)
        if byteCount == 0 { return }
        bytes.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: source, byteCount: byteCount) }
    }
}

/// Every ``Backend`` method, defaults included: inputs copied to the host, the reference kernel
/// run there (under the reference backend, so that no op inside it comes back here), the
/// results copied into the heap. In-place updates write through the host-access API.
final class DeviceHeapBackend: Backend, @unchecked Sendable {
    let name = "device-heap (test)"
    let heap = DeviceHeap()
    private let reference = ReferenceBackend()

    /// `t` in host memory: a device tensor copied out, a host tensor as it is.
    func host(_ t: Tensor) -> Tensor {
        t.storage.isHostMemory ? t : Tensor(shape: t.shape, storage: t.storage.onHost())
    }
    func host(_ t: Tensor?) -> Tensor? { t.map(host) }

    /// `t`'s elements in a new heap block (a device tensor as it is).
    func device(_ t: Tensor) -> Tensor { Tensor(shape: t.shape, storage: deviceStorage(t)) }

    /// Storage in the heap holding `t`'s elements (`t`'s own when it is already there).
    func deviceStorage(_ t: Tensor) -> TensorStorage {
        let storage = t.storage
        if !storage.isHostMemory { return storage }
        let block = heap.allocate(byteCount: storage.byteCount)
        storage.withHostBytes { block.copyFromHost($0, byteCount: storage.byteCount) }
        return TensorStorage(dtype: storage.dtype, count: storage.count, device: block)
    }

    /// Runs a reference kernel with the reference backend current.
    private func onReference<R>(_ body: (ReferenceBackend) -> R) -> R { Backends.with(reference) { body(reference) } }

    private func saved(_ s: BatchNormSaved) -> BatchNormSaved {
        BatchNormSaved(mean: host(s.mean), invStd: host(s.invStd))
    }

    func matmul(_ a: Tensor, _ b: Tensor, transA: Bool, transB: Bool) -> Tensor {
        device(onReference { $0.matmul(host(a), host(b), transA: transA, transB: transB) })
    }

    func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, _ p: Conv2dParameters) -> Tensor {
        device(onReference { $0.conv2d(host(x), weight: host(weight), bias: host(bias), p) })
    }

    func conv2dBackwardData(_ gradOutput: Tensor, weight: Tensor, inputShape: [Int], _ p: Conv2dParameters) -> Tensor {
        device(onReference { $0.conv2dBackwardData(host(gradOutput), weight: host(weight), inputShape: inputShape, p) })
    }

    func conv2dBackwardWeight(_ gradOutput: Tensor, input: Tensor, weightShape: [Int], _ p: Conv2dParameters) -> Tensor
    {
        device(
            onReference { $0.conv2dBackwardWeight(host(gradOutput), input: host(input), weightShape: weightShape, p) })
    }

    func maxPool2d(_ x: Tensor, _ p: Pool2dParameters) -> (output: Tensor, indices: Tensor) {
        let (y, indices) = onReference { $0.maxPool2d(host(x), p) }
        return (device(y), device(indices))
    }

    func maxPool2dBackward(_ gradOutput: Tensor, indices: Tensor, inputShape: [Int]) -> Tensor {
        device(onReference { $0.maxPool2dBackward(host(gradOutput), indices: host(indices), inputShape: inputShape) })
    }

    func avgPool2d(_ x: Tensor, _ p: Pool2dParameters) -> Tensor { device(onReference { $0.avgPool2d(host(x), p) }) }

    func avgPool2dBackward(_ gradOutput: Tensor, inputShape: [Int], _ p: Pool2dParameters) -> Tensor {
        device(onReference { $0.avgPool2dBackward(host(gradOutput), inputShape: inputShape, p) })
    }

    func adaptiveAvgPool2d(_ x: Tensor, outputSize: (Int, Int)) -> Tensor {
        device(onReference { $0.adaptiveAvgPool2d(host(x), outputSize: outputSize) })
    }

    func adaptiveAvgPool2dBackward(_ gradOutput: Tensor, inputShape: [Int]) -> Tensor {
        device(onReference { $0.adaptiveAvgPool2dBackward(host(gradOutput), inputShape: inputShape) })
    }

    func batchNormStatistics(_ x: Tensor, eps: Double) -> BatchNormSaved {
        let s = onReference { $0.batchNormStatistics(host(x), eps: eps) }
        return BatchNormSaved(mean: device(s.mean), invStd: device(s.invStd))
    }

    func batchNormTraining(_ x: Tensor, eps: Double, weight: Tensor?, bias: Tensor?) -> (
        output: Tensor, saved: BatchNormSaved
    ) {
        let (y, s) = onReference { $0.batchNormTraining(host(x), eps: eps, weight: host(weight), bias: host(bias)) }
        return (device(y), BatchNormSaved(mean: device(s.mean), invStd: device(s.invStd)))
    }

    func batchNormApply(_ x: Tensor, saved: BatchNormSaved, weight: Tensor?, bias: Tensor?) -> Tensor {
        device(
            onReference { $0.batchNormApply(host(x), saved: self.saved(saved), weight: host(weight), bias: host(bias)) }
        )
    }

    func batchNormBackward(
        _ gradOutput: Tensor, input: Tensor, saved: BatchNormSaved, weight: Tensor?,
        trainingStatistics: Bool
    ) -> (input: Tensor, weight: Tensor, bias: Tensor) {
        let g = onReference {
            $0.batchNormBackward(
                host(gradOutput), input: host(input), saved: self.saved(saved), weight: host(weight),
                trainingStatistics: trainingStatistics)
        }
        return (device(g.input), device(g.weight), device(g.bias))
    }

    func relu(_ x: Tensor) -> Tensor { device(onReference { $0.relu(host(x)) }) }

    func reluBackward(_ gradOutput: Tensor, output: Tensor) -> Tensor {
        device(onReference { $0.reluBackward(host(gradOutput), output: host(output)) })
    }

    func add(_ a: Tensor, _ b: Tensor) -> Tensor { device(onReference { $0.add(host(a), host(b)) }) }

    func concatenate(_ tensors: [Tensor], axis: Int) -> Tensor {
        device(onReference { $0.concatenate(tensors.map(host), axis: axis) })
    }

    func split(_ x: Tensor, axis: Int, sizes: [Int]) -> [Tensor] {
        onReference { $0.split(host(x), axis: axis, sizes: sizes) }.map(device)
    }

    func localResponseNorm(_ x: Tensor, size: Int, alpha: Double, beta: Double, k: Double) -> Tensor {
        device(onReference { $0.localResponseNorm(host(x), size: size, alpha: alpha, beta: beta, k: k) })
    }

    func localResponseNormBackward(
        _ gradOutput: Tensor, input: Tensor, size: Int, alpha: Double, beta: Double,
        k: Double
    ) -> Tensor {
        device(
            onReference {
                $0.localResponseNormBackward(
                    host(gradOutput), input: host(input), size: size, alpha: alpha, beta: beta, k: k)
            })
    }

    func zeros(_ shape: [Int], dtype: DType) -> Tensor { device(Tensor.zeros(shape, dtype: dtype)) }

    func elementwise(_ x: Tensor, _ op: UnaryOp) -> Tensor { device(onReference { $0.elementwise(host(x), op) }) }

    func elementwise(_ a: Tensor, _ b: Tensor, _ op: BinaryOp) -> Tensor {
        device(onReference { $0.elementwise(host(a), host(b), op) })
    }

    func power(_ x: Tensor, exponent: Double) -> Tensor {
        device(onReference { $0.power(host(x), exponent: exponent) })
    }

    func reduceSum(_ x: Tensor, axis: Int) -> Tensor { device(onReference { $0.reduceSum(host(x), axis: axis) }) }

    func reduceMax(_ x: Tensor, axis: Int) -> (values: Tensor, indices: Tensor) {
        let (values, indices) = onReference { $0.reduceMax(host(x), axis: axis) }
        return (device(values), device(indices))
    }

    func gatherStrided(_ x: Tensor, offset: Int, strides: [Int], shape: [Int]) -> Tensor {
        device(onReference { $0.gatherStrided(host(x), offset: offset, strides: strides, shape: shape) })
    }

    func scatterStrided(_ x: Tensor, into shape: [Int], offset: Int, strides: [Int], fill: Double) -> Tensor {
        device(onReference { $0.scatterStrided(host(x), into: shape, offset: offset, strides: strides, fill: fill) })
    }

    func softmax(_ x: Tensor, axis: Int, log: Bool) -> Tensor {
        device(onReference { $0.softmax(host(x), axis: axis, log: log) })
    }

    func crossEntropy(
        _ logits: Tensor, labels: [Int], labelSmoothing: Double,
        reduction: LossReduction
    ) -> (loss: Tensor, logProbabilities: Tensor) {
        let (loss, logp) = onReference {
            $0.crossEntropy(host(logits), labels: labels, labelSmoothing: labelSmoothing, reduction: reduction)
        }
        return (device(loss), device(logp))
    }

    func crossEntropyBackward(
        _ gradLoss: Tensor, logProbabilities: Tensor, labels: [Int], labelSmoothing: Double,
        reduction: LossReduction
    ) -> Tensor {
        device(
            onReference {
                $0.crossEntropyBackward(
                    host(gradLoss), logProbabilities: host(logProbabilities), labels: labels,
                    labelSmoothing: labelSmoothing, reduction: reduction)
            })
    }

    // The reference updates write through the host-access API: for heap tensors, a copy out and back.
    func sgdUpdate(
        _ parameter: Tensor, gradient: Tensor, momentumBuffer: Tensor?, firstStep: Bool,
        learningRate: Double, momentum: Double, nesterov: Bool, weightDecay: Double
    ) {
        onReference {
            $0.sgdUpdate(
                parameter, gradient: gradient, momentumBuffer: momentumBuffer, firstStep: firstStep,
                learningRate: learningRate, momentum: momentum, nesterov: nesterov, weightDecay: weightDecay)
        }
    }

    func adamWUpdate(
        _ parameter: Tensor, gradient: Tensor, expAvg: Tensor, expAvgSq: Tensor, step: Int,
        learningRate: Double, beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double
    ) {
        onReference {
            $0.adamWUpdate(
                parameter, gradient: gradient, expAvg: expAvg, expAvgSq: expAvgSq, step: step,
                learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay)
        }
    }
}
