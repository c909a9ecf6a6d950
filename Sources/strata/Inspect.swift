import ArgumentParser
import Foundation
import Strata

/// `strata inspect …`: pictures and numbers of what a network has learnt and how it trains.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Look inside a network: its filters, its feature maps, its gradients.",
        // `gradients` is engineer 14b's InspectGradients (Sources/strata/InspectGradients.swift).
        subcommands: [InspectFilters.self, InspectActivations.self, InspectGradients.self]
    )
}

/// A zoo model with trained weights (`--model M --weights W` or `--pretrained DATASET`), as
/// `strata classify` loads it (through `ImageClassifier`: checkpoint metadata, preprocessing).
struct TrainedModelOptions: ParsableArguments {
    @Option(help: "Model name (see `strata models`), e.g. resnet20.") var model: String
    @Option(help: "Weights (a safetensors state dict, or a run directory).") var weights: String?
    @Option(
        help:
            "Instead of --weights: the weights Strata ships for --model trained on this dataset (resnet20: cifar10, lenet5: mnist)."
    )
    var pretrained: String?
    @Option(help: "Number of classes (default: the checkpoint's class names, else the model's reference count).")
    var classes: Int?

    func validate() throws {
        guard (weights == nil) != (pretrained == nil) else {
            throw ValidationError("give --weights FILE or --pretrained DATASET (one of them)")
        }
        if let classes, classes <= 0 { throw ValidationError("--classes must be positive, got \(classes)") }
    }

    func load() throws -> ImageClassifier {
        let path = try weightsPath(weights, pretrained: pretrained, model: model)
        return try ImageClassifier(model: model, weights: path, classes: classes)
    }
}

/// `strata inspect filters`: a convolution's filters as an image grid.
struct InspectFilters: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filters",
        abstract: "Draw a convolution's filters (the first layer's by default) as a PNG image grid.",
        discussion: """
            Filters over 3 input channels are drawn in colour (their red, green and blue weights normalized \
            together, so a filter's colour is what it responds to); others as a gray tile of input channel 0. \
            Each tile is enlarged (nearest neighbour) to at least 32 pixels.
            Example: strata inspect filters --model resnet20 --pretrained cifar10 --output filters.png
            """)

    @OptionGroup var trained: TrainedModelOptions
    @Option(help: "The convolution: a module path or weight key (e.g. layer1.0.conv1). Default: the first convolution.")
    var layer: String?
    @Option(help: "The PNG file to write.") var output: String

    func run() throws {
        let classifier = try trained.load()
        guard let path = layer ?? NetworkImages.firstConvolution(of: classifier.model) else {
            throw CommandFailure("\(classifier.modelName) has no convolution (Conv2d)")
        }
        let grid = try NetworkImages.filters(of: classifier.model, path: path, modelName: classifier.modelName)
        try ImageEncoder.writePNG(grid, to: output)
        print("\(output): filters of \(path) (\(grid.width)×\(grid.height) pixels)")
    }
}

/// `strata inspect activations`: the feature maps one image produces at a layer.
struct InspectActivations: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "activations",
        abstract: "Draw the feature maps a module outputs for one image as a PNG grid.",
        discussion: """
            The image is preprocessed as `strata classify` does; the output of the module at --layer (a dotted \
            path as `strata summary` prints, e.g. layer1 or layer1.0.conv1) is captured during the forward pass. \
            Each of its first --max-maps channels is one tile, min-max normalized on its own, in the viridis \
            colour map (dark: low, yellow: high), enlarged to at least 32 pixels.
            Example: strata inspect activations cat.jpg --model resnet20 --pretrained cifar10 --layer layer1 --output maps.png
            """)

    @Argument(help: "A JPEG or PNG image.") var image: String
    @OptionGroup var trained: TrainedModelOptions
    @Option(help: "The module whose output is drawn, e.g. layer1.0 (see `strata summary MODEL`).") var layer: String
    @Option(help: "The PNG file to write.") var output: String
    @Option(name: .customLong("max-maps"), help: "Draw at most this many channels.") var maxMaps = 64

    func validate() throws {
        guard (1...4096).contains(maxMaps) else {
            throw ValidationError("--max-maps must be from 1 to 4096, got \(maxMaps)")
        }
    }

    func run() throws {
        let classifier = try trained.load()
        let input = ImageTransforms.toTensor(
            [try classifier.preprocess(path: image)], normalizedWith: classifier.normalization)
        let activation = try NetworkImages.activation(
            of: classifier.model, path: layer, input: input, modelName: classifier.modelName)
        let grid = try NetworkImages.featureMaps(
            activation, maxMaps: maxMaps, layer: "module '\(layer)' of \(classifier.modelName)")
        try ImageEncoder.writePNG(grid, to: output)
        let shown = min(maxMaps, activation.shape[1])
        print(
            "\(output): \(shown) of \(activation.shape[1]) feature maps of \(layer), \(activation.shape[2])×\(activation.shape[3]) each (\(grid.width)×\(grid.height) pixels)"
        )
    }
}
