import Foundation
import StrataData
import StrataModels
import StrataNN
import StrataTensor

@testable import StrataTraining

/// A small conv net with batch norm (buffers, running statistics): fast in a debug build.
/// [N, 1, 32, 32] → conv 4@15×15 (stride 2) → BN → ReLU → max-pool 2 → [N, 196] → linear 10.
func tinyNet() -> Module {
    Sequential(
        Conv2d(1, 4, kernel: 3, stride: 2), BatchNorm2d(4), ReLU(), MaxPool2d(kernel: 2), Flatten(),
        Linear(4 * 7 * 7, 10))
}

/// A copy of `model`'s weights in a fresh model from `make` (so runs start identically without
/// relying on GlobalRandom, which other tests use concurrently).
func clone(_ model: Module, _ make: () -> Module) throws -> Module {
    let m = make()
    try m.loadStateDict(Dictionary(uniqueKeysWithValues: model.stateDict().map { ($0.key, $0.tensor.copy()) }))
    return m
}

/// Every state-dict tensor's raw Float32 bits, by key.
func bits(_ model: Module) -> [String: [UInt32]] {
    Dictionary(uniqueKeysWithValues: model.stateDict().map { ($0.key, $0.tensor.floats.map(\.bitPattern)) })
}

func bits(_ state: [String: Tensor]) -> [String: [UInt64]] {
    state.mapValues { $0.doubles.map(\.bitPattern) }
}

/// A fresh empty directory under the system temporary directory.
func temporaryDirectory(_ tag: String = "strata-training") -> String {
    let path = NSTemporaryDirectory() + "\(tag)-\(UUID().uuidString)"
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func fileBytes(_ path: String) -> [UInt8]? {
    FileManager.default.contents(atPath: path).map { [UInt8]($0) }
}

func directoryListing(_ path: String) -> [String] {
    (try? FileManager.default.contentsOfDirectory(atPath: path).sorted()) ?? []
}

/// A tiny training setup: 48 training and 20 validation examples of the synthetic shapes.
let smallTrain = SyntheticShapes(count: 48, seed: 11)
let smallValidation = SyntheticShapes(count: 20, seed: 12)

func smallConfiguration(epochs: Int = 2) -> TrainingConfiguration {
    var c = TrainingConfiguration()
    c.model = "tiny"
    c.dataset = "synthetic-small"
    c.epochs = epochs
    c.batchSize = 16
    c.learningRate = 0.05
    c.warmupEpochs = 0.5
    c.seed = 7
    return c
}

/// A dataset whose example `bad` has a NaN pixel.
struct PoisonedDataset: Dataset {
    let base: any Dataset
    let bad: Int
    var count: Int { base.count }
    var imageShape: [Int] { base.imageShape }
    var classNames: [String] { base.classNames }
    func load(_ index: Int, into pixels: UnsafeMutableBufferPointer<Float>) -> Int {
        let label = base.load(index, into: pixels)
        if index == bad { pixels[3] = .nan }
        return label
    }
}
