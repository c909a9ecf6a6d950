import StrataTensor
import StrataTestSupport
import Testing

/// The tape (Autograd/Tape.swift, Autograd/GradMode.swift): accumulation, detaching,
/// no-grad scopes, shared nodes and deep graphs.
@Suite("Autograd")
struct AutogradTests {
    @Test("gradients accumulate across backward calls until zeroGrad")
    func accumulation() {
        let x = Tensor([1.0, -2, 3]).requiringGrad()
        (x * 2).sum().backward()
        #expect(x.grad?.doubles == [2, 2, 2])
        (x * x).sum().backward()
        #expect(x.grad?.doubles == [4, -2, 8])
        x.zeroGrad()
        #expect(x.grad == nil)
        (x * 3).sum().backward()
        #expect(x.grad?.doubles == [3, 3, 3])
    }

    @Test("detached() cuts the graph")
    func detached() {
        let x = Tensor([1.0, 2, 3]).requiringGrad()
        let d = x.detached()
        #expect(!d.requiresGrad)
        #expect(d.isLeaf)
        #expect(d.doubles == x.doubles)
        #expect(!(d * 2).requiresGrad)
        // x·stop(x): only the first factor is differentiated.
        (x * x.detached()).sum().backward()
        #expect(x.grad?.doubles == [1, 2, 3])
        // Detaching an intermediate stops everything above it.
        let y = Tensor([2.0]).requiringGrad()
        let z = (y * 3).detached().requiringGrad() * y
        z.sum().backward()
        #expect(y.grad?.doubles == [6])
    }

    @Test("inside withNoGrad nothing is recorded")
    func noGrad() {
        let x = Tensor([1.0, 2]).requiringGrad()
        #expect(GradMode.isEnabled)
        let (y, enabled) = withNoGrad { ((x * 2).exp().sum(), GradMode.isEnabled) }
        #expect(!enabled)
        #expect(!y.requiresGrad)
        #expect(y.gradFn == nil)
        #expect(y.isLeaf)
        let conv = withNoGrad {
            conv2d(x.reshaped([1, 1, 1, 2]), weight: Tensor([1.0], shape: [1, 1, 1, 1]).requiringGrad())
        }
        #expect(!conv.requiresGrad && conv.gradFn == nil)
        // withGrad re-enables recording inside a no-grad scope.
        let inner = withNoGrad { withGrad { x * 2 } }
        #expect(inner.requiresGrad)
        #expect(inner.gradFn?.name == "mul")
        #expect(GradMode.isEnabled)
    }

    @Test("ops on tensors that need no gradient are not recorded")
    func noRecordingWithoutGrad() {
        let a = Tensor([1.0, 2])
        let b = Tensor([3.0, 4])
        let c = (a * b).sum()
        #expect(!c.requiresGrad && c.gradFn == nil)
        let x = Tensor([1.0]).requiringGrad()
        let y = x + a.sum()
        #expect(y.requiresGrad && !y.isLeaf)
        #expect(y.gradFn?.inputCount == 2)
    }

    @Test("a node used twice gets the sum of its gradients")
    func sharedNodes() {
        let x = Tensor([1.5, -2]).requiringGrad()
        (x * x).sum().backward()
        #expect(x.grad?.doubles == [3, -4])
        x.zeroGrad()
        (x + x).sum().backward()
        #expect(x.grad?.doubles == [2, 2])
        x.zeroGrad()
        // A diamond: h feeds two branches that join again.
        let h = x * 3
        (h * h + h.exp()).sum().backward()
        let xv = x.doubles
        expectClose(x.grad!.doubles, xv.map { 18 * $0 + 3 * Double.exp(3 * $0) }, tolerance: 1e-12, "diamond")
        // The same input twice in one concatenate.
        x.zeroGrad()
        Tensor.concatenate([x, x, x], axis: 0).sum().backward()
        #expect(x.grad?.doubles == [3, 3])
    }

    @Test("a deep chain of 5000 adds backpropagates without overflowing the stack")
    func deepChain() {
        let x = Tensor([1.0, 2]).requiringGrad()
        var y = x
        for _ in 0..<5000 { y = y + x }
        y.sum().backward()
        #expect(x.grad?.doubles == [5001, 5001])
        // A long chain of unary ops, then dropped without a backward pass.
        var z = x
        for _ in 0..<100_000 { z = z * 1.0 } // freed iteratively (GradNode.deinit)
        #expect(z.requiresGrad)
        z = Tensor([0.0])
        #expect(!z.requiresGrad)
    }

