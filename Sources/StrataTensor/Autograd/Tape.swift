/// One recorded operation: edges to where each input's gradient goes, and the function
/// that maps the gradient of its output to gradients of its inputs.
///
/// The node holds no input *tensors*: an input made by another op is reached through that
/// op's node, and only leaves (parameters) are held. So an activation lives only as long as
/// the user or some backward closure needs it — the closure captures exactly the values the
/// forward saved for it (named at each op), and ``Tensor/backward(_:)`` drops the closure once
/// it has run, which frees them.
public final class GradNode {
    /// Where one input's gradient goes.
    struct Edge {
        /// The node that produced the input (nil for a leaf or an input without gradient).
        var node: GradNode?
        /// The input itself when it is a leaf that requires gradients (its ``Tensor/grad`` accumulates).
        var leaf: Tensor?
        /// The input's shape, to check the gradient against.
        let shape: [Int]
    }

    /// The op's name, for error messages and graph printing.
    public let name: String
    /// One edge per input, in argument order.
    var edges: [Edge]
    /// Maps ∂L/∂output to ∂L/∂input for each input (nil for inputs without gradient).
    var backward: ((Tensor) -> [Tensor?])?

    /// The number of inputs the op read.
    public var inputCount: Int { edges.count }

    init(name: String, inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]) {
        self.name = name
        edges = inputs.map { t in
            guard t.requiresGrad else { return Edge(node: nil, leaf: nil, shape: t.shape) }
            return t.gradFn.map { Edge(node: $0, leaf: nil, shape: t.shape) }
                ?? Edge(node: nil, leaf: t, shape: t.shape)
        }
        self.backward = backward
    }

    /// Frees an unused graph iteratively: releasing a long chain recursively (node → input's
    /// node → …) would overflow the stack on graphs of tens of thousands of ops.
    deinit {
        var pending = edges.compactMap(\.node)
        edges = []
        backward = nil
        while var node = pending.popLast() {
            guard isKnownUniquelyReferenced(&node) else { continue }
            pending.append(contentsOf: node.edges.compactMap(\.node))
            node.edges = []
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
    static func record(_ op: String, _ output: Tensor, inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?])
        -> Tensor
    {
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
    public func backward(_ gradient: Tensor? = nil) { backward(gradient, onGradientReady: nil) }

    /// ``backward(_:)`` that also calls `onGradientReady` with each leaf as soon as the last
    /// contribution of this pass to its ``grad`` is accumulated (once per leaf that received one),
    /// while the rest of the backward still runs: data-parallel training starts averaging a
    /// gradient across processes there, overlapping communication with computation.
    public func backward(_ gradient: Tensor?, onGradientReady: ((Tensor) -> Void)?) {
        precondition(requiresGrad, "backward: tensor does not require grad (did you call requiringGrad() on an input?)")
        let seed: Tensor
        if let gradient {
            shapeCheck(
                gradient.shape == shape, "backward", got: "gradient shape \(gradient.shape)", expected: "\(shape)")
            seed = gradient.detached()
        } else {
            shapeCheck(
                count == 1, "backward", got: "shape \(shape)", expected: "a one-element tensor, or pass a gradient")
            seed = Tensor.full(shape, 1, dtype: dtype)
        }
        guard let root = gradFn else {
            withNoGrad { grad = grad.map { $0 + seed } ?? seed }
            onGradientReady?(self)
            return
        }

        // Topological order of the nodes by iterative DFS (deep nets would overflow a recursive one).
        // A node is marked when it is expanded (not when pushed), so it lands in `order` after
        // every node that feeds it, however many paths lead to it.
        var order: [GradNode] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(GradNode, Bool)] = [(root, false)]
        while let (node, expanded) = stack.popLast() {
            if expanded {
                order.append(node)
                continue
            }
            guard visited.insert(ObjectIdentifier(node)).inserted else { continue }
            stack.append((node, true))
            for edge in node.edges {
                guard let next = edge.node, !visited.contains(ObjectIdentifier(next)) else { continue }
                stack.append((next, false))
            }
        }

        // With a readiness callback: how many edges of the graph still lead to each leaf.
        var pendingLeaves: [ObjectIdentifier: Int] = [:]
        if onGradientReady != nil {
            for node in order {
                for edge in node.edges {
                    if let leaf = edge.leaf { pendingLeaves[ObjectIdentifier(leaf), default: 0] += 1 }
                }
            }
        }
        var touchedLeaves: [Tensor] = []
        // Gradients waiting at each node, summed over the uses of its output.
        var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(root): seed]
        withNoGrad {
            for node in order.reversed() {
                guard let g = grads.removeValue(forKey: ObjectIdentifier(node)) else {
                    if let onGradientReady { Self.skip(node, &pendingLeaves, &touchedLeaves, onGradientReady) }
                    continue
                }
                guard let fn = node.backward else {
                    preconditionFailure(
                        "backward: the graph through '\(node.name)' was already backpropagated and its buffers freed")
                }
                let inputGrads = fn(g)
                precondition(
                    inputGrads.count == node.edges.count,
                    "backward of \(node.name) returned \(inputGrads.count) grads for \(node.edges.count) inputs")
                for (edge, ig) in zip(node.edges, inputGrads) {
                    guard let ig, edge.node != nil || edge.leaf != nil else {
                        if let onGradientReady, let leaf = edge.leaf {
                            Self.countDown(leaf, &pendingLeaves, &touchedLeaves, onGradientReady)
                        }
                        continue
                    }
                    shapeCheck(
                        ig.shape == edge.shape, "backward of \(node.name)", got: "gradient shape \(ig.shape)",
                        expected: "\(edge.shape)")
                    if let next = edge.node {
                        let key = ObjectIdentifier(next)
                        grads[key] = grads[key].map { $0 + ig } ?? ig
                    } else if let leaf = edge.leaf {
                        leaf.grad = leaf.grad.map { $0 + ig } ?? ig
                        if let onGradientReady {
                            touchedLeaves.append(leaf)
                            Self.countDown(leaf, &pendingLeaves, &touchedLeaves, onGradientReady)
                        }
                    }
                }
                node.backward = nil // release saved buffers
                node.edges = []
            }
        }
    }

    /// One edge to `leaf` is done: at the last one, report the leaf if it received a gradient.
    private static func countDown(
        _ leaf: Tensor, _ pending: inout [ObjectIdentifier: Int], _ touched: inout [Tensor],
        _ ready: (Tensor) -> Void
    ) {
        let key = ObjectIdentifier(leaf)
        guard let n = pending[key] else { return }
        if n > 1 {
            pending[key] = n - 1
            return
        }
        pending[key] = nil
        if touched.contains(where: { $0 === leaf }) {
            touched.removeAll { $0 === leaf }
            ready(leaf)
        }
    }

    /// A node no gradient reached: its edges to leaves are done without contributing.
    private static func skip(
        _ node: GradNode, _ pending: inout [ObjectIdentifier: Int], _ touched: inout [Tensor],
        _ ready: (Tensor) -> Void
    ) {
        for edge in node.edges { if let leaf = edge.leaf { countDown(leaf, &pending, &touched, ready) } }
    }
}
