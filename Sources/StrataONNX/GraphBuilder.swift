import Foundation
import StrataNN
import StrataTensor

/// A value of the graph being built: its ONNX name and its shape with a batch of one
/// (the batch dimension is written as the export's batch, fixed or symbolic, at the end).
struct GraphValue {
    let name: String
    let shape: [Int]
}

/// Collects nodes and initializers of an ONNX graph, naming values uniquely.
final class GraphBuilder {
    private(set) var nodes: [Onnx_NodeProto] = []
    private(set) var initializers: [Onnx_TensorProto] = []
    private var initializerNames: Set<String> = []
    private var usedNames: Set<String> = []
    private var constantCount = 0

    /// A fresh value name based on `base` ("layer1.0.conv1" → "layer1.0.conv1", then "layer1.0.conv1_1", …).
    func uniqueName(_ base: String) -> String {
        let stem = base.isEmpty ? "value" : base
        var name = stem
        var i = 0
        while usedNames.contains(name) {
            i += 1
            name = "\(stem)_\(i)"
        }
        usedNames.insert(name)
        return name
    }

    /// Reserves a name used outside the builder's own naming (the graph input).
    func reserve(_ name: String) { usedNames.insert(name) }

    /// Adds a node with one output and returns the output's name.
    @discardableResult
    func node(
        _ opType: String, inputs: [String], name: String, attributes: [Onnx_AttributeProto] = [],
        output: String? = nil
    ) -> String {
        let out = output ?? uniqueName(name)
        var n = Onnx_NodeProto()
        n.opType = opType
        n.name = out
        n.input = inputs
        n.output = [out]
        n.attribute = attributes
        nodes.append(n)
        return out
    }

    /// Adds `tensor` (float32, little-endian raw data) as an initializer named `name`, once.
    @discardableResult
    func initializer(_ name: String, _ tensor: Tensor) -> String {
        guard initializerNames.insert(name).inserted else { return name }
        usedNames.insert(name)
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = tensor.shape.map(Int64.init)
        t.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        t.rawData = littleEndianBytes(tensor.floats)
        initializers.append(t)
        return name
    }

    /// A `Constant` node holding int64 values of shape `dims` (Slice's and Pad's index inputs):
    /// constants, not initializers, so initializers are exactly the model's weights.
    func constantInt64(_ values: [Int64], dims: [Int]? = nil, name: String) -> String {
        var t = Onnx_TensorProto()
        t.dims = (dims ?? [values.count]).map(Int64.init)
        t.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
        var data = Data(capacity: values.count * 8)
        for v in values { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        t.rawData = data
        return node("Constant", inputs: [], name: name, attributes: [.tensor("value", t)])
    }

    /// A `Constant` node holding one float32 scalar.
    func constantFloat(_ value: Float, name: String) -> String {
        var t = Onnx_TensorProto()
        t.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        t.rawData = littleEndianBytes([value])
        return node("Constant", inputs: [], name: name, attributes: [.tensor("value", t)])
    }
}

/// Float32 values as little-endian bytes (ONNX's raw_data layout on every host).
func littleEndianBytes(_ values: [Float]) -> Data {
    #if _endian(little)
        return values.withUnsafeBytes { Data($0) }
    #else
        var data = Data(capacity: values.count * 4)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        return data
    #endif
}

extension Onnx_AttributeProto {
    static func int(_ name: String, _ value: Int) -> Self {
        var a = Self()
        a.name = name
        a.type = .int
        a.i = Int64(value)
        return a
    }
    static func ints(_ name: String, _ values: [Int]) -> Self {
        var a = Self()
        a.name = name
        a.type = .ints
        a.ints = values.map(Int64.init)
        return a
    }
    static func float(_ name: String, _ value: Double) -> Self {
        var a = Self()
        a.name = name
        a.type = .float
        a.f = Float(value)
        return a
    }
    static func tensor(_ name: String, _ value: Onnx_TensorProto) -> Self {
        var a = Self()
        a.name = name
        a.type = .tensor
        a.t = value
        return a
    }
}
