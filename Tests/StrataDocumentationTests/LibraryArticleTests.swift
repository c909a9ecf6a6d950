// swift-format-ignore-file
// (Its snippets are the article's, column for column, aligned comments included; see below.)
import Foundation
import Strata
import Testing

// The code of the article "Using Strata as a library" (Sources/Strata/Strata.docc/UsingStrataAsALibrary.md),
// run on tiny inputs. Every ```swift block of the article appears in this file verbatim (up to its
// indentation): `articleCodeIsThisFilesCode` checks it, so the article cannot drift from code that compiles
// and runs. Edit a snippet here and in the article together.

// Article: "Define a model from layers".
final class SmallNet: Module {
    let conv1 = Conv2d(1, 8, kernel: 3, padding: 1)
    let bn1 = BatchNorm2d(8)
    let pool = MaxPool2d(kernel: 2)
    let fc = Linear(8 * 16 * 16, 10)

    override func forward(_ x: Tensor) -> Tensor {
        let h = pool(bn1(conv1(x)).relu())   // [N, 8, 16, 16]
        return fc(h.flattened())             // [N, 10]
    }
}

// Article: keys that are not Swift names.
final class Stem: Module {
    @ModuleInfo(key: "Conv2d_1a_3x3") var conv1a = Conv2d(3, 8, kernel: 3, stride: 2, bias: false)
    @ModuleInfo(key: "AuxLogits") var auxLogits: Linear? = nil
    @Buffer(key: "running_scale") var runningScale: Tensor = .ones([8])

    override func forward(_ x: Tensor) -> Tensor { conv1a(x) * runningScale.reshaped([1, 8, 1, 1]) }
}

@Suite(.serialized) struct LibraryArticleTests {
    /// A fresh folder under the temporary directory, removed by `cleanUp`.
    static func temporaryFolder() throws -> String {
        let path = NSTemporaryDirectory() + "strata-docs-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func cleanUp(_ path: String) { try? FileManager.default.removeItem(atPath: path) }

    @Test func keysThatAreNotSwiftNames() {
        let stem = Stem()
        print(stem.stateDict().map(\.key))      // ["running_scale", "Conv2d_1a_3x3.weight"]
        stem.auxLogits = Linear(8, 10)          // seen by the next walk: AuxLogits.weight, AuxLogits.bias

        #expect(stem.auxLogits != nil)
        #expect(stem.stateDict().map(\.key) == ["running_scale", "Conv2d_1a_3x3.weight", "AuxLogits.weight", "AuxLogits.bias"])
        #expect(stem(.ones([1, 3, 9, 9])).shape == [1, 8, 4, 4])
    }

    @Test func modelsFromLayers() throws {
        let model = SmallNet()
        #expect(model.stateDict().map(\.key) == [
            "conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
            "bn1.num_batches_tracked", "fc.weight", "fc.bias",
        ])

        // Article: the same network as a Sequential, a forward pass and a backward pass.
        let net = Sequential(
            Conv2d(1, 8, kernel: 3, padding: 1), BatchNorm2d(8), ReLU(), MaxPool2d(kernel: 2),
            Flatten(), Linear(8 * 16 * 16, 10)
        )
        var rng = RandomGenerator(seed: 0)
        let x = Tensor.normal([4, 1, 32, 32], generator: &rng)
        let logits = net(x)                                       // [4, 10]
        print(net.parameterCount, logits.shape)                   // 20586 [4, 10]
        for (key, tensor) in net.stateDict() { print(key, tensor.shape) }   // 0.weight [8, 1, 3, 3] …

        let loss = crossEntropy(logits, labels: [0, 1, 2, 3])
        loss.backward()                                           // fills .grad of every parameter
        for (name, p) in net.namedParameters() { print(name, p.grad!.shape) }

