import StrataNN
import StrataTensor

/// An error for a model name or setting that does not exist.
public struct ModelRegistryError: Error, CustomStringConvertible {
    public let description: String
}

/// Every architecture in the zoo, by name: `Models.make("resnet50", classes: 10)`.
public enum Models {
    /// One buildable model.
    public struct Entry: Sendable {
        /// The name to build it by (torchvision's where it has one).
        public let name: String
        /// The architecture family and paper.
        public let family: String
        /// The input it is designed for, [C, H, W].
        public let input: [Int]
        /// The class count of its reference setting (1000 for ImageNet, 10 for CIFAR/MNIST).
        public let classes: Int
        let build: @Sendable (Int) -> Module
        /// The smallest height and width it takes (its pooling and strides need at least this; PyTorch
        /// fails below it too), found by shape inference at every size and kept in
        /// `Models.minimumInputSizes`. 1 for the ResNets (global pooling after any size).
        public var minimumInputSize: Int { Models.minimumInputSizes[name] ?? (name.hasPrefix("densenet_bc_") ? 4 : 1) }
        /// Whether it takes only its own ``input`` size (LeNet-5: a fully connected layer on the flattened maps).
        public var fixedInputSize: Bool { name == "lenet5" }

        /// Checks an input of shape [C, H, W] against what the model takes; the error says what it needs.
        public func checkInput(_ shape: [Int]) throws {
            let text = shape.map(String.init).joined(separator: "×")
            let own = input.map(String.init).joined(separator: "×")
            guard shape.count == 3 else {
                throw ModelRegistryError(description: "\(name) takes C×H×W images; got shape \(text)")
            }
            guard shape[0] == input[0] else {
                throw ModelRegistryError(description: "\(name) takes \(input[0])-channel images (\(own)); got \(text)")
            }
            if fixedInputSize {
                guard Array(shape[1...]) == Array(input[1...]) else {
                    throw ModelRegistryError(
                        description:
                            "\(name) expects \(own); got \(text): pad or resize the images to \(input[1])×\(input[2])")
                }
            } else {
                let m = minimumInputSize
                guard shape[1] >= m && shape[2] >= m else {
                    throw ModelRegistryError(
                        description:
                            "\(name) needs images of at least \(m)×\(m) (it was designed for \(own)); got \(text): resize them up"
                    )
                }
            }
        }

        /// Key prefixes of the auxiliary classifiers, and a build without them (GoogLeNet, Inception-v3).
        var auxiliaryPrefixes: [String] = []
        var buildWithoutAuxiliary: (@Sendable (Int) -> Module)? = nil

        init(name: String, family: String, input: [Int], classes: Int, build: @escaping @Sendable (Int) -> Module) {
            (self.name, self.family, self.input, self.classes, self.build) = (name, family, input, classes, build)
        }

        init(
            name: String, family: String, input: [Int], classes: Int, auxiliaryPrefixes: [String],
            withoutAuxiliary: @escaping @Sendable (Int) -> Module, build: @escaping @Sendable (Int) -> Module
        ) {
            self.init(name: name, family: family, input: input, classes: classes, build: build)
            self.auxiliaryPrefixes = auxiliaryPrefixes
            buildWithoutAuxiliary = withoutAuxiliary
        }
    }

    static let imagenet = [3, 224, 224], cifar = [3, 32, 32]

    /// Smallest input height/width per model where it is more than 1 (measured: `strata summary M --input
    /// CxSxS` succeeds for every S from this up and fails below; tests run each at its minimum).
    static let minimumInputSizes: [String: Int] = {
        var m: [String: Int] = [
            "lenet5": 32, "alexnet": 63, "alexnet2012": 63, "alexnet_bn": 127, "googlenet": 15, "inception_v3": 75,
            "inception_v4": 75, "inception_resnet_v2": 75,
        ]
        for d in [11, 13, 16, 19] {
            m["vgg\(d)"] = 32
            m["vgg\(d)_bn"] = 32
        }
        for d in [121, 161, 169, 201] { m["densenet\(d)"] = 29 }
        return m
    }()

