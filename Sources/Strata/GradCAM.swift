import StrataImage
import StrataNN
import StrataPlot
import StrataTensor

/// A module path that names no module of a model: the message lists a few valid paths.
public struct LayerNotFoundError: Error, CustomStringConvertible, Sendable {
    public let description: String

    /// The error for `path` in `model` (named `modelName` in the hint to `strata summary`).
    public init(path: String, model: Module, modelName: String) {
        let all = model.namedModules().map(\.0).filter { !$0.isEmpty }
        // The siblings of a mistyped child ("layer1.9": layer1's children), else the top-level modules.
        let parent = path.split(separator: ".").dropLast().joined(separator: ".")
        var near =
            parent.isEmpty
            ? [] : all.filter { $0.hasPrefix(parent + ".") && !$0.dropFirst(parent.count + 1).contains(".") }
        if near.isEmpty { near = all.filter { !$0.contains(".") } }
        let shown = near.prefix(12).joined(separator: ", ") + (near.count > 12 ? ", …" : "")
        description =
            "no module '\(path)' in \(modelName); valid paths include: \(shown) (see `strata summary \(modelName)` for all \(all.count))"
    }
}

/// Gradient-weighted class activation maps (Selvaraju et al., 2017): where in the image the evidence
/// for a class lies, as seen by a convolutional layer.
///
/// For the layer's output A (K feature maps of h × w) and the class logit y:
/// α_k = mean over positions of ∂y/∂A_k, and the map is ReLU(Σ_k α_k A_k), an h × w array that
/// ``overlay(_:on:alpha:)`` upsamples (bilinearly) and draws over the input image.
///
/// ```swift
/// let cam = try GradCAM.compute(model: classifier.model, input: x)          // x: [1, 3, 32, 32]
/// let picture = GradCAM.overlay(cam, on: croppedImage)
/// ```
public enum GradCAM {
    /// One map.
    public struct Result: Sendable {
        /// The dotted path of the layer the map was taken at.
        public let layer: String
        /// The class explained.
        public let classIndex: Int
        /// Its logit.
        public let logit: Float
        /// ReLU(Σ_k α_k A_k), `height × width`, row-major (not normalized).
        public let map: [Float]
        /// The layer output's height (rows of `map`).
        public let height: Int
        /// The layer output's width (columns of `map`).
        public let width: Int
        /// α_k, one per channel of the layer's output.
        public let channelWeights: [Float]
    }

    /// The layer Grad-CAM looks at by default: the last module (in the order modules finish) whose
    /// output is a feature map (4-D, more than one position), other than the model itself: the last
    /// convolutional block before global pooling (`layer3` in a CIFAR ResNet, `features` in VGG or
    /// DenseNet, `Mixed_7c` in Inception v3). Where several modules finish with the same output, the
    /// outermost wins. Nil when no module outputs a feature map.
    public static func defaultLayer(of model: Module, inputShape: [Int]) -> String? {
        let paths = Dictionary(
            model.namedModules().map { (ObjectIdentifier($0.1), $0.0) }, uniquingKeysWith: { a, _ in a })
        let trace = ModuleTrace.capture { withNoGrad { _ = model(Tensor.zeros(inputShape)) } }
        var best: String?
        for r in trace.records {
            guard let path = paths[ObjectIdentifier(r.module)], !path.isEmpty,
                r.outputShape.count == 4, r.outputShape[2] * r.outputShape[3] > 1
            else { continue }
            best = path
        }
        return best
    }

