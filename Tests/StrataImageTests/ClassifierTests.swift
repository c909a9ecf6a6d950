import Foundation
import Strata
import StrataTestSupport
import Testing

/// `ImageClassifier` (what `strata classify` runs) end to end on a small CIFAR ResNet-20 with
/// random weights written by `SafeTensors.write`, and the `strata classify` binary itself.
@Suite(.serialized) struct ClassifierTests {
    static let cifarNames = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    /// Images to classify: the CIFAR samples when present, else 32×32 crops of fixtures.
    static func images(_ dir: TemporaryDirectory) throws -> [String] {
        if photosAvailable {
            return ["airplane_0000.jpg", "cat_0001.jpg", "ship_0000.jpg"].map {
                "\(photosDirectory)/cifar10-test-samples/\($0)"
            }
        }
        return ["rgb444_16x16.jpg", "small_rgb.png", "big_rgb.png"].map(fixturePath)
    }

    /// A randomly initialised resnet20 (10 classes) in eval mode, saved with `metadata`.
    static func savedModel(_ dir: TemporaryDirectory, metadata: [String: String] = [:], name: String = "w.safetensors")
        throws -> (Module, String)
    {
        let model = try Models.make("resnet20", classes: 10)
        // Non-trivial batch-norm statistics, so eval mode matters.
        var rng = RandomGenerator(seed: 42)
        for (key, t) in model.stateDict() where key.hasSuffix("running_var") {
            t.assign(Tensor.uniform(t.shape, low: 0.5, high: 2, generator: &rng))
        }
        model.eval()
        let path = dir.file(name)
        try SafeTensors.write(
            Dictionary(uniqueKeysWithValues: model.stateDict().map { ($0.key, $0.tensor) }), metadata: metadata,
            to: path)
        return (model, path)
    }

