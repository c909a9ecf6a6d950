import StrataModels
import StrataNN
import StrataTensor

/// A model Strata cannot write as ONNX (a module type or setting without a lowering).
public struct ONNXExportError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Lowers a module tree to ONNX nodes, module by module, in eval mode.
///
/// Each layer of StrataNN maps to one ONNX operator (Conv, BatchNormalization, Relu, MaxPool, Gemm…).
/// The zoo's blocks, whose `forward` wires their children together (residual additions, concatenated
/// branches, the option-A shortcut, scaled residuals), each have a lowering here that writes the same
/// data flow; a module type without one is refused with an error naming it, so an export is never
/// silently wrong. `Scripts/check_onnx.py` compares ONNX Runtime's logits with `strata infer`'s.
final class Lowering {
    let builder = GraphBuilder()
    private let paths: [ObjectIdentifier: String]

    init(model: Module) {
        paths = Dictionary(model.namedModules().map { (ObjectIdentifier($0.1), $0.0) }, uniquingKeysWith: { a, _ in a })
    }

    private func path(_ m: Module) -> String { paths[ObjectIdentifier(m)] ?? "module" }
    private func key(_ m: Module, _ name: String) -> String {
        let p = path(m)
        return p.isEmpty ? name : "\(p).\(name)"
    }

    // MARK: Dispatch

    func lower(_ m: Module, _ x: GraphValue) throws -> GraphValue {
        switch m {
        // Layers
        case let c as Conv2d: return try conv(c, x)
        case let b as BatchNorm2d: return try batchNorm(b, x)
        case is ReLU: return unary("Relu", x, name: path(m))
        case is Tanh: return unary("Tanh", x, name: path(m))
        case is Identity, is Dropout: return x // dropout is the identity in eval mode
        case is Flatten: return flatten(x, name: path(m))
        case let p as MaxPool2d: return try pool("MaxPool", p.settings, x, name: path(m))
        case let p as AvgPool2d: return try pool("AveragePool", p.settings, x, name: path(m))
        case let p as AdaptiveAvgPool2d: return try adaptiveAvgPool(x, p.outputSize, name: path(m))
        case let l as Linear: return try linear(l, x)
        case let n as LocalResponseNorm: return try lrn(n, x)
        case let s as Sequential: return try s.layers.reduce(x) { try lower($1.module, $0) }

        // Whole models
        case is LeNet5: return try chain(m, x, ["features", "|flatten", "classifier"])
        case is AlexNet, is VGG: return try chain(m, x, ["features", "avgpool", "|flatten", "classifier"])
        case is ResNet:
            return try chain(
                m, x,
                [
                    "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "|flatten",
                    "fc",
                ])
        case is CIFARResNet:
            return try chain(m, x, ["conv1", "bn1", "relu", "layer1", "layer2", "layer3", "avgpool", "|flatten", "fc"])
        case is DenseNet: return try chain(m, x, ["features", "|relu", "|gap", "|flatten", "classifier"])
        case is GoogLeNet: // the auxiliary heads run only in training
            return try chain(
                m, x,
                [
                    "conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b", "maxpool3",
                    "inception4a", "inception4b", "inception4c", "inception4d", "inception4e", "maxpool4",
                    "inception5a", "inception5b", "avgpool", "|flatten", "dropout", "fc",
                ])
        case is InceptionV3:
            return try chain(
                m, x,
                [
                    "Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
                    "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
                    "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c", "avgpool", "dropout", "|flatten", "fc",
                ])
        case is InceptionV4: return try chain(m, x, ["features", "|gap", "|flatten", "last_linear"])
        case is InceptionResNetV2:
            return try chain(
                m, x,
                [
                    "conv2d_1a", "conv2d_2a", "conv2d_2b", "maxpool_3a", "conv2d_3b", "conv2d_4a", "maxpool_5a",
                    "mixed_5b", "repeat", "mixed_6a", "repeat_1", "mixed_7a", "repeat_2", "block8", "conv2d_7b",
                    "|gap", "|flatten", "classif",
                ])

        // Blocks
        case is BasicConv2d: return try chain(m, x, ["conv", "bn", "|relu"])
        case let b as BasicBlock: return try basicBlock(b, x)
        case is Bottleneck: return try bottleneck(m, x)
        case is DenseLayer: return try chain(m, x, ["norm1", "relu1", "conv1", "norm2", "relu2", "conv2"])
        case is Transition: return try chain(m, x, ["norm", "relu", "conv", "pool"])
        case is DenseBlock: return try denseBlock(m, x)
        case is InceptionModule: return try branches(m, x, ["branch1", "branch2", "branch3", "branch4"])
        case is InceptionA: return try inceptionV3A(m, x)
        case is InceptionB: return try inceptionV3B(m, x)
        case is InceptionC: return try inceptionV3C(m, x)
        case is InceptionD: return try inceptionV3D(m, x)
        case is InceptionE: return try inceptionV3E(m, x)
        case is InceptionV4.Mixed3a: return try branches(m, x, ["maxpool", "conv"])
        case is InceptionV4.Mixed4a: return try branches(m, x, ["branch0", "branch1"])
        case is InceptionV4.Mixed5a: return try branches(m, x, ["conv", "maxpool"])
        case is InceptionV4.InceptionA, is InceptionV4.InceptionB, is InceptionResNetV2.Mixed5b,
            is InceptionResNetV2.Mixed7a:
            return try branches(m, x, ["branch0", "branch1", "branch2", "branch3"])
        case is InceptionV4.ReductionA, is InceptionV4.ReductionB, is InceptionResNetV2.Mixed6a:
            return try branches(m, x, ["branch0", "branch1", "branch2"])
        case is InceptionV4.InceptionC: return try inceptionV4C(m, x)
        case is InceptionResNetV2.Block35: return try scaledResidual(m, x, ["branch0", "branch1", "branch2"])
        case is InceptionResNetV2.Block17, is InceptionResNetV2.Block8:
            return try scaledResidual(m, x, ["branch0", "branch1"])
        default:
            throw ONNXExportError(
                "ONNX export does not support \(String(reflecting: type(of: m))) (at '\(path(m))'): "
                    + "it has no lowering in StrataONNX/Lowering.swift")
        }
    }