    /// Most classes a model may be built with (ImageNet-21k has 21,841; VGG's last layer at this
    /// count is 1.6 GB). More is an error, not an allocation the machine cannot hold.
    public static let maximumClasses = 100_000
    /// `densenet_bc_L_kK`: depth 10…1000 (the paper's largest is 250), growth 1…256.
    static let denseNetDepths = 10...1000, denseNetGrowth = 1...256

    static func checkClasses(_ n: Int) throws {
        guard (1...maximumClasses).contains(n) else {
            throw ModelRegistryError(description: "number of classes must be from 1 to \(maximumClasses), got \(n)")
        }
    }

    /// All models, in the order `strata models` lists them.
    public static let all: [Entry] = {
        var e: [Entry] = [
            Entry(name: "lenet5", family: "LeNet-5 (LeCun et al. 1998)", input: [1, 32, 32], classes: 10) {
                LeNet5(classes: $0)
            },
            Entry(name: "alexnet", family: "AlexNet (torchvision)", input: imagenet, classes: 1000) {
                AlexNet(variant: .torchvision, classes: $0)
            },
            Entry(
                name: "alexnet2012", family: "AlexNet (Krizhevsky et al. 2012, two towers, LRN)", input: imagenet,
                classes: 1000
            ) {
                AlexNet(variant: .original2012, classes: $0)
            },
            Entry(name: "alexnet_bn", family: "AlexNet with batch norm", input: imagenet, classes: 1000) {
                AlexNet(variant: .batchNorm, classes: $0)
            },
        ]
        for depth in [11, 13, 16, 19] {
            e.append(
                Entry(name: "vgg\(depth)", family: "VGG (Simonyan & Zisserman 2015)", input: imagenet, classes: 1000) {
                    VGG(depth: depth, classes: $0)
                })
            e.append(
                Entry(name: "vgg\(depth)_bn", family: "VGG with batch norm", input: imagenet, classes: 1000) {
                    VGG(depth: depth, batchNorm: true, classes: $0)
                })
        }
        e.append(
            Entry(
                name: "googlenet", family: "GoogLeNet (Szegedy et al. 2015)", input: imagenet, classes: 1000,
                auxiliaryPrefixes: ["aux1.", "aux2."],
                withoutAuxiliary: { GoogLeNet(classes: $0, auxiliaryClassifiers: false) }
            ) {
                GoogLeNet(classes: $0)
            })
        e.append(
            Entry(
                name: "inception_v3", family: "Inception-v3 (Szegedy et al. 2016)", input: [3, 299, 299], classes: 1000,
                auxiliaryPrefixes: ["AuxLogits."],
                withoutAuxiliary: { InceptionV3(classes: $0, auxiliaryClassifier: false) }
            ) {
                InceptionV3(classes: $0)
            })
        e.append(
            Entry(
                name: "inception_v4", family: "Inception-v4 (Szegedy et al. 2016, timm)", input: [3, 299, 299],
                classes: 1000
            ) {
                InceptionV4(classes: $0)
            })
        e.append(
            Entry(
                name: "inception_resnet_v2", family: "Inception-ResNet-v2 (Szegedy et al. 2016, timm)",
                input: [3, 299, 299],
                classes: 1000
            ) { InceptionResNetV2(classes: $0) })
        for depth in [18, 34, 50, 101, 152] {
            e.append(
                Entry(name: "resnet\(depth)", family: "ResNet (He et al. 2016)", input: imagenet, classes: 1000) {
                    ResNet(depth: depth, classes: $0)
                })
        }
        for depth in [20, 32, 44, 56, 110] {
            e.append(
                Entry(
                    name: "resnet\(depth)", family: "CIFAR ResNet, option A (He et al. 2016)", input: cifar, classes: 10
                ) {
                    CIFARResNet(depth: depth, classes: $0, shortcut: .optionA)
                })
            e.append(
                Entry(name: "resnet\(depth)_b", family: "CIFAR ResNet, option B", input: cifar, classes: 10) {
                    CIFARResNet(depth: depth, classes: $0, shortcut: .projection)
                })
            e.append(
                Entry(name: "plain\(depth)", family: "CIFAR plain net (no shortcuts)", input: cifar, classes: 10) {
                    CIFARResNet(depth: depth, classes: $0, shortcut: .none)
                })
            // Without batch norm (biased convolutions): for gradient-flow and batch-norm experiments.
            e.append(
                Entry(
                    name: "resnet\(depth)_nobn", family: "CIFAR ResNet, option A, without batch norm", input: cifar,
                    classes: 10
                ) {
                    CIFARResNet(depth: depth, classes: $0, shortcut: .optionA, batchNorm: false)
                })
            e.append(
                Entry(
                    name: "plain\(depth)_nobn", family: "CIFAR plain net without batch norm", input: cifar, classes: 10
                ) {
                    CIFARResNet(depth: depth, classes: $0, shortcut: .none, batchNorm: false)
                })
        }
        for depth in [121, 161, 169, 201] {
            e.append(
                Entry(name: "densenet\(depth)", family: "DenseNet (Huang et al. 2017)", input: imagenet, classes: 1000)
                {
                    DenseNet(depth: depth, classes: $0)
                })
        }
        e.append(
            Entry(name: "densenet_bc_100", family: "DenseNet-BC, L=100, k=12 (CIFAR)", input: cifar, classes: 10) {
                DenseNet(cifarDepth: 100, growthRate: 12, classes: $0)
            })
        return e
    }()

