// swift-tools-version:6.0
import PackageDescription

// Layers, bottom up (a lower target never imports a higher one):
//   StrataTensor  tensors, reverse-mode autograd, every op (forward + backward), the Backend
//                 protocol and the portable Reference backend (the oracle for faster backends)
//   StrataNN      modules (parameters found by walking them, torchvision's dotted names),
//                 layers, state dicts, safetensors and .npy
//   StrataModels  the model zoo: one file per architecture family, and a registry
//   StrataImage   JPEG/PNG decoding (through _CImage: libturbojpeg, libpng) and the
//                 torchvision-style transforms (resize, crop, normalize to a tensor), PNG encoding
//   StrataPlot    charts (line, scatter), image grids, colour maps and heat maps, rasterized in Swift
//                 and written as PNG (beside StrataImage, below StrataData: training may draw figures)
//   StrataData    datasets (CIFAR, MNIST, ImageFolder, synthetic), transforms, batch loading and prefetching
//   StrataTraining optimizers, schedules, evaluation, the trainer, checkpoints, run logs
//   StrataDNNL    the oneDNN backend (the only target that imports the C module _CDNNL)
//   StrataDistributed process groups (allreduce, broadcast, send/receive) over Open MPI (the only
//                 target that imports _CMPI) or a single process; multi-rank tests run under mpirun
//   StrataParallel data-parallel training: the trainer's gradient synchronizer over a process group
//   Strata        the umbrella module users import
//   strata        the command-line tool
let package = Package(
    name: "Strata",
    products: [
        .library(name: "Strata", targets: ["Strata"]),
        // One product per layer, for users who need only part of it: StrataTensor and StrataNN link no C
        // library; StrataImage links libjpeg-turbo and libpng, StrataData zlib too, StrataDNNL oneDNN,
        // StrataDistributed Open MPI (Scripts/check-products.sh checks this from the package graph).
        .library(name: "StrataTensor", targets: ["StrataTensor"]),
        .library(name: "StrataNN", targets: ["StrataNN"]),
        .library(name: "StrataModels", targets: ["StrataModels"]),
        .library(name: "StrataPretrained", targets: ["StrataPretrained"]),
        .library(name: "StrataImage", targets: ["StrataImage"]),
        .library(name: "StrataPlot", targets: ["StrataPlot"]),
        .library(name: "StrataData", targets: ["StrataData"]),
        .library(name: "StrataTraining", targets: ["StrataTraining"]),
        .library(name: "StrataDNNL", targets: ["StrataDNNL"]),
        .library(name: "StrataDistributed", targets: ["StrataDistributed"]),
        .executable(name: "strata", targets: ["strata"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        // DocC (`swift package generate-documentation`, Scripts/check-docs.sh); a plugin only: nothing links it.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .target(name: "StrataTensor"),
        .target(name: "StrataNN", dependencies: ["StrataTensor"]),
        .target(name: "StrataModels", dependencies: ["StrataNN"]),
        .systemLibrary(name: "_CZlib", path: "Sources/_CZlib"), // zlib (gzip datasets); only StrataData imports it
        .target(name: "StrataData", dependencies: ["StrataTensor", "StrataNN", "_CZlib", "StrataImage"]),
        .target(name: "StrataTraining", dependencies: ["StrataNN", "StrataData"]),
        // System libraries: apt-get install libturbojpeg0-dev libpng-dev pkg-config
        .systemLibrary(
            name: "_CImage",
            pkgConfig: "libpng",
            providers: [.apt(["libturbojpeg0-dev", "libpng-dev"]), .brew(["jpeg-turbo", "libpng"])]
        ),
        .target(name: "StrataImage", dependencies: ["_CImage", "StrataTensor"]),
        // Figures (charts, filter grids, heat maps) drawn in Swift, written as PNG through StrataImage.
        .target(name: "StrataPlot", dependencies: ["StrataImage", "StrataTensor"]),
        // oneDNN 2.6 from Debian's libdnnl-dev (no pkg-config file: the module map links "dnnl").
        .systemLibrary(name: "_CDNNL", providers: [.apt(["libdnnl-dev"])]),
        .target(name: "StrataDNNL", dependencies: ["StrataTensor", "_CDNNL"]),
        // Open MPI 4.1 from Debian's libopenmpi-dev (pkg-config "ompi" gives mpi.h's include path).
        .systemLibrary(name: "_CMPI", pkgConfig: "ompi", providers: [.apt(["libopenmpi-dev"])]),
        .target(name: "StrataDistributed", dependencies: ["StrataTensor", "_CMPI"]),
        // Data-parallel training: the trainer's TrainingSynchronizer over a ProcessGroup (DDP-style buckets, sync BN).
        .target(
            name: "StrataParallel", dependencies: ["StrataDistributed", "StrataTraining", "StrataNN", "StrataData"]),
        // Weights trained with Strata, shipped as resources (load offline: `--pretrained cifar10`).
        .target(name: "StrataPretrained", dependencies: ["StrataModels"], resources: [.copy("Weights")]),
        .target(
            name: "Strata",
            dependencies: [
                "StrataTensor", "StrataNN", "StrataModels", "StrataData", "StrataTraining", "StrataImage", "StrataDNNL",
                "StrataPretrained", "StrataPlot",
            ]),
        // ONNX export (`strata export`): the model traced module by module into an ONNX graph, written with
        // swift-protobuf (onnx.pb.swift generated once by Scripts/generate_onnx_proto.sh).
        .target(
            name: "StrataONNX",
            dependencies: ["StrataNN", "StrataModels", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .executableTarget(
            name: "strata",
            dependencies: [
                "Strata",
                "StrataParallel",
                "StrataDistributed",
                "StrataPlot",
                "StrataONNX",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Fuzzing (Fuzz/, Scripts/fuzz.sh): the parsers as functions of bytes, and a driver that replays a
        // corpus (any build) or runs libFuzzer (built with -DLIBFUZZER and -sanitize=fuzzer,address).
        .target(
            name: "StrataFuzzTargets",
            dependencies: ["StrataNN", "StrataData", "StrataImage", "StrataModels", "StrataTraining"],
            path: "Fuzz/Targets"
        ),
        .systemLibrary(name: "_CFuzzer", path: "Fuzz/_CFuzzer"), // a declaration only; libFuzzer links in fuzz builds
        .executableTarget(name: "strata-fuzz", dependencies: ["StrataFuzzTargets", "_CFuzzer"], path: "Fuzz/Driver"),
        .target(name: "StrataTestSupport", dependencies: ["StrataTensor"], path: "Tests/StrataTestSupport"),
        .testTarget(
            name: "StrataTensorTests",
            dependencies: ["StrataTensor", "StrataTestSupport"],
            exclude: ["Fixtures"]
        ),
        // StrataImage: reads back the PNGs written
        .testTarget(name: "StrataCLITests", dependencies: ["strata", "StrataImage"]),
        .testTarget(name: "StrataPlotTests", dependencies: ["StrataPlot", "StrataImage"]),
        .testTarget(name: "StrataDataTests", dependencies: ["StrataData", "StrataTestSupport"], exclude: ["Fixtures"]),
        .testTarget(
            name: "StrataTrainingTests",
            dependencies: ["StrataTraining", "StrataModels", "StrataTestSupport"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "StrataDNNLTests",
            dependencies: ["StrataDNNL", "StrataModels", "StrataTraining", "StrataTestSupport"]),
        .testTarget(name: "StrataNNTests", dependencies: ["StrataNN", "StrataTestSupport"], exclude: ["Fixtures"]),
        .testTarget(
            name: "StrataModelsTests",
            dependencies: ["StrataModels", "StrataTestSupport"],
            exclude: ["Fixtures"]
        ),
        .testTarget(name: "StrataDistributedTests", dependencies: ["StrataDistributed", "StrataTestSupport"]),
        .testTarget(
            name: "StrataParallelTests",
            dependencies: ["StrataParallel", "StrataModels", "StrataTraining", "StrataData", "StrataTestSupport"]),
        .testTarget(
            name: "StrataPretrainedTests",
            dependencies: ["StrataPretrained", "StrataTraining", "StrataData", "StrataModels", "StrataDNNL"]),
        .testTarget(name: "StrataONNXTests", dependencies: ["StrataONNX", "StrataModels", "StrataNN"]),
        .testTarget(name: "StrataFuzzTargetsTests", dependencies: ["StrataFuzzTargets", "StrataTestSupport"]),
        // The DocC article "Using Strata as a library" (Sources/Strata/Strata.docc), its code run and checked verbatim.
        .testTarget(name: "StrataDocumentationTests", dependencies: ["Strata"]),
        .testTarget(
            name: "StrataImageTests",
            dependencies: ["StrataImage", "Strata", "StrataTestSupport"],
            exclude: ["Fixtures"]
        ),
    ],
    // Swift 5 mode: the reference kernels hand raw buffers to DispatchQueue.concurrentPerform,
    // which strict Swift 6 checking rejects without adding any safety here.
    swiftLanguageModes: [.v5]
)