    // MARK: Children

    private func child(_ m: Module, _ name: String) throws -> Module {
        guard let c = m.namedChildren().first(where: { $0.0 == name })?.1 else {
            throw ONNXExportError("ONNX export: \(type(of: m)) at '\(path(m))' has no submodule '\(name)'")
        }
        return c
    }

    /// A stored property of a block that is not a module (a scale, a flag), read by reflection.
    private func property<T>(_ m: Module, _ name: String, as _: T.Type) throws -> T {
        var mirror: Mirror? = Mirror(reflecting: m)
        while let current = mirror {
            if let value = current.children.first(where: { $0.label == name })?.value as? T { return value }
            mirror = current.superclassMirror
        }
        throw ONNXExportError("ONNX export: \(type(of: m)) at '\(path(m))' has no property '\(name)' of type \(T.self)")
    }

    /// Runs the named children in order; "|op" entries are operations of the block's own forward
    /// (`|flatten`, `|relu`, `|gap` = global average pooling).
    private func chain(_ m: Module, _ x: GraphValue, _ steps: [String]) throws -> GraphValue {
        var h = x
        for step in steps {
            switch step {
            case "|flatten": h = flatten(h, name: key(m, "flatten"))
            case "|relu": h = unary("Relu", h, name: key(m, "relu"))
            case "|gap": h = try adaptiveAvgPool(h, (1, 1), name: key(m, "avgpool"))
            default: h = try lower(try child(m, step), h)
            }
        }
        return h
    }

    /// Each named child applied to `x`, concatenated along channels.
    private func branches(_ m: Module, _ x: GraphValue, _ names: [String]) throws -> GraphValue {
        try concat(names.map { try lower(try child(m, $0), x) }, name: key(m, "concat"))
    }

    // MARK: Layers

    private func conv(_ c: Conv2d, _ x: GraphValue) throws -> GraphValue {
        guard x.shape.count == 4 else { throw ONNXExportError("Conv2d at '\(path(c))' got a \(x.shape.count)-D input") }
        let s = c.settings
        let w = c.weight.shape
        var inputs = [x.name, builder.initializer(key(c, "weight"), c.weight)]
        if let b = c.bias { inputs.append(builder.initializer(key(c, "bias"), b)) }
        let out = builder.node(
            "Conv", inputs: inputs, name: path(c),
            attributes: [
                .ints("kernel_shape", [w[2], w[3]]), .ints("strides", [s.strideH, s.strideW]),
                .ints("pads", [s.padTop, s.padLeft, s.padBottom, s.padRight]),
                .ints("dilations", [s.dilationH, s.dilationW]), .int("group", s.groups),
            ])
        let (oh, ow) = s.outputSize(h: x.shape[2], w: x.shape[3], kh: w[2], kw: w[3])
        guard oh > 0, ow > 0 else { throw ONNXExportError("Conv2d at '\(path(c))': input \(x.shape) is too small") }
        return GraphValue(name: out, shape: [x.shape[0], w[0], oh, ow])
    }