    /// Every op whose result is dropped without a backward pass: nothing may keep the result
    /// (or, through it, the graph) alive. Ops that save their output for the backward once
    /// captured it in the closure stored in its own gradFn, a retain cycle.
    static let recordedOps: [(name: String, op: @Sendable (Tensor) -> Tensor)] = [
        ("exp", { $0.exp() }), ("log", { $0.abs().log() }), ("sqrt", { $0.abs().sqrt() }), ("abs", { $0.abs() }),
        ("squared", { $0.squared() }), ("sigmoid", { $0.sigmoid() }), ("tanh", { $0.tanh() }),
        ("pow", { $0.abs().pow(1.5) }),
        ("relu", { $0.relu() }), ("add", { $0 + $0 }), ("mul", { $0 * $0 }), ("div", { $0 / 2 }), ("neg", { -$0 }),
        ("maximum", { $0.maximum($0 * 2) }), ("softmax", { $0.softmax(axis: 1) }),
        ("logSoftmax", { $0.logSoftmax(axis: 1) }),
        ("sum", { $0.sum(axis: 0) }), ("max", { $0.max(axis: 1) }), ("permuted", { $0.permuted([1, 0]) }),
        ("slice", { $0.slice(axis: 1, start: 1) }), ("concatenate", { Tensor.concatenate([$0, $0], axis: 0) }),
        ("padded", { $0.padded([(1, 1)]) }), ("matmul", { $0.matmul($0.transposed()) }), ("to", { $0.to(.float32) }),
        ("linear", { linear($0, weight: $0) }), ("crossEntropy", { crossEntropy($0, labels: [0, 1]) }),
        ("conv2d", { conv2d($0.reshaped([1, 1, 2, 3]), weight: $0.reshaped([1, 1, 2, 3])) }),
        ("maxPool2d", { maxPool2d($0.reshaped([1, 1, 2, 3]), .init(kernel: 2, stride: 1)) }),
        ("avgPool2d", { avgPool2d($0.reshaped([1, 1, 2, 3]), .init(kernel: 2, stride: 1)) }),
        ("adaptiveAvgPool2d", { adaptiveAvgPool2d($0.reshaped([1, 1, 2, 3]), outputSize: (1, 1)) }),
        ("batchNorm2d", { batchNorm2d($0, runningMean: nil, runningVar: nil, weight: nil, bias: nil, training: true) }),
        ("localResponseNorm", { localResponseNorm($0.reshaped([1, 3, 2, 1]), size: 2) }),
        (
            "dropout",
            {
                var g = RandomGenerator(seed: 1)
                return dropout($0, p: 0.5, training: true, generator: &g)
            }
        ),
    ]

    @Test("a graph dropped without a backward pass is freed", arguments: recordedOps)
    func freedWithoutBackward(_ entry: (name: String, op: @Sendable (Tensor) -> Tensor)) {
        weak var weakInput: Tensor?
        weak var weakOutput: Tensor?
        do {
            let x = Tensor([0.5, -1, 2, 1.5, -0.25, 3], shape: [2, 3]).requiringGrad()
            let y = entry.op(x)
            #expect(y.requiresGrad, "\(entry.name) was not recorded")
            weakInput = x
            weakOutput = y
        }
        #expect(weakOutput == nil, "\(entry.name): the output outlives its last reference")
        #expect(weakInput == nil, "\(entry.name): the graph keeps its input alive")
    }

    @Test("backward with an explicit gradient, and leaf bookkeeping")
    func explicitGradient() {
        let x = Tensor([1.0, 2, 3]).requiringGrad()
        #expect(x.isLeaf && x.requiresGrad && x.grad == nil)
        let y = x * 2
        #expect(!y.isLeaf)
        #expect(y.gradFn?.name == "mul")
        y.backward(Tensor([1.0, 10, 100]))
        #expect(x.grad?.doubles == [2, 20, 200])
        // A leaf's own backward.
        let w = Tensor([5.0]).requiringGrad()
        w.backward()
        #expect(w.grad?.doubles == [1])
        // Inputs not on the path from the loss get no gradient.
        let unused = Tensor([1.0]).requiringGrad()
        let used = Tensor([1.0]).requiringGrad()
        (used * 2).backward()
        _ = unused * 2
        #expect(unused.grad == nil)
        // requiringGrad(false) turns a leaf into a constant.
        let c = Tensor([1.0]).requiringGrad().requiringGrad(false)
        #expect(!(c * 2).requiresGrad)
    }

    @Test("gradients of a composite expression match finite differences")
    func composite() {
        let x = randomTensor([3, 4], seed: 110)
        let w = randomTensor([4, 2], seed: 111)
        checkGradients([x, w], "composite") { t in
            let h = t[0].matmul(t[1]).tanh()
            return (h * h.sigmoid() - h.mean(axis: 0, keepDims: true)).softmax(axis: 1).log()
        }
    }
}
