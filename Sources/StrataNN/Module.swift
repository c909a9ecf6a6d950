import StrataTensor

// MARK: Keyed properties

/// What a module's walk does with a property wrapper's value.
enum MemberRole { case parameter, buffer, module }

/// A property wrapper that the module walk recognizes: the key it declares (nil: the property's
/// name) and its current value. The wrapper is a class, so the walk can cache the wrapper itself and
/// still read the value a later assignment stored.
protocol KeyedMember: AnyObject {
    var key: String? { get }
    var role: MemberRole { get }
    /// The wrapped value, or nil while unassigned.
    var memberValue: Any? { get }
}

/// Marks a tensor property of a ``Module`` as a buffer: state saved in the state dict but not
/// trained (batch norm's running statistics).
///
/// The state-dict key is the property's name unless `key` gives another (a torchvision name that is
/// not a Swift name): `@Buffer(key: "running_mean") var runningMean: Tensor`. Without an initial value,
/// assign it in the initializer through the wrapper, `_runningMean.wrappedValue = .zeros([c])`.
@propertyWrapper
public final class Buffer: KeyedMember {
    private var value: Tensor?
    /// The state-dict key; nil: the property's name.
    public let key: String?

    /// The buffer's tensor.
    public var wrappedValue: Tensor {
        get {
            guard let value else { preconditionFailure("Buffer '\(key ?? "?")' read before it was assigned") }
            return value
        }
        set { value = newValue }
    }

    /// A buffer keyed by its property's name.
    public init(wrappedValue: Tensor) {
        value = wrappedValue
        key = nil
    }

    /// A buffer with an explicit state-dict key.
    public init(wrappedValue: Tensor, key: String) {
        precondition(!key.isEmpty, "Buffer: empty key")
        (value, self.key) = (wrappedValue, key)
    }

    /// A buffer with an explicit state-dict key, assigned later (in the module's initializer).
    public init(key: String) {
        precondition(!key.isEmpty, "Buffer: empty key")
        self.key = key
    }

    var role: MemberRole { .buffer }
    var memberValue: Any? { value }
}

/// Marks a tensor property (`Tensor` or `Tensor?`) of a ``Module`` as a parameter with an explicit
/// state-dict key, as mlx-swift's `@ParameterInfo(key:)`: `@ParameterInfo(key: "cls_token") var classToken: Tensor`.
///
/// A plain `Tensor` property is a parameter already, keyed by its name; the wrapper is needed only
/// for another key, or for a parameter that is reassigned after the module is first walked (the
/// walk caches plain properties but reads a wrapper's current value every time). A nil `Tensor?`
/// is skipped.
@propertyWrapper
public final class ParameterInfo<Value>: KeyedMember {
    private var value: Value?
    /// The state-dict key; nil: the property's name.
    public let key: String?

    /// The parameter (or nil, for an optional parameter that is absent).
    public var wrappedValue: Value {
        get {
            guard let value else { preconditionFailure("ParameterInfo '\(key ?? "?")' read before it was assigned") }
            return value
        }
        set { value = newValue }
    }

    /// A parameter keyed by its property's name.
    public init(wrappedValue: Value) {
        value = wrappedValue
        key = nil
    }

    /// A parameter with an explicit state-dict key.
    public init(wrappedValue: Value, key: String) {
        precondition(!key.isEmpty, "ParameterInfo: empty key")
        (value, self.key) = (wrappedValue, key)
    }

    /// A parameter with an explicit state-dict key, assigned later: `_weight.wrappedValue = …` in the initializer.
    public init(key: String) {
        precondition(!key.isEmpty, "ParameterInfo: empty key")
        self.key = key
    }

    var role: MemberRole { .parameter }
    var memberValue: Any? { value.map { $0 as Any } }
}

/// Marks a submodule property (a ``Module``, an optional one, or an array of them) of a ``Module``
/// with an explicit state-dict key, as mlx-swift's `@ModuleInfo(key:)`: torchvision's names that are
/// not Swift names stay the keys while the property has a Swift name,
/// `@ModuleInfo(key: "AuxLogits") var auxLogits: InceptionV3Auxiliary?` (keys `AuxLogits.fc.weight`, …).
///
/// A plain module property is a child already, keyed by its name; the wrapper is needed only for
/// another key, or for a submodule that is replaced after the module is first walked (the walk caches
/// plain properties but reads a wrapper's current value every time). A nil optional is skipped;
/// array elements are keyed `key.0`, `key.1`, ….
@propertyWrapper
public final class ModuleInfo<Value>: KeyedMember {
    private var value: Value?
    /// The state-dict key; nil: the property's name.
    public let key: String?