    /// The Grad-CAM of one image.
    ///
    /// - Parameters:
    ///   - model: the network, in eval mode (its parameters' gradients are cleared afterwards).
    ///   - input: one preprocessed image, `[1, C, H, W]`.
    ///   - layer: the dotted path of the module whose output is explained; nil: ``defaultLayer(of:inputShape:)``.
    ///   - classIndex: the class explained; nil: the top-1 class.
    ///   - modelName: for error messages.
    /// - Throws: ``LayerNotFoundError`` for an unknown `layer`; ``ClassifierError`` when the layer's output
    ///   is not a 4-D feature map, it did not run, or `classIndex` is out of range.
    public static func compute(
        model: Module, input: Tensor, layer: String? = nil, classIndex: Int? = nil,
        modelName: String = "the model"
    ) throws -> Result {
        guard input.shape.count == 4, input.shape[0] == 1 else {
            throw ClassifierError("Grad-CAM takes one image, shape [1, C, H, W]; got \(input.shape)")
        }
        guard let path = layer ?? defaultLayer(of: model, inputShape: input.shape) else {
            throw ClassifierError("\(modelName) has no module whose output is a feature map; Grad-CAM needs one")
        }
        guard let target = model.namedModules().first(where: { $0.0 == path })?.1, !path.isEmpty else {
            throw LayerNotFoundError(path: path, model: model, modelName: modelName)
        }
        defer { model.zeroGrad() }
        // The layer's output becomes a leaf of the graph, so the backward pass leaves ∂y/∂A in its grad.
        var activation: Tensor?
        let logits = ModuleTrace.replacingOutputs(
            { module, output in
                guard module === target else { return output }
                let leaf = output.detached().requiringGrad()
                activation = leaf
                return leaf
            }, during: { model(input) })
        guard let a = activation else {
            throw ClassifierError("module '\(path)' of \(modelName) did not run in the forward pass")
        }
        guard a.shape.count == 4 else {
            throw ClassifierError(
                "module '\(path)' of \(modelName) outputs shape \(a.shape); Grad-CAM needs a feature map [1, C, H, W]")
        }
        guard logits.shape.count == 2, logits.shape[0] == 1, logits.requiresGrad else {
            throw ClassifierError(
                "\(modelName)'s output has shape \(logits.shape); Grad-CAM needs class logits [1, classes]")
        }
        let scores = logits.floats
        let c =
            classIndex ?? scores.indices.max { scores[$0] < scores[$1] || (scores[$0] == scores[$1] && $0 > $1) } ?? 0
        guard scores.indices.contains(c) else {
            throw ClassifierError("class \(c) is out of range: \(modelName) has \(scores.count) classes")
        }
        var seed = [Float](repeating: 0, count: scores.count)
        seed[c] = 1
        logits.backward(Tensor(seed, shape: logits.shape))
        let k = a.shape[1]
        let h = a.shape[2]
        let w = a.shape[3]
        let values = a.floats
        let grads = a.grad?.floats ?? [Float](repeating: 0, count: values.count)
        let (alpha, map) = combine(activations: values, gradients: grads, channels: k, height: h, width: w)
        return Result(
            layer: path, classIndex: c, logit: scores[c], map: map, height: h, width: w, channelWeights: alpha)
    }

    /// α_k = mean over the h × w positions of `gradients` channel k; map = ReLU(Σ_k α_k · `activations`_k).
    /// Both arrays are `channels × height × width` (one image, CHW).
    public static func combine(activations: [Float], gradients: [Float], channels: Int, height: Int, width: Int) -> (
        weights: [Float], map: [Float]
    ) {
        let plane = height * width
        precondition(
            activations.count == channels * plane && gradients.count == channels * plane,
            "combine: \(activations.count) activations, \(gradients.count) gradients for \(channels)×\(height)×\(width)"
        )
        var alpha = [Float](repeating: 0, count: channels)
        for k in 0..<channels {
            var s: Double = 0
            for i in 0..<plane { s += Double(gradients[k * plane + i]) }
            alpha[k] = Float(s / Double(max(plane, 1)))
        }
        var map = [Float](repeating: 0, count: plane)
        for i in 0..<plane {
            var s: Double = 0
            for k in 0..<channels { s += Double(alpha[k]) * Double(activations[k * plane + i]) }
            map[i] = Float(max(0, s))
        }
        return (alpha, map)
    }

    /// The map upsampled bilinearly to `image`'s size and drawn over it in the jet colour map
    /// (blue: none, red: the most evidence) with opacity `alpha`.
    public static func overlay(_ result: Result, on image: Image, alpha: Double = 0.5) -> Image {
        Heatmap.overlay(result.map, height: result.height, width: result.width, on: image, colorMap: .jet, alpha: alpha)
    }
}