    private func batchNorm(_ b: BatchNorm2d, _ x: GraphValue) throws -> GraphValue {
        let c = b.runningMean.count
        let scale =
            b.weight.map { builder.initializer(key(b, "weight"), $0) }
            ?? builder.initializer(key(b, "weight"), .ones([c]))
        let bias =
            b.bias.map { builder.initializer(key(b, "bias"), $0) } ?? builder.initializer(key(b, "bias"), .zeros([c]))
        let out = builder.node(
            "BatchNormalization",
            inputs: [
                x.name, scale, bias, builder.initializer(key(b, "running_mean"), b.runningMean),
                builder.initializer(key(b, "running_var"), b.runningVar),
            ], name: path(b), attributes: [.float("epsilon", b.eps)])
        return GraphValue(name: out, shape: x.shape)
    }

    private func unary(_ op: String, _ x: GraphValue, name: String) -> GraphValue {
        GraphValue(name: builder.node(op, inputs: [x.name], name: name), shape: x.shape)
    }

    private func flatten(_ x: GraphValue, name: String) -> GraphValue {
        if x.shape.count == 2 { return x }
        let out = builder.node("Flatten", inputs: [x.name], name: name, attributes: [.int("axis", 1)])
        return GraphValue(name: out, shape: [x.shape[0], x.shape.dropFirst().reduce(1, *)])
    }

    private func pool(_ op: String, _ p: Pool2dParameters, _ x: GraphValue, name: String) throws -> GraphValue {
        var attributes: [Onnx_AttributeProto] = [
            .ints("kernel_shape", [p.kernelH, p.kernelW]), .ints("strides", [p.strideH, p.strideW]),
            .ints("pads", [p.padH, p.padW, p.padH, p.padW]), .int("ceil_mode", p.ceilMode ? 1 : 0),
        ]
        if op == "AveragePool" { attributes.append(.int("count_include_pad", p.countIncludePad ? 1 : 0)) }
        let out = builder.node(op, inputs: [x.name], name: name, attributes: attributes)
        let (oh, ow) = p.outputSize(h: x.shape[2], w: x.shape[3])
        guard oh > 0, ow > 0 else { throw ONNXExportError("\(op) at '\(name)': input \(x.shape) is too small") }
        return GraphValue(name: out, shape: [x.shape[0], x.shape[1], oh, ow])
    }

    /// Adaptive average pooling: GlobalAveragePool to 1×1, nothing when the size already matches,
    /// an AveragePool when the input divides evenly; other sizes are refused.
    private func adaptiveAvgPool(_ x: GraphValue, _ size: (Int, Int), name: String) throws -> GraphValue {
        let (h, w) = (x.shape[2], x.shape[3])
        if size == (1, 1) {
            return GraphValue(
                name: builder.node("GlobalAveragePool", inputs: [x.name], name: name),
                shape: [x.shape[0], x.shape[1], 1, 1])
        }
        if (h, w) == size { return x }
        guard h % size.0 == 0, w % size.1 == 0 else {
            throw ONNXExportError(
                "adaptive average pooling from \(h)×\(w) to \(size.0)×\(size.1) (at '\(name)') has windows of unequal "
                    + "sizes, which ONNX's pooling cannot express; export at an input size where \(size.0)×\(size.1) divides the feature map"
            )
        }
        let (kh, kw) = (h / size.0, w / size.1)
        return try pool("AveragePool", Pool2dParameters(kernel: (kh, kw), stride: (kh, kw)), x, name: name)
    }

    private func linear(_ l: Linear, _ x: GraphValue) throws -> GraphValue {
        guard x.shape.count == 2 else {
            throw ONNXExportError("Linear at '\(path(l))' got a \(x.shape.count)-D input \(x.shape)")
        }
        var inputs = [x.name, builder.initializer(key(l, "weight"), l.weight)]
        if let b = l.bias { inputs.append(builder.initializer(key(l, "bias"), b)) }
        let out = builder.node("Gemm", inputs: inputs, name: path(l), attributes: [.int("transB", 1)])
        return GraphValue(name: out, shape: [x.shape[0], l.weight.shape[0]])
    }