    /// The submodule (or nil, for an optional one that is absent).
    public var wrappedValue: Value {
        get {
            guard let value else { preconditionFailure("ModuleInfo '\(key ?? "?")' read before it was assigned") }
            return value
        }
        set { value = newValue }
    }

    /// A submodule keyed by its property's name.
    public init(wrappedValue: Value) {
        value = wrappedValue
        key = nil
    }

    /// A submodule with an explicit state-dict key.
    public init(wrappedValue: Value, key: String) {
        precondition(!key.isEmpty, "ModuleInfo: empty key")
        (value, self.key) = (wrappedValue, key)
    }

    /// A submodule with an explicit state-dict key, assigned later: `_auxLogits.wrappedValue = …` in the initializer.
    public init(key: String) {
        precondition(!key.isEmpty, "ModuleInfo: empty key")
        self.key = key
    }

    var role: MemberRole { .module }
    var memberValue: Any? { value.map { $0 as Any } }
}

/// One stored property of a module that holds state, as the walk found it.
struct Member {
    /// A plain property's value, read once (plain properties are the module's constants), or a
    /// wrapper, whose value is read on every walk.
    enum Source {
        case tensor(Tensor)
        case module(Module)
        case modules([Module])
        case wrapper(any KeyedMember)
    }

    var key: String
    var role: MemberRole
    var source: Source

    /// The tensor now, for a parameter or buffer; nil when absent (a nil optional, an unassigned wrapper).
    var tensor: Tensor? {
        switch source {
        case .tensor(let t): t
        case .wrapper(let w): w.memberValue as? Tensor
        case .module, .modules: nil
        }
    }

    /// The submodules now, keyed: one for a module, `key.i` for an array; none when absent.
    func modules(into out: inout [(String, Module)]) {
        switch source {
        case .module(let m): out.append((key, m))
        case .modules(let list): for (i, m) in list.enumerated() { out.append(("\(key).\(i)", m)) }
        case .wrapper(let w):
            guard let value = w.memberValue else { return }
            if let m = value as? Module {
                out.append((key, m))
            } else if let list = value as? [Module] {
                for (i, m) in list.enumerated() { out.append(("\(key).\(i)", m)) }
            }
        case .tensor: return
        }
    }
}

/// Serializes the first walk of each module (building its member list); later walks take it only
/// to read the list.
private let memberCacheLock = PlatformLock()

/// A building block of a network: holds parameters, buffers and submodules, and maps
/// an input tensor to an output.
///
/// Parameters, buffers and submodules are found by reflection over stored properties,
/// in declaration order, so subclasses keep no lists by hand:
/// - a `Tensor` (or `Tensor?`) property is a parameter;
/// - a `@Buffer var name: Tensor` property is a buffer;
/// - a `Module` (or `Module?`, `[Module]`) property is a submodule (array elements are keyed 0, 1, …).
///
/// Keys are dotted paths, PyTorch's: `layer1.0.conv1.weight`. A property's key is its name, or the
/// key its wrapper declares where torchvision's name is not a Swift name, as mlx-swift does:
/// `@Buffer(key: "running_mean") var runningMean` (``Buffer``), `@ModuleInfo(key: "Mixed_5b") var mixed5b`
/// (``ModuleInfo``), `@ParameterInfo(key: "cls_token") var classToken` (``ParameterInfo``). State dicts thus move between Strata and PyTorch unchanged
/// while the Swift code keeps Swift names.
///
/// The reflection runs once per module: the first walk records which properties hold state and
/// their keys, and later walks reuse that list. Plain properties are read at that first walk (they
/// are constants: declare them with `let`); a property wrapper is read on every walk, so a
/// submodule or tensor that is reassigned later (a swapped head, a replaced layer) belongs in
/// `@ModuleInfo`, `@ParameterInfo` or `@Buffer`. Two properties with one key stop the first walk
/// (a programming error).
open class Module {
    /// Whether the module behaves as in training (batch statistics, dropout active).
    public private(set) var training = true

