import Foundation
import StrataNN
import StrataTensor
import SwiftProtobuf

/// Writes Strata models as ONNX (opset 17), for ONNX Runtime, TensorRT, OpenVINO and the like.
///
/// The model is lowered in eval mode, module by module (see `Lowering`): batch norm becomes
/// BatchNormalization with the running statistics, dropout disappears, linear layers are Gemm.
/// The weights become initializers named by their state-dict keys (float32, little-endian raw
/// data); the graph reads `input` [N, C, H, W] and writes `logits` [N, classes].
public enum ONNXExport {
    /// The opset the graphs use (operators as of ONNX 1.12; ONNX Runtime 1.12 or newer runs them).
    public static let opset = 17
    /// The IR version matching ``opset``.
    public static let irVersion: Int64 = 8
    public static let inputName = "input"
    public static let outputName = "logits"
    /// The symbolic batch dimension of a dynamic-batch export.
    public static let batchDimension = "batch"

    /// The batch dimension of the graph's input and output.
    public enum Batch: Equatable, Sendable {
        case fixed(Int)
        /// A symbolic dimension named ``batchDimension``.
        case dynamic
    }

    /// What an export wrote.
    public struct Result {
        /// The serialized ModelProto.
        public let data: Data
        public let nodeCount: Int
        public let initializerCount: Int
        /// Scalars in the initializers.
        public let weightCount: Int
        /// The output shape with a batch of one.
        public let outputShape: [Int]
    }

    /// Lowers `model` (switched to eval mode, then back) for inputs of shape `input` ([C, H, W]).
    ///
    /// - Throws: ``ONNXExportError`` for a module without a lowering, or an input size that the
    ///   model cannot take or ONNX cannot express (uneven adaptive pooling).
    public static func export(
        _ model: Module, input: [Int], batch: Batch = .fixed(1), modelName: String = "strata",
        producerVersion: String = ""
    ) throws -> Result {
        precondition(input.count == 3, "ONNXExport: input is [C, H, W], got \(input)")
        if case .fixed(let n) = batch { precondition(n >= 1, "ONNXExport: batch must be positive, got \(n)") }
        let wasTraining = model.training
        model.eval()
        defer { model.train(wasTraining) }

        let lowering = Lowering(model: model)
        let builder = lowering.builder
        builder.reserve(inputName)
        let output = try lowering.lower(model, GraphValue(name: inputName, shape: [1] + input))

        // Rename the last value "logits" (an Identity when it is the input itself or an initializer).
        var nodes = builder.nodes
        if let i = nodes.lastIndex(where: { $0.output == [output.name] }) {
            let old = output.name
            nodes[i].output = [outputName]
            if nodes[i].name == old { nodes[i].name = outputName }
            for j in nodes.indices { nodes[j].input = nodes[j].input.map { $0 == old ? outputName : $0 } }
        } else {
            var n = Onnx_NodeProto()
            n.opType = "Identity"
            n.name = outputName
            n.input = [output.name]
            n.output = [outputName]
            nodes.append(n)
        }

        var graph = Onnx_GraphProto()
        graph.name = modelName
        graph.node = nodes
        graph.initializer = builder.initializers
        graph.input = [valueInfo(inputName, [1] + input, batch: batch)]
        graph.output = [valueInfo(outputName, output.shape, batch: batch)]

        var proto = Onnx_ModelProto()
        proto.irVersion = irVersion
        var opsetID = Onnx_OperatorSetIdProto()
        opsetID.domain = ""
        opsetID.version = Int64(opset)
        proto.opsetImport = [opsetID]
        proto.producerName = "strata"
        proto.producerVersion = producerVersion
        proto.graph = graph

        let data = try proto.serializedData()
        return Result(
            data: data, nodeCount: nodes.count, initializerCount: builder.initializers.count,
            weightCount: builder.initializers.reduce(0) { $0 + $1.dims.reduce(1) { $0 * Int($1) } },
            outputShape: output.shape)
    }

    private static func valueInfo(_ name: String, _ shape: [Int], batch: Batch) -> Onnx_ValueInfoProto {
        var tensorType = Onnx_TypeProto.Tensor()
        tensorType.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        var shapeProto = Onnx_TensorShapeProto()
        shapeProto.dim = shape.enumerated().map { i, d in
            var dim = Onnx_TensorShapeProto.Dimension()
            switch (i, batch) {
            case (0, .dynamic): dim.dimParam = batchDimension
            case (0, .fixed(let n)): dim.dimValue = Int64(n)
            default: dim.dimValue = Int64(d)
            }
            return dim
        }
        tensorType.shape = shapeProto
        var type = Onnx_TypeProto()
        type.tensorType = tensorType
        var info = Onnx_ValueInfoProto()
        info.name = name
        info.type = type
        return info
    }
}
