import StrataImage
import StrataNN
import StrataPlot
import StrataTensor

/// Pictures of what a network has learnt: its filters and the feature maps an image produces
/// (`strata inspect filters`, `strata inspect activations`).
public enum NetworkImages {
    /// The path of the convolution `strata inspect filters` shows by default: the first `Conv2d` in
    /// state-dict order (the first layer, which looks at the pixels), or nil when there is none.
    public static func firstConvolution(of model: Module) -> String? {
        model.namedModules().first { $0.1 is Conv2d }?.0
    }

    /// The filters of the convolution at `path` (a module path, or its weight's key `….weight`) as an
    /// image grid: each filter with 3 input channels in colour (its RGB weights normalized together),
    /// others as a gray tile of input channel 0; every tile enlarged to at least `minTile` pixels.
    ///
    /// - Throws: ``LayerNotFoundError`` for an unknown path, ``ClassifierError`` when it is not a `Conv2d`.
    public static func filters(of model: Module, path: String, modelName: String = "the model", minTile: Int = 32)
        throws -> Image
    {
        let key = path.hasSuffix(".weight") ? String(path.dropLast(".weight".count)) : path
        guard let module = model.namedModules().first(where: { $0.0 == key && !key.isEmpty })?.1 else {
            throw LayerNotFoundError(path: path, model: model, modelName: modelName)
        }
        guard let conv = module as? Conv2d else {
            throw ClassifierError(
                "module '\(key)' of \(modelName) is \(module.summaryDescription), not a convolution (Conv2d); see `strata summary \(modelName)`"
            )
        }
        let shape = conv.weight.shape // [out, in / groups, kh, kw]
        let (o, i, kh, kw) = (shape[0], shape[1], shape[2], shape[3])
        let w = conv.weight.floats
        let per = i * kh * kw
        let tiles: [Image] = (0..<o).map { f in
            if i == 3 { return ImageGrid.rgbTile(Array(w[f * per..<(f + 1) * per]), height: kh, width: kw) }
            return ImageGrid.tile(Array(w[f * per..<f * per + kh * kw]), height: kh, width: kw)
        }
        let scale = max(1, (minTile + max(kh, kw) - 1) / max(kh, kw))
        return ImageGrid.make(tiles, padding: 2, scale: scale, background: 255)
    }

    /// The output of the module at `path` for one preprocessed image `input` ([1, C, H, W]).
    ///
    /// - Throws: ``LayerNotFoundError`` for an unknown path; ``ClassifierError`` when it did not run.
    public static func activation(of model: Module, path: String, input: Tensor, modelName: String = "the model") throws
        -> Tensor
    {
        guard !path.isEmpty, let module = model.namedModules().first(where: { $0.0 == path })?.1 else {
            throw LayerNotFoundError(path: path, model: model, modelName: modelName)
        }
        let found = ModuleTrace.outputs(of: [module]) { withNoGrad { _ = model(input) } }
        guard let output = found[0] else {
            throw ClassifierError("module '\(path)' of \(modelName) did not run in the forward pass")
        }
        return output
    }

    /// The first `maxMaps` feature maps of an activation `[1, C, h, w]` as a grid of tiles, each map
    /// min-max normalized on its own and coloured with `colorMap`, enlarged to at least `minTile` pixels.
    ///
    /// - Throws: ``ClassifierError`` when the activation is not 4-D.
    public static func featureMaps(
        _ activation: Tensor, maxMaps: Int = 64, colorMap: ColorMap = .viridis, minTile: Int = 32,
        layer: String = "the layer"
    ) throws -> Image {
        let s = activation.shape
        guard s.count == 4, s[0] >= 1 else {
            throw ClassifierError(
                "\(layer) outputs shape \(s); feature maps need a 4-D output [N, C, H, W] (a convolutional layer or block)"
            )
        }
        let (c, h, w) = (s[1], s[2], s[3])
        let values = activation.floats
        let plane = h * w
        let tiles = (0..<min(c, max(1, maxMaps))).map {
            ImageGrid.tile(Array(values[$0 * plane..<($0 + 1) * plane]), height: h, width: w, colorMap: colorMap)
        }
        let scale = max(1, (minTile + max(h, w) - 1) / max(h, w, 1))
        return ImageGrid.make(tiles, padding: 2, scale: scale, background: 255)
    }
}
