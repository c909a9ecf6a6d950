import Foundation
import StrataModels
import StrataNN
import StrataTensor
import StrataTestSupport

/// The committed fixtures made by Scripts/make_zoo_fixtures.py (see its docstring).
enum ZooFixtures {
    static func path(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)").path
    }

    static func load<T: Decodable>(_ type: T.Type, _ name: String) -> T {
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path(name)))
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            fatalError("cannot read fixture \(name): \(error)")
        }
    }

    static let stateDicts = load(StateDictFixture.self, "state_dicts.json")
    static let parity = load(ParityFixture.self, "parity.json")
    static let training = load(TrainingFixture.self, "training.json")
}

/// A flat row-major tensor.
struct TensorFixture: Decodable {
    let shape: [Int]
    let data: [Double]
}

struct StateDictFixture: Decodable {
    struct Model: Decodable {
        let parameters: Int
        let keys: [Entry]
        let macs: Int
        let input: [Int]
    }

    /// `[key, [d0, d1, …]]`.
    struct Entry: Decodable, Equatable {
        let key: String
        let shape: [Int]

        init(key: String, shape: [Int]) { (self.key, self.shape) = (key, shape) }

        init(from decoder: Decoder) throws {
            var c = try decoder.unkeyedContainer()
            key = try c.decode(String.self)
            shape = try c.decode([Int].self)
        }
    }

    let torch: String
    let models: [String: Model]
}

struct ParityFixture: Decodable {
    struct HashCheck: Decodable {
        let k0_u_i0_1_2: [Double]
        let k0_x_i0_1_2: [UInt32]
        let k5_u_i7: Double
        let k3_u_i100000000: Double
        let input_k: Int
        let input_s_i0_1_2: [Double]
    }

    struct Case: Decodable, Sendable, CustomStringConvertible {
        let name: String
        let model: String
        let classes: Int
        let heavy: Bool
        let input: [Int]
        let state_entries: Int
        let input_head: [Double]
        let logits: TensorFixture
        var description: String { name }
    }

    let hash_check: HashCheck
    let cases: [Case]
}

struct TrainingFixture: Decodable {
    struct RunningStats: Decodable {
        let running_mean: TensorFixture
        let running_var: TensorFixture
        let num_batches_tracked: Int
    }

    struct Case: Decodable {
        let name: String
        let model: String
        let classes: Int
        let input: [Int]
        let labels: [Int]
        let loss: Double
        let logits: TensorFixture
        let gradients: [String: TensorFixture]
        let running_stats: [String: RunningStats]
    }

    let cases: [Case]
}

/// Builds a fixture's model by its name there: a registry name, or one of the two the registry
/// spells differently (`googlenet_noaux`, `densenet_bc_40`).
func makeFixtureModel(_ name: String, classes: Int) throws -> Module {
    switch name {
    case "googlenet_noaux": return GoogLeNet(classes: classes, auxiliaryClassifiers: false)
    case "densenet_bc_40": return DenseNet(cifarDepth: 40, growthRate: 12, classes: classes)
    default: return try Models.make(name, classes: classes)
    }
}

/// Builds a model without initializing it and fills every state-dict entry with the fixtures'
/// deterministic values, in `dtype`.
func makeHashModel(_ name: String, classes: Int, dtype: DType) throws -> Module {
    let model = try Init.withoutInitialization { try makeFixtureModel(name, classes: classes) }
    model.converted(to: dtype)
    try HashWeights.fill(model.stateDict())
    return model
}

/// max |a − b| over two equally long arrays.
func maxAbsDifference(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "maxAbsDifference: \(a.count) vs \(b.count) values")
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// max |x|.
func maxAbs(_ a: [Double]) -> Double { a.reduce(0) { max($0, abs($1)) } }
