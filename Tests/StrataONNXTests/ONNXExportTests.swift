import Foundation
import StrataModels
import StrataNN
import StrataTensor
import Testing

@testable import StrataONNX

/// The structure of exported ONNX models, read back with the generated protobuf types.
/// (Numbers are checked against ONNX Runtime by Scripts/check_onnx.py.)
@Suite struct ONNXExportTests {
    static func exported(_ name: String, input: [Int]? = nil, batch: ONNXExport.Batch = .fixed(1))
        throws -> (model: Module, proto: Onnx_ModelProto, result: ONNXExport.Result)
    {
        GlobalRandom.seed(0)
        let model = try Models.make(name, forWeightKeys: [String]())
        let result = try ONNXExport.export(
            model, input: input ?? Models.entry(name).input, batch: batch, modelName: name)
        return (model, try Onnx_ModelProto(serializedBytes: result.data), result)
    }

    /// The state dict less what eval mode does not read (batch norm's num_batches_tracked).
    static func usedState(_ model: Module) -> [(key: String, tensor: Tensor)] {
        model.stateDict().filter { !$0.key.hasSuffix("num_batches_tracked") }
    }

    static func dims(_ info: Onnx_ValueInfoProto) -> [String] {
        info.type.tensorType.shape.dim.map { d in
            switch d.value {
            case .dimValue(let v): return "\(v)"
            case .dimParam(let p): return p
            case nil: return "?"
            }
        }
    }

    static func count(_ proto: Onnx_ModelProto, _ op: String) -> Int {
        proto.graph.node.filter { $0.opType == op }.count
    }

