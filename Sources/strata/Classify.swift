import ArgumentParser
import Foundation
import Strata

/// `strata classify IMAGE... --model NAME --weights FILE.safetensors`: the top classes of
/// each image under a trained model.
struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify JPEG/PNG images with a trained model, printing the top classes.",
        discussion: """
            Each image is decoded, its shorter side resized (bilinear, antialiased like PIL), \
            center-cropped and normalized as torchvision's evaluation transforms do, then run \
            through the model in eval mode. Class names come from --class-names, else the \
            checkpoint's "class_names" metadata, else ImageNet's for 1000 classes, else "class i". \
            A checkpoint may also carry "mean" and "std" metadata (JSON arrays) for normalization.

            Exit status: 0 if every image was classified, 1 if any could not be read, or on bad \
            weights or options.
            """)

    @Argument(help: "JPEG or PNG files.") var images: [String]
    @Option(help: "Model name (see `strata models`), e.g. resnet50.") var model: String
    @Option(help: "Weights (a safetensors state dict with torchvision's names).") var weights: String?
    @Option(
        help:
            "Instead of --weights: the weights Strata ships for --model trained on this dataset (resnet20: cifar10, lenet5: mnist; `strata models --pretrained` lists them)."
    )
    var pretrained: String?
    @Option(help: "Number of classes (default: the checkpoint's class names, else the model's reference count).")
    var classes: Int?
    @Option(help: "Show this many classes per image.") var top = 5
    @Option(name: .customLong("class-names"), help: "A text file with one class name per line (blank lines skipped).")
    var classNamesFile: String?
    @Option(help: "Input crop size (default: the model's input size, 224 for ImageNet models).") var crop: Int?
    @Option(
        help:
            "Shorter side after resizing, before the crop (default: 256 for a 224 crop; the crop size for small inputs)."
    )
    var resize: Int?
    @Option(help: "Normalization mean, comma-separated (default: the checkpoint's, else ImageNet's).") var mean: String?
    @Option(help: "Normalization std, comma-separated.") var std: String?
    @Option(name: .customLong("batch-size"), help: "Images run through the model at once.") var batchSize = 8
    @Flag(
        help:
            "Also explain the top-1 class with Grad-CAM: write <image-stem>.gradcam.png (the heat map over the cropped image)."
    )
    var explain = false
    @Option(
        name: .customLong("explain-output"),
        help: "The folder for the Grad-CAM images (created if missing). Default: the current folder.")
    var explainOutput: String?
    @Option(
        name: .customLong("explain-layer"),
        help:
            "The module Grad-CAM looks at (default: the last one whose output is a feature map, e.g. layer3 for resnet20)."
    )
    var explainLayer: String?

    func validate() throws {
        guard (weights == nil) != (pretrained == nil) else {
            throw ValidationError("give --weights FILE or --pretrained DATASET (one of them)")
        }
        guard top > 0 else { throw ValidationError("--top must be positive, got \(top)") }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
        if let classes, classes <= 0 { throw ValidationError("--classes must be positive, got \(classes)") }
        if let crop, !(1...4096).contains(crop) {
            throw ValidationError("--crop must be from 1 to 4096 pixels, got \(crop)")
        }
        if let resize, !(1...8192).contains(resize) {
            throw ValidationError("--resize must be from 1 to 8192 pixels, got \(resize)")
        }
        guard batchSize <= 1024 else { throw ValidationError("--batch-size must be from 1 to 1024, got \(batchSize)") }
        guard (mean == nil) == (std == nil) else { throw ValidationError("give --mean and --std together") }
        if !explain && (explainOutput != nil || explainLayer != nil) {
            throw ValidationError("--explain-output and --explain-layer go with --explain")
        }
        _ = try normalization()
    }

    func normalization() throws -> ImageTransforms.Normalization? {
        guard let mean, let std else { return nil }
        func parse(_ s: String, _ name: String) throws -> [Float] {
            let values = s.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) }
            guard !values.isEmpty, values.allSatisfy({ $0 != nil && $0!.isFinite }) else {
                throw ValidationError("--\(name) must be comma-separated numbers, got '\(s)'")
            }
            return values.map { $0! }
        }
        let m = try parse(mean, "mean")
        let s = try parse(std, "std")
        guard m.count == s.count else { throw ValidationError("--mean has \(m.count) values, --std \(s.count)") }
        guard s.allSatisfy({ $0 != 0 }) else { throw ValidationError("--std must not contain 0") }
        return .init(mean: m, std: s)
    }

    func run() throws {
        var names: [String]?
        if let classNamesFile {
            guard let data = FileManager.default.contents(atPath: classNamesFile),
                let text = String(data: data, encoding: .utf8)
            else {
                throw ClassifierError(
                    "\(classNamesFile): cannot read the class names file (missing, unreadable or not UTF-8)")
            }
            names = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter {
                !$0.isEmpty
            }
        }
        let weights = try weightsPath(weights, pretrained: pretrained, model: model)
        let classifier = try ImageClassifier(
            model: model, weights: weights, classes: classes, classNames: names,
            resize: resize, crop: crop, normalization: try normalization())
        let k = min(top, classifier.classNames.count)
        var failures = 0
        for (path, result) in zip(images, classifier.classify(paths: images, top: k, batchSize: batchSize)) {
            switch result {
            case .success(let predictions) where predictions.contains(where: { !$0.probability.isFinite }):
                // NaN logits (NaN or infinite weights, or an input that overflows): no ranking to print.
                failures += 1
                FileHandle.standardError.write(
                    Data(
                        "error: \(path): the model's output is not a number (NaN); check the weights (\(weights)) for NaN or infinite values\n"
                            .utf8))
            case .success(let predictions):
                print(path)
                for (rank, p) in predictions.enumerated() {
                    print(
                        "  \(rank + 1). \(String(format: "%6.2f%%", Double(p.probability) * 100))  \(p.name)  (\(p.index))"
                    )
                }
                if explain {
                    do {
                        let written = try explainTopClass(classifier, image: path, classIndex: predictions[0].index)
                        print("  Grad-CAM of \(predictions[0].name) at \(written.layer): \(written.path)")
                    } catch {
                        failures += 1
                        FileHandle.standardError.write(Data("error: \(path): Grad-CAM: \(error)\n".utf8))
                    }
                }
            case .failure(let error):
                failures += 1
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            }
        }
        if failures > 0 {
            FileHandle.standardError.write(
                Data("error: \(failures) of \(images.count) image(s) could not be classified\n".utf8))
            throw ExitCode.failure
        }
    }
}

