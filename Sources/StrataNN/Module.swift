import StrataTensor

/// Marks a tensor property of a ``Module`` as a buffer: state saved in the state dict
/// but not trained (batch norm's running statistics).
@propertyWrapper
public final class Buffer {
    public var wrappedValue: Tensor
    public init(wrappedValue: Tensor) { self.wrappedValue = wrappedValue }
}

/// A building block of a network: holds parameters, buffers and submodules, and maps
/// an input tensor to an output.
///
/// Parameters, buffers and submodules are found by reflection over stored properties,
/// in declaration order, so subclasses keep no lists by hand:
/// - a `Tensor` (or `Tensor?`) property is a parameter, named by the property;
/// - a `@Buffer var name: Tensor` property is a buffer;
/// - a `Module` (or `Module?`, `[Module]`) property is a submodule (array elements are named 0, 1, …).
///
/// Keys are dotted paths, PyTorch's: `layer1.0.conv1.weight`. Properties are therefore
/// named as torchvision names its attributes (`running_mean`, `Mixed_5b`), so that
/// state dicts move between Strata and PyTorch unchanged.
open class Module {
    /// Whether the module behaves as in training (batch statistics, dropout active).
    public private(set) var training = true

    public init() {}

    /// What the module computes. Subclasses override this; callers use ``Module/callAsFunction(_:)``.
    open func forward(_ input: Tensor) -> Tensor {
        preconditionFailure("\(type(of: self)) does not implement forward(_:)")
    }

    /// Runs the module (and reports it to an active ``ModuleTrace``, e.g. for summaries).
    public final func callAsFunction(_ input: Tensor) -> Tensor {
        guard let trace = ModuleTrace.active else { return forward(input) }
        trace.enter(self)
        let output = forward(input)
        trace.exit(self, input: input.shape, output: output.shape)
        return output
    }

    /// Multiply-accumulates this module performs itself (not its children) for one
    /// forward pass that maps `input` to `output` (whole batch). Conv and linear layers override it.
    open func macs(input: [Int], output: [Int]) -> Int { 0 }

    /// A short description of the module's settings, printed by summaries (`Conv2d(3, 64, kernel 7, stride 2)`).
    open var summaryDescription: String { String(describing: type(of: self)) }

    // MARK: Reflection

    /// Direct submodules with their names. Containers override this.
    open func namedChildren() -> [(String, Module)] {
        var out: [(String, Module)] = []
        forEachProperty { label, value in
            if let m = value as? Module {
                out.append((label, m))
            } else if let list = value as? [Module] {
                for (i, m) in list.enumerated() { out.append(("\(label).\(i)", m)) }
            }
        }
        return out
    }

    /// This module's own parameters (not its children's).
    open func namedLocalParameters() -> [(String, Tensor)] {
        var out: [(String, Tensor)] = []
        forEachProperty { label, value in
            if let t = value as? Tensor { out.append((label, t)) }
        }
        return out
    }

    /// This module's own buffers (not its children's).
    open func namedLocalBuffers() -> [(String, Tensor)] {
        var out: [(String, Tensor)] = []
        forEachProperty { label, value in
            if let b = value as? Buffer { out.append((label, b.wrappedValue)) }
        }
        return out
    }

    /// Visits stored properties of every class in the hierarchy, base class first.
    private func forEachProperty(_ body: (String, Any) -> Void) {
        var mirrors: [Mirror] = []
        var m: Mirror? = Mirror(reflecting: self)
        while let current = m { mirrors.append(current); m = current.superclassMirror }
        for mirror in mirrors.reversed() {
            for child in mirror.children {
                guard var label = child.label else { continue }
                if label.hasPrefix("_") { label.removeFirst() }   // property-wrapper storage
                if label.hasPrefix("$__lazy_storage_$_") { continue }
                body(label, child.value)
            }
        }
    }

    // MARK: Walking the tree

    /// Every module in the tree with its dotted path ("" for this one), parents first.
    public func namedModules(prefix: String = "") -> [(String, Module)] {
        var out: [(String, Module)] = [(prefix, self)]
        for (name, child) in namedChildren() {
            out += child.namedModules(prefix: prefix.isEmpty ? name : "\(prefix).\(name)")
        }
        return out
    }

    /// Every trainable parameter with its dotted key, in state-dict order.
    public func namedParameters() -> [(String, Tensor)] {
        namedModules().flatMap { path, m in m.namedLocalParameters().map { (join(path, $0.0), $0.1) } }
    }

    /// Every parameter tensor.
    public func parameters() -> [Tensor] { namedParameters().map(\.1) }

    /// Every buffer with its dotted key.
    public func namedBuffers() -> [(String, Tensor)] {
        namedModules().flatMap { path, m in m.namedLocalBuffers().map { (join(path, $0.0), $0.1) } }
    }

    /// Parameters and buffers in PyTorch's `state_dict()` order: for each module,
    /// its parameters, then its buffers, then its children.
    public func stateDict() -> [(key: String, tensor: Tensor)] {
        namedModules().flatMap { path, m in
            (m.namedLocalParameters() + m.namedLocalBuffers()).map { (key: join(path, $0.0), tensor: $0.1) }
        }
    }

    /// The number of trainable scalars.
    public var parameterCount: Int { parameters().reduce(0) { $0 + $1.count } }

    /// Switches this module and every submodule to training (`true`) or evaluation mode.
    public func train(_ on: Bool = true) {
        for (_, m) in namedModules() { m.training = on }
    }

    /// Switches to evaluation mode (running statistics, no dropout).
    public func eval() { train(false) }

    /// Clears the gradients of every parameter.
    public func zeroGrad() { for p in parameters() { p.grad = nil } }
}

@inline(__always) func join(_ prefix: String, _ name: String) -> String { prefix.isEmpty ? name : "\(prefix).\(name)" }

/// A parameter tensor: fresh storage that requires gradients.
public func parameter(_ tensor: Tensor) -> Tensor {
    let t = tensor.isLeaf ? tensor : tensor.detached()
    t.requiresGrad = true
    return t
}

/// A model with auxiliary classifiers (GoogLeNet, Inception-v3): in training mode it also returns
/// their logits, which the trainer adds to the loss (weight 0.3, as torchvision's references do).
/// Declared here, below the zoo, so that training needs no model family.
public protocol AuxiliaryClassifying: Module {
    /// Main logits and, in training mode, the auxiliary heads' logits.
    func forwardWithAuxiliary(_ x: Tensor) -> (logits: Tensor, auxiliary: [Tensor])
}
