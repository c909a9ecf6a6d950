/// One recorded operation: its inputs and the function that maps the gradient of
/// its output to gradients of its inputs.
///
/// The backward closure captures exactly the values the forward saved for it;
/// ``Tensor/backward(_:)`` drops the closure once it has run, which frees them.
public final class GradNode {
    /// The op's name, for error messages and graph printing.
    public let name: String
    /// The tensors this op read, in argument order.
    public internal(set) var inputs: [Tensor]
    /// Maps ∂L/∂output to ∂L/∂input for each input (nil for inputs without gradient).
    var backward: ((Tensor) -> [Tensor?])?

    init(name: String, inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]) {
        self.name = name
        self.inputs = inputs
        self.backward = backward
    }

    /// Frees an unused graph iteratively: releasing a long chain recursively (tensor → node →
    /// input tensor → …) would overflow the stack on graphs of tens of thousands of ops.
    deinit {
        guard !inputs.isEmpty else { return }
        var pending = inputs
        inputs = []
        backward = nil
        while var tensor = pending.popLast() {
            guard isKnownUniquelyReferenced(&tensor), isKnownUniquelyReferenced(&tensor.gradFn), let node = tensor.gradFn else { continue }
            pending.append(contentsOf: node.inputs)
            node.inputs = []
            node.backward = nil
        }
    }
}

extension Tensor {
    /// Records `output` as produced by `op` from `inputs` when grad mode is on and any
    /// input requires gradients; otherwise returns `output` untouched and drops `backward`.
    @inline(__always)
    func record(_ op: String, _ output: Tensor, inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        Tensor.record(op, output, inputs: inputs, backward: backward)
    }

    @inline(__always)
    static func record(_ op: String, _ output: Tensor, inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        guard GradMode.enabled, inputs.contains(where: { $0.requiresGrad }) else { return output }
        output.requiresGrad = true
        output.gradFn = GradNode(name: op, inputs: inputs, backward: backward)
        return output
    }

    /// Whether an op being built now must record itself (lets ops skip saving buffers).
    static func needsGrad(_ inputs: Tensor...) -> Bool {
        GradMode.enabled && inputs.contains(where: { $0.requiresGrad })
    }

    /// Backpropagates from this tensor: accumulates ∂self/∂leaf into every leaf's ``grad``.
    ///
    /// - Parameter gradient: ∂L/∂self; may be omitted when this tensor holds one element
    ///   (a loss), in which case it is 1.
    ///
    /// Gradients accumulate across calls until ``zeroGrad()``. The buffers saved by
    /// the graph are released as it runs, so a graph can be backpropagated once.
    public func backward(_ gradient: Tensor? = nil) {
        precondition(requiresGrad, "backward: tensor does not require grad (did you call requiringGrad() on an input?)")
        let seed: Tensor
        if let gradient {
            shapeCheck(gradient.shape == shape, "backward", got: "gradient shape \(gradient.shape)", expected: "\(shape)")
            seed = gradient.detached()
        } else {
            shapeCheck(count == 1, "backward", got: "shape \(shape)", expected: "a one-element tensor, or pass a gradient")
            seed = Tensor.full(shape, 1, dtype: dtype)
        }

        // Topological order by iterative DFS (deep nets would overflow a recursive one).
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (t, expanded) = stack.popLast() {
            if expanded { order.append(t); continue }
            if visited.contains(ObjectIdentifier(t)) { continue }
            visited.insert(ObjectIdentifier(t))
            stack.append((t, true))
            for input in t.gradFn?.inputs ?? [] where input.requiresGrad && !visited.contains(ObjectIdentifier(input)) {
                stack.append((input, false))
            }
        }

        var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(self): seed]
        withNoGrad {
            for t in order.reversed() {
                guard let g = grads.removeValue(forKey: ObjectIdentifier(t)) else { continue }
                guard let node = t.gradFn else {
                    t.grad = t.grad.map { $0 + g } ?? g
                    continue
                }
                guard let fn = node.backward else {
                    preconditionFailure("backward: the graph through '\(node.name)' was already backpropagated and its buffers freed")
                }
                let inputGrads = fn(g)
                precondition(inputGrads.count == node.inputs.count, "backward of \(node.name) returned \(inputGrads.count) grads for \(node.inputs.count) inputs")
                for (input, ig) in zip(node.inputs, inputGrads) where input.requiresGrad {
                    guard let ig else { continue }
                    shapeCheck(ig.shape == input.shape, "backward of \(node.name)", got: "gradient shape \(ig.shape)", expected: "\(input.shape)")
                    let key = ObjectIdentifier(input)
                    grads[key] = grads[key].map { $0 + ig } ?? ig
                }
                node.backward = nil   // release saved buffers
                node.inputs = []
            }
        }
    }
}
