import StrataDNNL
import StrataModels
import StrataNN
import StrataTensor
import StrataTestSupport
import StrataTraining
import Testing

// Whole small networks on oneDNN against the reference backend: logits, the loss and every
// parameter's gradient in training mode (batch statistics), logits in eval mode, and the
// parameters after a few SGD steps. Tolerance 2e-4 (scaled error): errors compound over
// ~20 layers of Float32 with batch norm; measured ~1e-6–3e-5.

let networkTolerance = 2e-4

/// One forward + backward of `model` on `x` under `backend`: logits, loss, parameter gradients.
func trainingPass(_ model: Module, _ x: Tensor, labels: [Int], _ backend: any Backend) -> (Tensor, Double, [Tensor?]) {
    model.zeroGrad()
    return Backends.with(backend) {
        let logits = model(x)
        let loss = crossEntropy(logits, labels: labels)
        loss.backward()
        return (logits, loss.item(), model.parameters().map(\.grad))
    }
}

func expectNetworkAgrees(_ name: String, batch: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
    GlobalRandom.seed(7)
    let model = try Models.make(name)
    let entry = try Models.entry(name)
    // 16×16 instead of CIFAR's 32×32 keeps the reference pass fast; every layer still runs
    // (global average pooling ends both nets).
    let x = f32([batch, entry.input[0], 16, 16], 71)
    let labels = (0..<batch).map { $0 % entry.classes }
    // Running statistics change in training mode: give each pass its own copy.
    let saved = model.namedBuffers().map { $0.1.copy() }
    func restoreBuffers() { for (b, s) in zip(model.namedBuffers().map(\.1), saved) { b.assign(s) } }

    let (logitsRef, lossRef, gradsRef) = trainingPass(model, x, labels: labels, reference)
    restoreBuffers()
    let (logits, loss, grads) = trainingPass(model, x, labels: labels, dnnl)
    expectClose(logits, logitsRef, tolerance: networkTolerance, "\(name) logits", sourceLocation: sourceLocation)
    expectClose(
        loss, lossRef, tolerance: networkTolerance * Swift.max(1, abs(lossRef)), "\(name) loss",
        sourceLocation: sourceLocation)
    for ((pname, _), (g, gRef)) in zip(model.namedParameters(), zip(grads, gradsRef)) {
        guard let g, let gRef else {
            Issue.record("\(name): \(pname) has no gradient")
            continue
        }
        expectClose(g, gRef, tolerance: networkTolerance, "\(name) ∂\(pname)", sourceLocation: sourceLocation)
    }

    model.eval()
    restoreBuffers()
    let evalRef = withNoGrad { Backends.with(reference) { model(x) } }
    let eval = withNoGrad { Backends.with(dnnl) { model(x) } }
    expectClose(eval, evalRef, tolerance: networkTolerance, "\(name) eval logits", sourceLocation: sourceLocation)
}

@Suite("oneDNN backend vs reference: whole networks")
struct DNNLNetworkTests {
    @Test("CIFAR ResNet-20, training pass and eval")
    func resnet20() throws { try expectNetworkAgrees("resnet20", batch: 2) }

    @Test("DenseNet-BC (L=22, k=6), training pass and eval")
    func densenet() throws { try expectNetworkAgrees("densenet_bc_22_k6", batch: 2) }

    @Test("three SGD steps on a CIFAR ResNet-8 (projection shortcuts) end at the same parameters")
    func sgdSteps() throws {
        // One model: tests run in parallel and share the global generator, so two seeded builds
        // would not be equal. The reference run starts from a snapshot the oneDNN run restores.
        let model = CIFARResNet(depth: 8, classes: 10, shortcut: .projection)
        let initial = model.stateDict().map { $0.tensor.copy() }
        func train(_ backend: any Backend) -> [Tensor] {
            for (t, s) in zip(model.stateDict().map(\.tensor), initial) { t.assign(s) }
            let opt = SGD(model.parameters(), momentum: 0.9, weightDecay: 1e-4)
            for step in 0..<3 {
                let x = f32([4, 3, 16, 16], 80 + UInt64(step))
                model.zeroGrad()
                Backends.with(backend) { crossEntropy(model(x), labels: [0, 1, 2, 3]).backward() }
                opt.step(lr: 0.1)
            }
            return model.parameters().map { $0.copy() }
        }
        let ref = train(reference)
        let fast = train(dnnl)
        for (i, (a, b)) in zip(fast, ref).enumerated() {
            expectClose(a, b, tolerance: networkTolerance, "parameter \(i)")
        }
    }
}
