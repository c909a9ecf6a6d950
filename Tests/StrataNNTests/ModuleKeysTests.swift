import StrataNN
import StrataTensor
import Testing

// Module keys the Swift way (issue 12, item 3): properties with Swift names, explicit state-dict keys
// through @ModuleInfo / @ParameterInfo / @Buffer, and the cached reflection walk.

/// A base class with state of its own: the walk visits base-class properties first.
private class KeyedBase: Module {
    let stem = Conv2d(1, 2, kernel: 1)
    @Buffer var counter: Tensor = .zeros([]) // unkeyed wrapper: keyed by the property name
}

private final class KeyedNet: KeyedBase {
    @ParameterInfo(key: "cls_token") var classToken: Tensor = parameter(.ones([1, 2]))
    let scale = parameter(.ones([2]))
    let absent: Tensor? = nil
    @ParameterInfo(key: "pos_embed") var positionEmbedding: Tensor?
    @ModuleInfo(key: "Mixed_5b") var mixed5b = Linear(2, 3)
    @ModuleInfo(key: "AuxLogits") var auxLogits: Linear?
    let bn = BatchNorm2d(2)
    @ModuleInfo(key: "blocks") var stages: [Module] = [Linear(3, 3), Identity(), Linear(3, 4, bias: false)]
    let head = Sequential(Linear(4, 4), ReLU())
    @Buffer(key: "running_stat") var runningStat: Tensor

    init(auxiliary: Bool) {
        _positionEmbedding.wrappedValue = nil
        _auxLogits.wrappedValue = auxiliary ? Linear(3, 5) : nil
        _runningStat.wrappedValue = .full([2], 0.5)
        super.init()
    }
}

/// `@Buffer` as call sites used it before keys: declared without a value, assigned in the initializer.
private final class UnkeyedBuffers: Module {
    @Buffer var steps: Tensor
    let weight = parameter(.ones([2]))

    override init() {
        steps = .zeros([])
        super.init()
    }
}

/// Two properties with one key: a programming error the first walk reports.
private final class DuplicateKeys: Module {
    let weight = parameter(.ones([1]))
    @ParameterInfo(key: "weight") var other: Tensor = parameter(.ones([1]))
}

@Suite struct ModuleKeysTests {
    static let keysWithoutAuxiliary = [
        "cls_token", "scale", "counter", "running_stat",
        "stem.weight", "stem.bias", "Mixed_5b.weight", "Mixed_5b.bias",
        "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked",
        "blocks.0.weight", "blocks.0.bias", "blocks.2.weight",
        "head.0.weight", "head.0.bias",
    ]

    @Test func keyedWrappersExposeTheirExplicitKeys() {
        let net = KeyedNet(auxiliary: false)
        // PyTorch's order: the module's parameters, its buffers, then its children; each in declaration order,
        // base class first.
        #expect(net.stateDict().map(\.key) == Self.keysWithoutAuxiliary)
        #expect(net.namedLocalParameters().map(\.0) == ["cls_token", "scale"])
        #expect(net.namedLocalBuffers().map(\.0) == ["counter", "running_stat"])
        #expect(net.namedChildren().map(\.0) == ["stem", "Mixed_5b", "bn", "blocks.0", "blocks.1", "blocks.2", "head"])
        let state = Dictionary(uniqueKeysWithValues: net.stateDict().map { ($0.key, $0.tensor) })
        #expect(state["cls_token"] === net.classToken)
        #expect(state["running_stat"] === net.runningStat)
        #expect(state["bn.running_mean"] === net.bn.runningMean)
        #expect(state["bn.running_var"] === net.bn.runningVar)
        #expect(state["bn.num_batches_tracked"] === net.bn.numBatchesTracked)
        #expect(net.namedParameters().map(\.0).contains("cls_token"))
        #expect(!net.namedParameters().map(\.0).contains("running_stat"))
    }

    @Test func batchNormKeepsPyTorchsBufferKeys() {
        let bn = BatchNorm2d(3)
        #expect(bn.stateDict().map(\.key) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"])
        let buffers = [bn.runningMean, bn.runningVar, bn.numBatchesTracked]
        #expect(bn.namedLocalBuffers().map(\.1).elementsEqual(buffers, by: ===))
    }