extension Classify {
    /// Grad-CAM of `classIndex` for one image, drawn over the preprocessed (resized, cropped) image enlarged
    /// to at least 224 pixels, written as `<stem>.gradcam.png` in --explain-output (default: the current folder).
    func explainTopClass(_ classifier: ImageClassifier, image path: String, classIndex: Int) throws -> (
        path: String, layer: String
    ) {
        let picture = try classifier.preprocess(path: path)
        let input = ImageTransforms.toTensor([picture], normalizedWith: classifier.normalization)
        let cam = try GradCAM.compute(
            model: classifier.model, input: input, layer: explainLayer, classIndex: classIndex,
            modelName: classifier.modelName)
        // Small inputs (32×32 CIFAR) are enlarged so the map can be seen; the map is upsampled to that size.
        let k = max(1, (224 + picture.width - 1) / max(picture.width, 1))
        let shown =
            k > 1 ? ImageTransforms.resize(picture, width: picture.width * k, height: picture.height * k) : picture
        let directory = explainOutput ?? "."
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw CommandFailure(
                "\(directory): cannot create the --explain-output folder: \(error.localizedDescription)")
        }
        let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        let out = (directory as NSString).appendingPathComponent(stem + ".gradcam.png")
        try ImageEncoder.writePNG(GradCAM.overlay(cam, on: shown), to: out)
        return (out, cam.layer)
    }
}

/// The weights file: `--weights` as given, or the shipped `--pretrained` set's resource.
func weightsPath(_ weights: String?, pretrained: String?, model: String) throws -> String {
    if let weights { return weights }
    do { return try PretrainedWeights.named(model: model, dataset: pretrained ?? "").path } catch let e
        as PretrainedWeightsError
    {
        throw CommandFailure(e.description)
    }
}