    /// The stored properties that hold state, found by the first walk (see ``Module``).
    private var memberCache: [Member]?

    public init() {}

    /// What the module computes. Subclasses override this; callers use ``Module/callAsFunction(_:)``.
    open func forward(_ input: Tensor) -> Tensor {
        preconditionFailure("\(type(of: self)) does not implement forward(_:)")
    }

    /// Runs the module (and reports it to an active ``ModuleTrace``, e.g. for summaries or to capture activations).
    public final func callAsFunction(_ input: Tensor) -> Tensor {
        guard let trace = ModuleTrace.active else { return forward(input) }
        trace.enter(self)
        // The trace may replace the output (``ModuleTrace/replacingOutputs(_:during:)``).
        return trace.exit(self, input: input, output: forward(input))
    }

    /// Multiply-accumulates this module performs itself (not its children) for one
    /// forward pass that maps `input` to `output` (whole batch). Conv and linear layers override it.
    open func macs(input: [Int], output: [Int]) -> Int { 0 }

    /// A short description of the module's settings, printed by summaries (`Conv2d(3, 64, kernel 7, stride 2)`).
    open var summaryDescription: String { String(describing: type(of: self)) }

    // MARK: Reflection

    /// Direct submodules with their keys. Containers override this.
    open func namedChildren() -> [(String, Module)] {
        var out: [(String, Module)] = []
        for member in members where member.role == .module { member.modules(into: &out) }
        return out
    }

    /// This module's own parameters (not its children's).
    open func namedLocalParameters() -> [(String, Tensor)] { localTensors(.parameter) }

    /// This module's own buffers (not its children's).
    open func namedLocalBuffers() -> [(String, Tensor)] { localTensors(.buffer) }

    private func localTensors(_ role: MemberRole) -> [(String, Tensor)] {
        var out: [(String, Tensor)] = []
        for member in members where member.role == role {
            if let t = member.tensor { out.append((member.key, t)) }
        }
        return out
    }

    /// The stored properties that hold state, in declaration order (base class first): reflected
    /// at the first call, then the cached list.
    final var members: [Member] {
        memberCacheLock.lock()
        defer { memberCacheLock.unlock() }
        if let cached = memberCache { return cached }
        let found = reflectMembers()
        memberCache = found
        return found
    }

    /// Reflects over the stored properties of every class in the hierarchy below `Module`, base
    /// class first, without the cache. Plain properties keep their current values.
    func reflectMembers() -> [Member] {
        var mirrors: [Mirror] = []
        var m: Mirror? = Mirror(reflecting: self)
        while let current = m, current.subjectType != Module.self {
            mirrors.append(current)
            m = current.superclassMirror
        }
        var out: [Member] = []
        for mirror in mirrors.reversed() {
            for child in mirror.children {
                guard let label = child.label, !label.hasPrefix("$__lazy_storage_$_") else { continue }
                if let wrapper = child.value as? any KeyedMember {
                    // A wrapper's storage is `_name`; its key is the declared one or `name`.
                    out.append(
                        Member(
                            key: wrapper.key ?? String(label.dropFirst(label.hasPrefix("_") ? 1 : 0)),
                            role: wrapper.role, source: .wrapper(wrapper)))
                } else if let t = child.value as? Tensor {
                    out.append(Member(key: label, role: .parameter, source: .tensor(t)))
                } else if let m = child.value as? Module {
                    out.append(Member(key: label, role: .module, source: .module(m)))
                } else if let list = child.value as? [Module] {
                    out.append(Member(key: label, role: .module, source: .modules(list)))
                }
            }
        }
        var seen = Set<String>()
        for member in out where !seen.insert(member.key).inserted {
            preconditionFailure("\(type(of: self)): two properties have the state-dict key '\(member.key)'")
        }
        return out
    }

    /// Forgets the cached member lists of this module and every submodule, so that the next walk
    /// reflects afresh (tests compare the cached walk with a fresh one).
    package func clearMemberCaches() {
        for (_, m) in namedModules() {
            memberCacheLock.lock()
            m.memberCache = nil
            memberCacheLock.unlock()
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