    /// Every node input is the graph input, an initializer or an earlier node's output (topological order).
    static func checkTopologicalOrder(_ proto: Onnx_ModelProto) {
        var known = Set(proto.graph.input.map(\.name) + proto.graph.initializer.map(\.name))
        for node in proto.graph.node {
            for input in node.input where !input.isEmpty {
                #expect(known.contains(input), "\(node.name) reads \(input) before it exists")
            }
            for output in node.output { #expect(known.insert(output).inserted, "\(output) written twice") }
        }
        #expect(known.contains(ONNXExport.outputName))
    }

    @Test func lenet5() throws {
        let (model, proto, result) = try Self.exported("lenet5")
        #expect(proto.irVersion == ONNXExport.irVersion)
        #expect(proto.opsetImport.map(\.version) == [Int64(ONNXExport.opset)])
        #expect(proto.opsetImport.map(\.domain) == [""])
        #expect(
            proto.graph.node.map(\.opType) == [
                "Conv", "Tanh", "AveragePool", "Conv", "Tanh", "AveragePool", "Flatten",
                "Gemm", "Tanh", "Gemm", "Tanh", "Gemm",
            ])
        #expect(proto.graph.input.map(\.name) == ["input"])
        #expect(proto.graph.output.map(\.name) == ["logits"])
        #expect(Self.dims(proto.graph.input[0]) == ["1", "1", "32", "32"])
        #expect(Self.dims(proto.graph.output[0]) == ["1", "10"])
        #expect(result.outputShape == [1, 10])
        Self.checkTopologicalOrder(proto)

        // Initializers: the state dict, by key, as little-endian float32 raw data.
        let state = Self.usedState(model)
        #expect(proto.graph.initializer.count == state.count)
        #expect(Set(proto.graph.initializer.map(\.name)) == Set(state.map(\.key)))
        #expect(result.weightCount == model.parameterCount)
        for t in proto.graph.initializer {
            let tensor = try #require(state.first { $0.key == t.name }?.tensor)
            #expect(t.dims == tensor.shape.map(Int64.init))
            #expect(t.dataType == Int32(Onnx_TensorProto.DataType.float.rawValue))
            let floats = t.rawData.withUnsafeBytes { raw in
                (0..<(raw.count / 4)).map {
                    Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)))
                }
            }
            #expect(floats == tensor.floats)
        }
        let conv = try #require(proto.graph.node.first { $0.opType == "Conv" })
        #expect(conv.input == ["input", "features.0.weight", "features.0.bias"])
        #expect(conv.attribute.first { $0.name == "kernel_shape" }?.ints == [5, 5])
    }

    @Test func resnet20OptionAShortcut() throws {
        let (model, proto, _) = try Self.exported("resnet20", batch: .dynamic)
        #expect(Self.dims(proto.graph.input[0]) == ["batch", "3", "32", "32"])
        #expect(Self.dims(proto.graph.output[0]) == ["batch", "10"])
        #expect(Self.count(proto, "Conv") == 19)
        #expect(Self.count(proto, "BatchNormalization") == 19)
        #expect(Self.count(proto, "Add") == 9)
        #expect(Self.count(proto, "Relu") == 19)
        // Two stages change shape: a strided Slice and a channel Pad each, with Constant index inputs.
        #expect(Self.count(proto, "Slice") == 2)
        #expect(Self.count(proto, "Pad") == 2)
        #expect(Self.count(proto, "Constant") == 2 * 4 + 2)
        #expect(Self.count(proto, "GlobalAveragePool") == 1)
        #expect(Self.count(proto, "Gemm") == 1)
        #expect(proto.graph.initializer.count == Self.usedState(model).count)
        let bn = try #require(proto.graph.node.first { $0.opType == "BatchNormalization" })
        #expect(bn.input.suffix(4) == ["bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var"])
        #expect(bn.attribute.first { $0.name == "epsilon" }?.f == 1e-5)
        let pad = try #require(proto.graph.node.first { $0.opType == "Pad" })
        let padsNode = try #require(proto.graph.node.first { $0.output == [pad.input[1]] })
        let pads = padsNode.attribute[0].t.rawData.withUnsafeBytes { raw in
            (0..<8).map { raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self) }
        }
        #expect(pads == [0, 8, 0, 0, 0, 8, 0, 0]) // 16 → 32 channels: 8 zeros before, 8 after
        Self.checkTopologicalOrder(proto)
    }

    @Test func denseNetBC() throws {
        let (model, proto, result) = try Self.exported("densenet_bc_16_k4", batch: .fixed(3))
        // Two layers in each of three blocks: a Concat before the second layer and one at the end of each block.
        #expect(Self.count(proto, "Concat") == 6)
        #expect(Self.count(proto, "Conv") == 1 + 3 * 2 * 2 + 2)
        #expect(Self.count(proto, "AveragePool") == 2)
        #expect(proto.graph.initializer.count == Self.usedState(model).count)
        #expect(Self.dims(proto.graph.output[0]) == ["3", "10"])
        #expect(result.outputShape == [1, 10])
        Self.checkTopologicalOrder(proto)
    }

    @Test func auxiliaryHeadsAndDropoutAreLeftOut() throws {
        let model = Init.withoutInitialization { GoogLeNet(classes: 5) } // with its two auxiliary heads
        model.train()
        let result = try ONNXExport.export(model, input: [3, 64, 64])
        let proto = try Onnx_ModelProto(serializedBytes: result.data)
        #expect(model.training) // the mode is restored
        let used = Self.usedState(model).filter { !$0.key.hasPrefix("aux") }
        #expect(proto.graph.initializer.count == used.count)
        #expect(!proto.graph.node.contains { $0.opType == "Dropout" })
        #expect(Self.count(proto, "Concat") == 9)
        #expect(Self.dims(proto.graph.output[0]) == ["1", "5"])
        let ceil = proto.graph.node.filter { $0.opType == "MaxPool" }.compactMap {
            $0.attribute.first { $0.name == "ceil_mode" }?.i
        }
        #expect(ceil.count == 13 && ceil.allSatisfy { $0 == 1 })
        Self.checkTopologicalOrder(proto)
    }

    @Test func alexnet2012GroupedConvolutionsAndLRN() throws {
        // The features only (the classifier's 58 M weights would make the test slow): Sequential lowers on its own.
        let model = Init.withoutInitialization { AlexNet(variant: .original2012, classes: 4) }
        let features = try #require(model.namedChildren().first { $0.0 == "features" }?.1)
        let proto = try Onnx_ModelProto(serializedBytes: ONNXExport.export(features, input: [3, 224, 224]).data)
        #expect(Self.dims(proto.graph.output[0]) == ["1", "256", "6", "6"])
        let groups = proto.graph.node.filter { $0.opType == "Conv" }.map {
            $0.attribute.first { $0.name == "group" }?.i
        }
        #expect(groups == [1, 2, 1, 2, 2])
        let lrn = proto.graph.node.filter { $0.opType == "LRN" }
        #expect(lrn.count == 2)
        #expect(lrn.first?.attribute.first { $0.name == "bias" }?.f == 2)
        #expect(lrn.first?.attribute.first { $0.name == "size" }?.i == 5)
    }

    @Test func unsupportedModulesAreRefused() throws {
        final class Custom: Module {
            let fc = Linear(3, 2)
            override func forward(_ x: Tensor) -> Tensor { fc(x.flattened()) * 2 }
        }
        #expect(throws: ONNXExportError.self) { try ONNXExport.export(Custom(), input: [3, 1, 1]) }
        // Uneven adaptive pooling: VGG's 7×7 pool on a 32×32 input's 1×1 feature map.
        let vgg = Init.withoutInitialization { VGG(depth: 11, classes: 10) }
        #expect(throws: ONNXExportError.self) { try ONNXExport.export(vgg, input: [3, 32, 32]) }
    }
}