    /// Looks a model up by name; also accepts `densenet_bc_L_kK` for any depth L and growth K.
    public static func entry(_ name: String) throws -> Entry {
        if let e = all.first(where: { $0.name == name }) { return e }
        let parts = name.split(separator: "_")
        if parts.count == 4, parts[0] == "densenet", parts[1] == "bc" {
            guard let depth = Int(parts[2]), denseNetDepths.contains(depth), (depth - 4) % 6 == 0,
                parts[3].hasPrefix("k"), let k = Int(parts[3].dropFirst()), denseNetGrowth.contains(k)
            else {
                throw ModelRegistryError(
                    description: "'\(name)': densenet_bc_L_kK needs a depth L from \(denseNetDepths.lowerBound) to "
                        + "\(denseNetDepths.upperBound) with L − 4 a multiple of 6 (e.g. 100, 190) and a growth K from 1 to \(denseNetGrowth.upperBound)"
                )
            }
            return Entry(name: name, family: "DenseNet-BC, L=\(depth), k=\(k) (CIFAR)", input: cifar, classes: 10) {
                DenseNet(cifarDepth: depth, growthRate: k, classes: $0)
            }
        }
        let close = name.count < 3 ? [] : all.map(\.name).filter { $0.hasPrefix(String(name.prefix(3))) }
        throw ModelRegistryError(
            description: "unknown model '\(name)'"
                + (close.isEmpty ? "" : "; did you mean one of: \(close.joined(separator: ", "))?")
                + " (`strata models` lists them all)")
    }

    /// Builds a model by name with `classes` outputs (the model's reference count if nil).
    /// The model to load weights with these keys into: as ``make(_:classes:)``, but without the
    /// auxiliary classifiers when the weights have none of their keys (torchvision's
    /// `googlenet(aux_logits=False)` and `inception_v3(aux_logits=False)` save such state dicts).
    /// Such a model runs inference as usual; training it has no auxiliary losses.
    public static func make(_ name: String, classes: Int? = nil, forWeightKeys keys: some Collection<String>) throws
        -> Module
    {
        let e = try entry(name)
        if let withoutAuxiliary = e.buildWithoutAuxiliary,
            !keys.contains(where: { key in e.auxiliaryPrefixes.contains { key.hasPrefix($0) } })
        {
            let n = classes ?? e.classes
            try checkClasses(n)
            return withoutAuxiliary(n)
        }
        return try make(name, classes: classes)
    }

    public static func make(_ name: String, classes: Int? = nil) throws -> Module {
        let e = try entry(name)
        let n = classes ?? e.classes
        try checkClasses(n)
        return e.build(n)
    }
}