        #expect(logits.shape == [4, 10])
        #expect(net.parameterCount == model.parameterCount)
        #expect(net.parameterCount == 20586)
        #expect(net.parameters().allSatisfy { $0.grad?.shape == $0.shape })
        #expect(model(x).shape == [4, 10])
        #expect(net.stateDict().first?.key == "0.weight")
    }

    @Test func modelsFromTheZoo() throws {
        let resnet = try Models.make("resnet20", classes: 10)         // the CIFAR ResNet-20 of He et al.
        print(resnet.parameterCount)                                   // 269722
        print(ModelSummary(resnet, input: [3, 32, 32]).table())        // layers, output shapes, parameters, MACs
        for entry in Models.all where entry.family.hasPrefix("DenseNet") { print(entry.name, entry.input) }

        #expect(resnet.parameterCount == 269_722)
        #expect(ModelSummary(resnet, input: [3, 32, 32]).outputShape == [1, 10])
        #expect(Models.all.contains { $0.name == "densenet121" })
    }

    /// On oneDNN (the CLI's default backend): debug builds of the reference kernels are slow.
    @Test func trainCheckpointAndResume() throws {
        try Backends.with(DNNLBackend()) { try Self.trainCheckpointAndResume() }
    }

    static func trainCheckpointAndResume() throws {
        let runPath = try Self.temporaryFolder() + "/run"
        let weightsPath = runPath + "-weights.safetensors"
        defer { Self.cleanUp((runPath as NSString).deletingLastPathComponent) }

        // Article: "Train a model".
        var configuration = TrainingConfiguration()
        configuration.model = "lenet5"
        configuration.epochs = 1
        configuration.batchSize = 32
        configuration.learningRate = 0.05
        let train = SyntheticShapes(count: 256)                   // 32×32 grayscale, 10 classes, no files
        let validation = SyntheticShapes(count: 64, seed: 1)
        let lenet = try Models.make("lenet5", classes: 10)
        let trainer = Trainer(model: lenet, configuration: configuration)
        trainer.runDirectory = try RunDirectory(runPath)          // checkpoints, metrics.jsonl, events, report.html
        let outcome = try trainer.fit(train: train, validation: validation) { report in
            print("epoch \(report.epoch): loss \(report.trainLoss), validation top-1 \(report.validation.top1)")
        }
        let result = evaluate(lenet, on: validation)             // loss, top-1, top-5, confusion matrix
        print(result.top1, result.perClassAccuracy)

        #expect(outcome == .completed)
        #expect(trainer.progress.epoch == 1)
        #expect(result.count == 64)
        #expect(FileManager.default.fileExists(atPath: runPath + "/last.safetensors"))
        #expect(FileManager.default.fileExists(atPath: runPath + "/best.safetensors"))

        // Article: "Save and load checkpoints": resume the run for one more epoch.
        let checkpoint = try Checkpoint.load(runPath)             // the run's last.safetensors
        print(checkpoint.state.progress.epoch, checkpoint.state.classNames)
        var longer = checkpoint.state.configuration
        longer.epochs = 2
        let resumed = Trainer(model: try Models.make("lenet5"), configuration: longer)
        try resumed.restore(from: checkpoint)                     // weights, optimizer state, progress, random state
        resumed.runDirectory = try RunDirectory(runPath)
        try resumed.fit(train: train, validation: validation)     // runs epoch 2 only

        #expect(resumed.progress.epoch == 2)
        #expect(try Checkpoint.load(runPath).state.progress.epoch == 2)

        // Article: weights alone, as a state dict in a safetensors file.
        let state = Dictionary(uniqueKeysWithValues: lenet.stateDict().map { ($0.key, $0.tensor) })
        try SafeTensors.write(state, metadata: ["model": "lenet5"], to: weightsPath)
        let copy = try Models.make("lenet5")
        try copy.loadStateDict(SafeTensorsFile(path: weightsPath).tensors())   // strict: every key, every shape

        for ((key, a), (_, b)) in zip(lenet.stateDict(), copy.stateDict()) {
            #expect(a.floats == b.floats, "\(key)")
        }
    }

    @Test func torchvisionWeights() throws {
        let folder = try Self.temporaryFolder()
        defer { Self.cleanUp(folder) }
        // What Scripts/convert_torchvision.py writes for resnet18: torchvision's keys (Strata's own), no metadata.
        let torchvisionPath = folder + "/resnet18.safetensors"
        let original = try Models.make("resnet18")
        try SafeTensors.write(Dictionary(uniqueKeysWithValues: original.stateDict().map { ($0.key, $0.tensor) }), to: torchvisionPath)
        var rng = RandomGenerator(seed: 1)
        let x = Tensor.normal([1, 3, 32, 32], generator: &rng)    // (224×224 in real use)

        // Article: "Load PyTorch and torchvision weights".
        let file = try SafeTensorsFile(path: torchvisionPath)
        let resnet18 = try Models.make("resnet18", forWeightKeys: file.names)
        try resnet18.loadStateDict(file.tensors())
        resnet18.eval()                                            // batch norm uses the running statistics
        let logits = withNoGrad { resnet18(x) }                    // [N, 1000]: nothing recorded for a backward
        let probabilities = logits.softmax(axis: 1).floats
        let best = probabilities.indices.max { probabilities[$0] < probabilities[$1] }!
        print(imageNetClassNames[best], probabilities[best])

        // Article: the same with the oneDNN backend, for this scope only.
        let fast = withNoGrad { Backends.with(DNNLBackend()) { resnet18(x) } }

        #expect(logits.shape == [1, 1000])
        #expect(abs(probabilities.reduce(0, +) - 1) < 1e-4)
        original.eval()
        let expected = withNoGrad { original(x) }.floats
        #expect(zip(logits.floats, expected).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) })
        #expect(zip(fast.floats, expected).allSatisfy { abs($0 - $1) <= 1e-3 * max(1, abs($1)) })
    }

    @Test func classifyImagesAndPretrainedWeights() throws {
        let folder = try Self.temporaryFolder()
        defer { Self.cleanUp(folder) }
        let photoPath = folder + "/photo.png"
        try Self.writePNG(width: 40, height: 36, to: photoPath)

        // Article: "Use the weights that ship with Strata".
        let pretrained = try PretrainedWeights.named(model: "resnet20", dataset: "cifar10")
        print(pretrained)                                          // resnet20 on cifar10: 88.03% top-1 — …
        let classifier = try ImageClassifier(model: pretrained.model, weights: pretrained.path)
        let top = try classifier.classify(paths: [photoPath], top: 3)[0].get()
        for prediction in top { print(prediction.name, prediction.probability) }   // e.g. frog 0.91

        #expect(classifier.classNames.count == 10 && classifier.classNames.contains("frog"))
        #expect(top.count == 3 && top[0].probability >= top[1].probability)

        // Article: the same by hand: decode, preprocess, run the model.
        let resnet20 = try Models.make(pretrained.model)
        try resnet20.loadStateDict(SafeTensorsFile(path: pretrained.path).tensors())
        resnet20.eval()
        let image = try ImageDecoder.decode(path: photoPath, channels: 3)
        let cropped = ImageTransforms.resizeShorterSideAndCenterCrop(image, resize: 32, crop: 32)
        let input = ImageTransforms.toTensor([cropped], normalizedWith: classifier.normalization)   // [1, 3, 32, 32]
        let p = withNoGrad { resnet20(input).softmax(axis: 1) }.floats

        #expect(input.shape == [1, 3, 32, 32])
        #expect(abs(p[top[0].index] - top[0].probability) < 1e-5)
        #expect(abs(p.reduce(0, +) - 1) < 1e-4)
    }

    // MARK: The article and this file

    static let articlePath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/Strata/Strata.docc/UsingStrataAsALibrary.md").path

    /// The ```swift blocks of a Markdown text, each as its lines.
    static func swiftBlocks(_ markdown: String) -> [[String]] {
        var blocks: [[String]] = [], current: [String]? = nil
        for line in markdown.components(separatedBy: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if current == nil {
                if trimmed == "```swift" { current = [] }
            } else if trimmed == "```" {
                blocks.append(current!)
                current = nil
            } else {
                current!.append(line)
            }
        }
        return blocks
    }

    /// Whether `block` occurs in `lines` as consecutive lines, all indented by the same prefix of spaces.
    static func contains(_ lines: [String], block: [String]) -> Bool {
        guard let first = block.first(where: { !$0.isEmpty }) else { return true }
        for start in lines.indices where lines[start].hasSuffix(first) {
            let indent = String(lines[start].dropLast(first.count))
            guard indent.allSatisfy({ $0 == " " }) else { continue }
            let offset = block.firstIndex(of: first)!
            let base = start - offset
            guard base >= 0, base + block.count <= lines.count else { continue }
            if block.indices.allSatisfy({ k in
                block[k].isEmpty ? lines[base + k].trimmingCharacters(in: .whitespaces).isEmpty : lines[base + k] == indent + block[k]
            }) { return true }
        }
        return false
    }

    @Test func articleCodeIsThisFilesCode() throws {
        let article = try String(contentsOfFile: Self.articlePath, encoding: .utf8)
        let source = try String(contentsOfFile: #filePath, encoding: .utf8).components(separatedBy: "\n")
        let blocks = Self.swiftBlocks(article)
        #expect(blocks.count >= 8, "the article has \(blocks.count) Swift blocks")
        for block in blocks {
            #expect(Self.contains(source, block: block),
                    "this Swift block of \(Self.articlePath) is not in \(#filePath):\n\(block.joined(separator: "\n"))")
        }
        // Every block of the article is a Swift block or a shell one (those are commands, not code to check).
        let fences = article.components(separatedBy: "\n").filter { $0.trimmingCharacters(in: .whitespaces).hasPrefix("```") }
        #expect(fences.filter { $0.trimmingCharacters(in: .whitespaces) != "```" }.allSatisfy { $0.hasSuffix("swift") || $0.hasSuffix("sh") })
    }

    @Test func theCheckFindsADriftedBlock() {
        let lines = ["    let a = 1", "    let b = 2", "", "    print(a + b)"]
        #expect(Self.contains(lines, block: ["let a = 1", "let b = 2", "", "print(a + b)"]))
        #expect(!Self.contains(lines, block: ["let a = 1", "let b = 3"]))
        #expect(!Self.contains(lines, block: ["let a = 1", "    let b = 2"]))
        #expect(Self.swiftBlocks("x\n```swift\nlet a = 1\n```\n```sh\nls\n```\n") == [["let a = 1"]])
    }

    // MARK: A PNG to classify

    /// Writes a `width`×`height` RGB PNG (a colour gradient with a bright disc), stored without compression.
    static func writePNG(width: Int, height: Int, to path: String) throws {
        var raw: [UInt8] = []
        for y in 0..<height {
            raw.append(0)   // filter: none
            for x in 0..<width {
                let disc = (x - width / 2) * (x - width / 2) + (y - height / 2) * (y - height / 2) < 100
                raw += disc ? [250, 240, 60] : [UInt8(x * 255 / width), UInt8(y * 255 / height), 90]
            }
        }
        var zlib: [UInt8] = [0x78, 0x01]
        var start = 0
        repeat {
            let n = min(65_535, raw.count - start)
            let last: UInt8 = start + n == raw.count ? 1 : 0
            zlib += [last, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            zlib += raw[start..<start + n]
            start += n
        } while start < raw.count
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in raw { a = (a + UInt32(byte)) % 65_521; b = (b + a) % 65_521 }
        zlib += bigEndian((b << 16) | a)

        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            let body = Array(type.utf8) + data
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in body {
                crc ^= UInt32(byte)
                for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
            }
            return bigEndian(UInt32(data.count)) + body + bigEndian(~crc)
        }
        let header = bigEndian(UInt32(width)) + bigEndian(UInt32(height)) + [8, 2, 0, 0, 0]
        let png = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header) + chunk("IDAT", zlib) + chunk("IEND", [])
        try Data(png).write(to: URL(fileURLWithPath: path))
    }

    static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
}