    @Test func classifiesLikeTheModelDirectly() throws {
        let dir = TemporaryDirectory()
        let names = #"["airplane","automobile","bird","cat","deer","dog","frog","horse","ship","truck"]"#
        let (model, path) = try Self.savedModel(dir, metadata: ["class_names": names])
        let classifier = try ImageClassifier(model: "resnet20", weights: path)
        #expect(classifier.classNames == Self.cifarNames)
        #expect((classifier.resize, classifier.crop, classifier.channels) == (32, 32, 3))
        #expect(classifier.normalization == .imageNet)

        let paths = try Self.images(dir)
        let images = try paths.map { try classifier.preprocess(path: $0) }
        #expect(images.allSatisfy { $0.width == 32 && $0.height == 32 && $0.channels == 3 })
        let direct = withNoGrad { model(ImageTransforms.toTensor(images)).softmax(axis: 1) }.floats
        let probabilities = classifier.probabilities(images)
        for (i, row) in probabilities.enumerated() {
            #expect(abs(row.reduce(0, +) - 1) < 1e-5)
            for (j, p) in row.enumerated() { #expect(abs(p - direct[i * 10 + j]) < 1e-6) }
        }

        // Batches of 2 (3 images) give the same answers; a bad file fails alone.
        let results = classifier.classify(
            paths: [paths[0], dir.file("missing.jpg"), paths[1], paths[2]], top: 3, batchSize: 2)
        #expect(results.count == 4)
        guard case .failure(let error) = results[1] else {
            Issue.record("missing file classified")
            return
        }
        #expect(error.kind == .unreadable)
        for (slot, row) in [(0, 0), (2, 1), (3, 2)] {
            let top = try results[slot].get()
            #expect(top.count == 3)
            let best = probabilities[row].indices.max { probabilities[row][$0] < probabilities[row][$1] }!
            #expect(top[0].index == best && top[0].name == Self.cifarNames[best])
            #expect(top[0].probability >= top[1].probability && top[1].probability >= top[2].probability)
            #expect(abs(top[0].probability - probabilities[row][best]) < 1e-6)
        }
    }

    @Test func classNamesAndNormalizationFromMetadataAndOptions() throws {
        let dir = TemporaryDirectory()
        let (_, plain) = try Self.savedModel(dir)
        #expect(try ImageClassifier(model: "resnet20", weights: plain).classNames == (0..<10).map { "class \($0)" })
        let given = (0..<10).map { "c\($0)" }
        #expect(try ImageClassifier(model: "resnet20", weights: plain, classNames: given).classNames == given)

        let (_, meta) = try Self.savedModel(
            dir, metadata: ["mean": "[0.5, 0.4, 0.3]", "std": "[0.2,0.2,0.25]"], name: "m.safetensors")
        let c = try ImageClassifier(model: "resnet20", weights: meta, crop: 40)
        #expect(c.normalization == .init(mean: [0.5, 0.4, 0.3], std: [0.2, 0.2, 0.25]))
        #expect((c.resize, c.crop) == (40, 40))
        #expect(
            ImageClassifier.defaultResize(forCrop: 224) == 256 && ImageClassifier.defaultResize(forCrop: 299) == 342)
        #expect(imageNetClassNames.count == 1000 && Set(imageNetClassNames).count == 1000)
        #expect(
            imageNetClassNames.first == "tench" && imageNetClassNames[281] == "tabby"
                && imageNetClassNames.last == "toilet tissue")
    }

    func expectClassifierError(
        _ text: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
    ) {
        do {
            try body()
            Issue.record("no error", sourceLocation: sourceLocation)
        } catch {
            #expect("\(error)".contains(text), "\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func badWeightsAndOptionsAreErrors() throws {
        let dir = TemporaryDirectory()
        let (_, path) = try Self.savedModel(dir)
        expectClassifierError("size mismatch for fc.weight") {
            _ = try ImageClassifier(model: "resnet20", weights: path, classes: 100)
        }
        expectClassifierError("missing keys") { _ = try ImageClassifier(model: "resnet32", weights: path) }
        // 2 projection shortcuts × (conv weight, bn weight, bias, running mean, running var); their
        // num_batches_tracked counters are not missing keys (PyTorch fills them in too).
        expectClassifierError("missing keys (10)") { _ = try ImageClassifier(model: "resnet20_b", weights: path) }
        var extra = Dictionary(
            uniqueKeysWithValues: try Models.make("resnet20").stateDict().map { ($0.key, $0.tensor) })
        extra["head.weight"] = Tensor.zeros([2])
        let extraPath = dir.file("extra.safetensors")
        try SafeTensors.write(extra, to: extraPath)
        expectClassifierError("unexpected keys (1): head.weight") {
            _ = try ImageClassifier(model: "resnet20", weights: extraPath)
        }
        expectClassifierError("unknown model") { _ = try ImageClassifier(model: "resnet21", weights: path) }
        expectClassifierError("No such file") {
            _ = try ImageClassifier(model: "resnet20", weights: dir.file("none.safetensors"))
        }
        let junk = dir.write(Array("not a safetensors file at all".utf8), to: "junk.safetensors")
        expectClassifierError("junk.safetensors") { _ = try ImageClassifier(model: "resnet20", weights: junk) }
        // Three names make a 3-class model, which the 10-class weights do not fit.
        expectClassifierError("size mismatch for fc.weight") {
            _ = try ImageClassifier(model: "resnet20", weights: path, classNames: ["a", "b", "c"])
        }
        expectClassifierError("3 class names") {
            _ = try ImageClassifier(model: "resnet20", weights: path, classes: 10, classNames: ["a", "b", "c"])
        }
        expectClassifierError("needs images of at least 75×75") {
            _ = try ImageClassifier(model: "inception_v3", weights: path, crop: 32)
        }
        expectClassifierError("lenet5 expects 1×32×32") {
            _ = try ImageClassifier(model: "lenet5", weights: path, crop: 28)
        }
        let (_, bad) = try Self.savedModel(dir, metadata: ["class_names": "[1, 2"], name: "bad.safetensors")
        expectClassifierError("class_names") { _ = try ImageClassifier(model: "resnet20", weights: bad) }
    }

    // MARK: The command-line tool

    /// The `strata` executable built next to this test bundle (nil if it was not built).
    static let strataBinary: String? = {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for candidate in [dir, dir.deletingLastPathComponent()] {
            let p = candidate.appendingPathComponent("strata").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }()

    static func run(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: strataBinary!)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    @Test(.enabled(if: strataBinary != nil, "the strata executable is not built"))
    func commandLine() throws {
        let dir = TemporaryDirectory()
        let (_, path) = try Self.savedModel(dir)
        let namesFile = dir.write(Array(Self.cifarNames.joined(separator: "\n").utf8) + [10, 10], to: "names.txt")
        let images = try Self.images(dir)

        let ok = try Self.run(
            ["classify"] + images + [
                "--model", "resnet20", "--weights", path, "--top", "3", "--class-names", namesFile,
            ])
        #expect(ok.status == 0, "\(ok.err)")
        let lines = ok.out.split(separator: "\n")
        #expect(lines.count == images.count * 4, "\(ok.out)")
        #expect(lines.first.map(String.init) == images[0] && lines[1].hasPrefix("  1. ") && lines[1].contains("%"))
        #expect(Self.cifarNames.contains { lines[1].contains($0) })

        let broken = dir.write(Array(readBytes(fixturePath("rgb420_19x13.jpg")).prefix(200)), to: "broken.jpg")
        let partly = try Self.run([
            "classify", images[0], broken, dir.file("nope.png"), "--model", "resnet20", "--weights", path,
        ])
        #expect(partly.status == 1)
        #expect(partly.out.hasPrefix(images[0]) && partly.out.contains("  5. "))
        #expect(
            partly.err.contains("broken.jpg: truncated JPEG") && partly.err.contains("nope.png: cannot read"),
            "\(partly.err)")
        #expect(partly.err.contains("2 of 3"))

        let wrong = try Self.run(["classify", images[0], "--model", "resnet32", "--weights", path])
        #expect(wrong.status != 0 && wrong.err.contains("missing keys"), "\(wrong.err)")
        let noWeights = try Self.run([
            "classify", images[0], "--model", "resnet20", "--weights", dir.file("x.safetensors"),
        ])
        #expect(noWeights.status != 0 && noWeights.err.contains("x.safetensors"), "\(noWeights.err)")
        let badTop = try Self.run(["classify", images[0], "--model", "resnet20", "--weights", path, "--top", "0"])
        #expect(badTop.status != 0 && badTop.err.contains("--top"))
    }
}