    @Test func unkeyedBuffersKeepThePropertyName() {
        let m = UnkeyedBuffers()
        #expect(m.stateDict().map(\.key) == ["weight", "steps"])
        m.steps = .ones([])
        #expect(m.namedBuffers().first?.1 === m.steps)
    }

    @Test func nilOptionalKeyedSubmoduleIsSkipped() throws {
        let without = KeyedNet(auxiliary: false)
        #expect(!without.stateDict().contains { $0.key.hasPrefix("AuxLogits") || $0.key == "pos_embed" })
        let with = KeyedNet(auxiliary: true)
        let keys = with.stateDict().map(\.key)
        #expect(keys.filter { $0.hasPrefix("AuxLogits.") } == ["AuxLogits.weight", "AuxLogits.bias"])
        // The auxiliary head's keys sit where the property is declared.
        #expect(keys.firstIndex(of: "AuxLogits.weight")! == keys.firstIndex(of: "Mixed_5b.bias")! + 1)
        // A state dict with the head does not load strictly into the model without it, and names it.
        let full = Dictionary(uniqueKeysWithValues: with.stateDict().map { ($0.key, $0.tensor) })
        #expect(throws: StateDictError.self) { try without.loadStateDict(full) }
        let report = try without.loadStateDict(full, strict: false)
        #expect(report.unexpectedKeys == ["AuxLogits.bias", "AuxLogits.weight"])
    }

    @Test func reassignedKeyedPropertiesAreSeenByTheNextWalk() throws {
        let net = KeyedNet(auxiliary: false)
        _ = net.stateDict() // fills the cache
        let token = parameter(.full([1, 2], 7))
        let mixed = Linear(2, 3, bias: false)
        let stat = Tensor.full([2], 3)
        net.classToken = token
        net.mixed5b = mixed
        net.runningStat = stat
        net.positionEmbedding = parameter(.zeros([2]))
        net.auxLogits = Linear(3, 5)
        net.stages = [Linear(3, 4)]
        let state = net.stateDict()
        let byKey = Dictionary(uniqueKeysWithValues: state.map { ($0.key, $0.tensor) })
        #expect(byKey["cls_token"] === token)
        #expect(byKey["Mixed_5b.weight"] === mixed.weight)
        #expect(byKey["Mixed_5b.bias"] == nil)
        #expect(byKey["running_stat"] === stat)
        #expect(byKey["pos_embed"] === net.positionEmbedding)
        #expect(byKey["AuxLogits.weight"] != nil)
        #expect(state.map(\.key).filter { $0.hasPrefix("blocks.") } == ["blocks.0.weight", "blocks.0.bias"])
        #expect(net.parameters().contains { $0 === token })

        // Loading goes into the tensors now in place.
        try net.loadStateDict(["cls_token": .full([1, 2], 2)], strict: false)
        #expect(token.scalars(as: Float.self) == [2, 2])

        // Back to nil: skipped again.
        net.auxLogits = nil
        net.positionEmbedding = nil
        #expect(!net.stateDict().contains { $0.key.hasPrefix("AuxLogits") || $0.key == "pos_embed" })
    }

    @Test func cachedWalkEqualsAFreshReflection() {
        let net = KeyedNet(auxiliary: true)
        let first = net.stateDict()
        #expect(first.map(\.key) == net.stateDict().map(\.key))
        net.mixed5b = Linear(2, 3)
        net.auxLogits = nil
        let cached = net.stateDict()
        let cachedModules = net.namedModules()
        net.clearMemberCaches()
        let fresh = net.stateDict()
        let freshModules = net.namedModules()
        #expect(cached.map(\.key) == fresh.map(\.key))
        #expect(cached.map(\.tensor).elementsEqual(fresh.map(\.tensor), by: ===))
        #expect(cachedModules.map(\.0) == freshModules.map(\.0))
        #expect(cachedModules.map(\.1).elementsEqual(freshModules.map(\.1), by: ===))
    }

    @Test func twoPropertiesWithOneKeyStopTheFirstWalk() async {
        await #expect(processExitsWith: .failure) {
            _ = DuplicateKeys().stateDict()
        }
    }
}
