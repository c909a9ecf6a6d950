import Foundation
import StrataImage
import Testing

/// `strata inspect filters|activations` and `strata classify --explain` with the shipped CIFAR-10 ResNet-20.
@Suite struct InspectCLITests {
    /// A CIFAR-10 test photo from ../shared/data, else nil.
    static let photo: String? = {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let path = repo.deletingLastPathComponent().appendingPathComponent(
            "shared/data/photos/cifar10-test-samples/cat_0000.jpg"
        ).path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }()

    static func distinctColors(_ image: Image) -> Int {
        let c = image.channels
        var seen = Set<Int>()
        for i in 0..<(image.width * image.height) {
            var v = 0
            for k in 0..<c { v = v << 8 | Int(image.pixels[c * i + k]) }
            seen.insert(v)
        }
        return seen.count
    }

    /// The 16 first-layer filters (3×3×3) of resnet20, enlarged 11× to 33 px, in 4 × 4 with 2 px padding.
    static func filters() throws -> String {
        let out = temporaryPath("filters-\(UUID().uuidString).png")
        let r = try runStrata(["inspect", "filters", "--model", "resnet20", "--pretrained", "cifar10", "--output", out])
        #expect(r.status == 0, "\(r.stderr)")
        return out
    }

    @Test func filtersOfThePretrainedResNet20() throws {
        let image = try ImageDecoder.decode(path: try Self.filters())
        #expect(image.width == 4 * 33 + 5 * 2 && image.height == 4 * 33 + 5 * 2 && image.channels == 3)
        #expect(Self.distinctColors(image) > 50)
    }

    /// On a CIFAR-10 photo when ../shared/data is there, else on the filters' PNG (any image will do).
    @Test func activationsOfLayer1() throws {
        let input = try Self.photo ?? Self.filters()
        let out = temporaryPath("maps-\(UUID().uuidString).png")
        let r = try runStrata([
            "inspect", "activations", input, "--model", "resnet20", "--pretrained", "cifar10",
            "--layer", "layer1", "--output", out,
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("16 of 16 feature maps of layer1, 32×32"), "\(r.stdout)")
        let image = try ImageDecoder.decode(path: out)
        #expect(image.width == 4 * 32 + 5 * 2 && image.height == 4 * 32 + 5 * 2)
        #expect(Self.distinctColors(image) > 50)
        let few = try runStrata([
            "inspect", "activations", input, "--model", "resnet20", "--pretrained", "cifar10",
            "--layer", "layer3.2.conv2", "--max-maps", "4", "--output", out,
        ])
        #expect(few.status == 0, "\(few.stderr)")
        #expect(try ImageDecoder.decode(path: out).width == 2 * 32 + 3 * 2) // 8×8 maps enlarged 4×, 2 columns
    }

    @Test func explainWritesAGradCAMPicture() throws {
        let input = try Self.photo ?? Self.filters()
        let dir = temporaryPath("cams-\(UUID().uuidString)")
        let r = try runStrata([
            "classify", input, "--model", "resnet20", "--pretrained", "cifar10", "--explain", "--explain-output", dir,
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let stem = ((input as NSString).lastPathComponent as NSString).deletingPathExtension
        let out = dir + "/" + stem + ".gradcam.png"
        #expect(
            r.stdout.contains("  1. ") && r.stdout.contains("Grad-CAM of ") && r.stdout.contains(out), "\(r.stdout)")
        let image = try ImageDecoder.decode(path: out)
        #expect(image.width == 224 && image.height == 224 && image.channels == 3) // the 32×32 crop enlarged 7×
        #expect(Self.distinctColors(image) > 100)
    }

    @Test(arguments: [
        [
            "inspect", "activations", "IMAGE", "--model", "resnet20", "--pretrained", "cifar10", "--layer", "layer9",
            "--output", "OUT",
        ],
        [
            "inspect", "filters", "--model", "resnet20", "--pretrained", "cifar10", "--layer", "layer1.7.conv1",
            "--output", "OUT",
        ],
        [
            "classify", "IMAGE", "--model", "resnet20", "--pretrained", "cifar10", "--explain", "--explain-layer",
            "block9",
        ],
    ])
    func unknownLayerIsAClearError(_ template: [String]) throws {
        let input = try Self.photo ?? Self.filters()
        let out = temporaryPath("never-\(UUID().uuidString).png")
        let r = try runStrata(template.map { $0 == "IMAGE" ? input : $0 == "OUT" ? out : $0 })
        let layer = template[template.firstIndex { $0 == "--layer" || $0 == "--explain-layer" }! + 1]
        #expect(r.status != 0 && r.status < 128, "\(r.stderr)")
        #expect(
            r.stderr.contains("no module '\(layer)' in resnet20") && r.stderr.contains("strata summary resnet20"),
            "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func aLayerThatIsNotAFeatureMapIsAnError() throws {
        let input = try Self.photo ?? Self.filters()
        let r = try runStrata([
            "inspect", "activations", input, "--model", "resnet20", "--pretrained", "cifar10",
            "--layer", "fc", "--output", temporaryPath("fc.png"),
        ])
        #expect(r.status != 0 && r.status < 128)
        #expect(r.stderr.contains("outputs shape [1, 10]"), "\(r.stderr)")
    }
}
