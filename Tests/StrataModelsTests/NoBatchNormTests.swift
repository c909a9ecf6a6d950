import StrataModels
import StrataNN
import StrataTensor
import Testing

/// The CIFAR nets without batch norm (`resnetN_nobn`, `plainN_nobn`): no BatchNorm2d anywhere, every
/// convolution biased, the same weight layers as the nets with it, and the original keys unchanged.
@Suite struct NoBatchNormTests {
    @Test(arguments: ["resnet20", "plain20"])
    func sameLayersWithoutBatchNorm(_ name: String) throws {
        let with = try Models.make(name)
        let without = try Models.make(name + "_nobn")
        let modules = without.namedModules()
        #expect(!modules.contains { $0.1 is BatchNorm2d })
        #expect(with.namedModules().contains { $0.1 is BatchNorm2d })
        let convs = modules.compactMap { $0.1 as? Conv2d }
        #expect(convs.count == 19 && convs.allSatisfy { $0.bias != nil })
        // Weight tensors: the same keys and shapes; parameters differ by BN's γ, β minus the conv biases.
        func weights(_ m: Module) -> [String: [Int]] {
            Dictionary(
                uniqueKeysWithValues: m.namedParameters().filter { $0.0.hasSuffix("weight") && $0.1.rank > 1 }.map {
                    ($0.0, $0.1.shape)
                })
        }
        #expect(weights(with) == weights(without))
        let bnParameters = with.namedModules().compactMap { $0.1 as? BatchNorm2d }.reduce(0) { $0 + $1.parameterCount }
        let biases = convs.reduce(0) { $0 + ($1.bias?.count ?? 0) }
        #expect(without.parameterCount == with.parameterCount - bnParameters + biases)
        let y = without(Tensor.ones([2, 3, 8, 8]))
        #expect(y.shape == [2, 10])
        #expect(y.floats.allSatisfy { $0.isFinite })
    }

    @Test func registryKeepsExistingNames() throws {
        #expect(try Models.entry("plain56_nobn").family.contains("without batch norm"))
        #expect(try Models.entry("resnet110_nobn").input == [3, 32, 32])
        #expect(try Models.make("plain56").namedModules().contains { $0.1 is BatchNorm2d })
    }
}