    private func lrn(_ n: LocalResponseNorm, _ x: GraphValue) throws -> GraphValue {
        // PyTorch's window (size//2 before, (size-1)//2 after) is ONNX's for odd sizes only.
        guard n.size % 2 == 1 else {
            throw ONNXExportError("LocalResponseNorm at '\(path(n))': ONNX's LRN matches only odd sizes, got \(n.size)")
        }
        let out = builder.node(
            "LRN", inputs: [x.name], name: path(n),
            attributes: [
                .int("size", n.size), .float("alpha", n.alpha), .float("beta", n.beta), .float("bias", n.k),
            ])
        return GraphValue(name: out, shape: x.shape)
    }

    private func add(_ a: GraphValue, _ b: GraphValue, name: String) -> GraphValue {
        GraphValue(name: builder.node("Add", inputs: [a.name, b.name], name: name), shape: a.shape)
    }

    private func concat(_ values: [GraphValue], name: String) -> GraphValue {
        var shape = values[0].shape
        shape[1] = values.reduce(0) { $0 + $1.shape[1] }
        return GraphValue(
            name: builder.node("Concat", inputs: values.map(\.name), name: name, attributes: [.int("axis", 1)]),
            shape: shape)
    }

    // MARK: Blocks

    private func basicBlock(_ b: BasicBlock, _ x: GraphValue) throws -> GraphValue {
        var out = try chain(b, x, ["conv1", "bn1", "relu", "conv2", "bn2"])
        switch try property(b, "shortcut", as: ShortcutKind.self) {
        case .none: break
        case .projection:
            let identity =
                try b.namedChildren().contains { $0.0 == "downsample" } ? lower(try child(b, "downsample"), x) : x
            out = add(out, identity, name: key(b, "add"))
        case .optionA:
            let shortcut = try optionA(
                x, outChannels: property(b, "outChannels", as: Int.self), stride: property(b, "stride", as: Int.self),
                name: key(b, "shortcut"))
            out = add(out, shortcut, name: key(b, "add"))
        }
        return try lower(try child(b, "relu"), out)
    }

    /// The option-A shortcut: x[:, :, ::s, ::s] (Slice), then zero channels split before and after (Pad).
    private func optionA(_ x: GraphValue, outChannels: Int, stride: Int, name: String) throws -> GraphValue {
        var y = x
        if stride > 1 {
            let big = Int64.max
            let out = builder.node(
                "Slice",
                inputs: [
                    x.name, builder.constantInt64([0, 0], name: "\(name).starts"),
                    builder.constantInt64([big, big], name: "\(name).ends"),
                    builder.constantInt64([2, 3], name: "\(name).axes"),
                    builder.constantInt64([Int64(stride), Int64(stride)], name: "\(name).steps"),
                ], name: "\(name).subsample")
            y = GraphValue(
                name: out,
                shape: [x.shape[0], x.shape[1], (x.shape[2] + stride - 1) / stride, (x.shape[3] + stride - 1) / stride])
        }
        let extra = outChannels - x.shape[1]
        if extra > 0 {
            let before = Int64(extra / 2)
            let after = Int64(extra - extra / 2)
            let out = builder.node(
                "Pad",
                inputs: [y.name, builder.constantInt64([0, before, 0, 0, 0, after, 0, 0], name: "\(name).pads")],
                name: "\(name).pad", attributes: [])
            y = GraphValue(name: out, shape: [y.shape[0], outChannels, y.shape[2], y.shape[3]])
        }
        return y
    }

    private func bottleneck(_ b: Module, _ x: GraphValue) throws -> GraphValue {
        let out = try chain(b, x, ["conv1", "bn1", "relu", "conv2", "bn2", "relu", "conv3", "bn3"])
        let identity =
            try b.namedChildren().contains { $0.0 == "downsample" } ? lower(try child(b, "downsample"), x) : x
        return try lower(try child(b, "relu"), add(out, identity, name: key(b, "add")))
    }

    private func denseBlock(_ block: Module, _ x: GraphValue) throws -> GraphValue {
        var features = [x]
        for (i, (_, layer)) in block.namedChildren().enumerated() {
            let input = features.count == 1 ? x : concat(features, name: key(block, "concat\(i)"))
            features.append(try lower(layer, input))
        }
        return concat(features, name: key(block, "concat"))
    }

