import Foundation
import StrataTensor

/// A tensor stored in a fixture file: shape and row-major values (labels are stored as integers).
public struct FixtureTensor: Decodable, Sendable {
    public let shape: [Int]
    public let data: [Double]

    /// The values as a tensor of `dtype`.
    public func tensor(_ dtype: DType = .float64) -> Tensor { Tensor(data, shape: shape).to(dtype) }
    /// The values as integers (for labels).
    public var ints: [Int] { data.map { Int($0) } }
}

/// A parameter value in a fixture case: a bool, a number, a string or a list of them.
public enum FixtureValue: Decodable, Sendable, Equatable {
    case bool(Bool)
    case number(Double)
    case string(String)
    case list([FixtureValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let d = try? c.decode(Double.self) {
            self = .number(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else {
            self = .list(try c.decode([FixtureValue].self))
        }
    }
}

/// One case of `ops.json` (format: see `Scripts/make_op_fixtures.py`).
public struct OpFixture: Decodable, Sendable, CustomStringConvertible {
    public let name: String
    public let op: String
    public let params: [String: FixtureValue]
    public let inputs: [String: FixtureTensor]
    public let outputs: [String: FixtureTensor]

    public var description: String { name }

    public func input(_ key: String) -> FixtureTensor {
        guard let t = inputs[key] else { preconditionFailure("\(name): no input '\(key)'") }
        return t
    }

    public func output(_ key: String) -> FixtureTensor {
        guard let t = outputs[key] else { preconditionFailure("\(name): no output '\(key)'") }
        return t
    }

    public func double(_ key: String) -> Double {
        guard case .number(let v)? = params[key] else { preconditionFailure("\(name): no number param '\(key)'") }
        return v
    }

    public func int(_ key: String) -> Int { Int(double(key)) }

    public func bool(_ key: String) -> Bool {
        guard case .bool(let v)? = params[key] else { preconditionFailure("\(name): no bool param '\(key)'") }
        return v
    }

    public func string(_ key: String) -> String {
        guard case .string(let v)? = params[key] else { preconditionFailure("\(name): no string param '\(key)'") }
        return v
    }

    public func ints(_ key: String) -> [Int] {
        guard case .list(let v)? = params[key] else { preconditionFailure("\(name): no list param '\(key)'") }
        return v.map {
            guard case .number(let d) = $0 else { preconditionFailure("\(name): '\(key)' holds a non-number") }
            return Int(d)
        }
    }
}

private struct OpFixtureFile: Decodable {
    let cases: [OpFixture]
}

public enum FixtureError: Error, CustomStringConvertible {
    case unreadable(path: String, underlying: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let underlying): return "cannot read fixture \(path): \(underlying)"
        }
    }
}

/// The path of `name` in the `Fixtures` folder next to the calling source file.
///
/// Built from the caller's `#filePath`, so tests find their fixtures from any checkout and
/// any working directory, without bundle resources.
public func fixturePath(_ name: String, filePath: String = #filePath) -> String {
    URL(fileURLWithPath: filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures").appendingPathComponent(name).path
}

/// Loads the op cases of a PyTorch reference file (by default `Fixtures/ops.json` next to the
/// calling test file), optionally only those of one `op`.
public func loadOpFixtures(_ name: String = "ops.json", op: String? = nil, filePath: String = #filePath) throws
    -> [OpFixture]
{
    let path = fixturePath(name, filePath: filePath)
    let cases: [OpFixture]
    do {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        cases = try JSONDecoder().decode(OpFixtureFile.self, from: data).cases
    } catch {
        throw FixtureError.unreadable(path: path, underlying: "\(error)")
    }
    return op.map { op in cases.filter { $0.op == op } } ?? cases
}
