import StrataModels
import StrataNN
import StrataTensor
import StrataTestSupport
import StrataTraining
import Testing

// A backend whose tensors are not in host memory (DeviceHeapBackend) runs the ops, the loss and
// the optimizer unchanged, and gives the reference backend's numbers.

@Suite("A backend whose memory is not host memory")
struct DeviceHeapTests {
    @Test("host access to heap tensors copies, and only then")
    func hostAccessCopies() {
        let backend = DeviceHeapBackend()
        let x = backend.device(Tensor([1.0, -2, 3], shape: [3]))
        #expect(!x.storage.isHostMemory)
        let total = Backends.with(backend) { (x.relu() * 2).sum() }
        #expect(!total.storage.isHostMemory)
        let before = backend.heap.copiesToHost
        #expect(total.item() == 8)
        #expect(backend.heap.copiesToHost == before + 1)
        x.withMutableHostBuffer(as: Double.self) { $0[1] = 5 }
        #expect(x.doubles == [1, 5, 3])
    }

    @Test("one CIFAR ResNet-20 SGD step in a device heap matches the reference backend")
    func resnet20TrainingStep() throws {
        // Weights from a private generator: GlobalRandom is shared with tests running alongside,
        // whose draws this test must neither take nor change.
        let model = try Init.withoutInitialization { try Models.make("resnet20") }
        var generator = RandomGenerator(seed: 1220)
        for (key, t) in model.stateDict() {
            if t.rank >= 2 {
                // He et al.'s normal initialization.
                let std = (2 / Double(Init.fans(t.shape).fanIn)).squareRoot()
                t.assign(Tensor.normal(t.shape, std: std, dtype: t.dtype, generator: &generator))
            } else {
                let one = key.hasSuffix("running_var") || (t.rank == 1 && key.hasSuffix(".weight"))
                t.assign(Tensor.full(t.shape, one ? 1 : 0, dtype: t.dtype))
            }
        }
        // One model, restored before the second run.
        let initial = model.stateDict().map { $0.tensor.copy() }
        let x = randomTensor([2, 3, 32, 32], seed: 1220, dtype: .float32)
        let labels = [3, 7]

        func trainingStep(_ backend: any Backend, input: Tensor) -> (loss: Double, momentum: [Tensor]) {
            let optimizer = SGD(model.parameters(), momentum: 0.9, nesterov: true, weightDecay: 5e-4)
            model.zeroGrad()
            let loss = Backends.with(backend) {
                let loss = crossEntropy(model(input), labels: labels)
                loss.backward()
                optimizer.step(lr: 0.1)
                return loss.item()
            }
            return (loss, optimizer.velocity.compactMap { $0 })
        }

        let (lossReference, momentumReference) = trainingStep(ReferenceBackend(), input: x)
        let after = model.stateDict().map { ($0.key, $0.tensor.copy()) }

        let device = DeviceHeapBackend()
        for (t, s) in zip(model.stateDict().map(\.tensor), initial) {
            t.assign(s)
            t.replaceStorage(with: device.deviceStorage(t))
        }
        let (loss, momentum) = trainingStep(device, input: device.device(x))

        // Same kernels in the same order: equal up to 1e-6 (measured: identical).
        #expect(abs(loss - lossReference) <= 1e-6, "loss \(loss) vs reference \(lossReference)")
        var worst = 0.0
        for ((key, expected), (_, t)) in zip(after, model.stateDict().map { ($0.key, $0.tensor) }) {
            #expect(!t.storage.isHostMemory, "\(key) left the device heap")
            let difference = zip(t.doubles, expected.doubles).map { abs($0 - $1) }.max() ?? 0
            worst = max(worst, difference)
            #expect(difference <= 1e-6, "\(key): max |device − reference| = \(difference)")
        }
        #expect(after.count > 60)
        // The optimizer's state is the backend's too.
        #expect(momentum.count == model.parameters().count && momentum.allSatisfy { !$0.storage.isHostMemory })
        for (b, bReference) in zip(momentum, momentumReference) { #expect(b.doubles == bReference.doubles) }
        #expect(device.heap.copiesToHost > 0 && device.heap.liveBlocks > 0)
        print(
            "device-heap ResNet-20 step: loss \(loss) (reference \(lossReference)), worst parameter difference \(worst),",
            "\(device.heap.copiesToHost) copies out, \(device.heap.copiesFromHost) in")
    }
}