    /// torchvision's pool branch input: 3×3 average pooling, stride 1, padding 1, counting the padding.
    private func poolBranchInput(_ m: Module, _ x: GraphValue) throws -> GraphValue {
        try pool("AveragePool", Pool2dParameters(kernel: 3, stride: 1, padding: 1), x, name: key(m, "pool"))
    }

    private func inceptionV3A(_ m: Module, _ x: GraphValue) throws -> GraphValue {
        try concat(
            [
                lower(child(m, "branch1x1"), x),
                chain(m, x, ["branch5x5_1", "branch5x5_2"]),
                chain(m, x, ["branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"]),
                lower(child(m, "branch_pool"), poolBranchInput(m, x)),
            ], name: key(m, "concat"))
    }

    private func inceptionV3B(_ m: Module, _ x: GraphValue) throws -> GraphValue {
        try concat(
            [
                lower(child(m, "branch3x3"), x),
                chain(m, x, ["branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"]),
                pool("MaxPool", Pool2dParameters(kernel: 3, stride: 2), x, name: key(m, "maxpool")),
            ], name: key(m, "concat"))
    }

    private func inceptionV3C(_ m: Module, _ x: GraphValue) throws -> GraphValue {
        try concat(
            [
                lower(child(m, "branch1x1"), x),
                chain(m, x, ["branch7x7_1", "branch7x7_2", "branch7x7_3"]),
                chain(
                    m, x, ["branch7x7dbl_1", "branch7x7dbl_2", "branch7x7dbl_3", "branch7x7dbl_4", "branch7x7dbl_5"]),
                lower(child(m, "branch_pool"), poolBranchInput(m, x)),
            ], name: key(m, "concat"))
    }

    private func inceptionV3D(_ m: Module, _ x: GraphValue) throws -> GraphValue {
        try concat(
            [
                chain(m, x, ["branch3x3_1", "branch3x3_2"]),
                chain(m, x, ["branch7x7x3_1", "branch7x7x3_2", "branch7x7x3_3", "branch7x7x3_4"]),
                pool("MaxPool", Pool2dParameters(kernel: 3, stride: 2), x, name: key(m, "maxpool")),
            ], name: key(m, "concat"))
    }

    private func inceptionV3E(_ m: Module, _ x: GraphValue) throws -> GraphValue {
        let b3 = try lower(child(m, "branch3x3_1"), x)
        let b3dbl = try chain(m, x, ["branch3x3dbl_1", "branch3x3dbl_2"])
        return try concat(
            [
                lower(child(m, "branch1x1"), x),
                concat(
                    [lower(child(m, "branch3x3_2a"), b3), lower(child(m, "branch3x3_2b"), b3)],
                    name: key(m, "concat3x3")),
                concat(
                    [lower(child(m, "branch3x3dbl_3a"), b3dbl), lower(child(m, "branch3x3dbl_3b"), b3dbl)],
                    name: key(m, "concat3x3dbl")),
                lower(child(m, "branch_pool"), poolBranchInput(m, x)),
            ], name: key(m, "concat"))
    }

    private func inceptionV4C(_ m: Module, _ x: GraphValue) throws -> GraphValue {
        let b1 = try lower(child(m, "branch1_0"), x)
        let b2 = try chain(m, x, ["branch2_0", "branch2_1", "branch2_2"])
        return try concat(
            [
                lower(child(m, "branch0"), x),
                lower(child(m, "branch1_1a"), b1), lower(child(m, "branch1_1b"), b1),
                lower(child(m, "branch2_3a"), b2), lower(child(m, "branch2_3b"), b2),
                lower(child(m, "branch3"), x),
            ], name: key(m, "concat"))
    }

    /// Inception-ResNet blocks: concatenated branches, a 1×1 projection, scaled, added to the input, ReLU (unless disabled).
    private func scaledResidual(_ m: Module, _ x: GraphValue, _ names: [String]) throws -> GraphValue {
        let h = try branches(m, x, names)
        var projected = try lower(child(m, "conv2d"), h)
        let scale = try property(m, "scale", as: Double.self)
        if scale != 1 {
            let s = builder.constantFloat(Float(scale), name: key(m, "scale"))
            projected = GraphValue(
                name: builder.node("Mul", inputs: [projected.name, s], name: key(m, "scaled")), shape: projected.shape)
        }
        let out = add(projected, x, name: key(m, "add"))
        let relu = (try? property(m, "relu", as: Bool.self)) ?? true
        return relu ? unary("Relu", out, name: key(m, "relu")) : out
    }
}
