// Model parallelism as in AlexNet (Krizhevsky, Sutskever, Hinton, NeurIPS 2012, Section 3.2 and
// Fig. 2): the network's two towers on two ranks, exchanging activations where the paper's GPUs
// communicate. `alexnet2012` (StrataModels) is the same network in one process, its towers' separation
// kept as grouped convolutions (groups 2 in conv2, conv4, conv5).
//
// Design
// ------
// Rank r holds tower r: half of every layer's output units, and exactly the weights computing them
// (rows [n·r/2, n·(r+1)/2) of every weight and bias, n the layer's output count), under the
// single-process model's own state-dict keys (`features.0.weight` of tower 0 is rows 0..<48 of
// alexnet2012's `features.0.weight`). Splitting a state dict is cutting every tensor along axis 0;
// assembling it is concatenating the towers' tensors; optimizer state (`features.0.weight/momentum_buffer`)
// follows its parameter. So a model-parallel checkpoint is an ordinary alexnet2012 checkpoint.
//
//   input [N, 3, H, W]           both ranks read the same batch (not split)
//   conv1 → 48 maps, ReLU, LRN*, max-pool
//   conv2 (its group: reads its own 48 maps) → 128, ReLU, LRN*, max-pool
//   ── all-gather channels: [N, 256, h, w] on both ───────────────  the paper's first exchange
//   conv3 (reads all 256) → 192, ReLU
//   conv4 (its group: its own 192) → 192, ReLU
//   conv5 (its group) → 128, ReLU, max-pool, adaptive avg-pool 6×6, flatten [N, 128·36]
//   ── all-gather features: [N, 9216] (channel-major, so the towers' halves are contiguous) ──
//   dropout, fc6 → 2048, ReLU
//   ── all-gather: [N, 4096] ──
//   dropout, fc7 → 2048, ReLU
//   ── all-gather: [N, 4096] ──
//   fc8 → classes/2 logits (⌊c/2⌋ on rank 0 for odd c)
//   ── all-gather logits: [N, classes] on both; the loss is computed on both, identically ──
//
// fc8 is split like the other fully connected layers (the paper's FC layers read all of the
// previous layer's outputs: fc6, fc7 and fc8 each read the all-gathered layer below), so no
// weight is held twice and no gradient needs averaging.
//
// * LRN: the paper normalized each GPU's maps by themselves; alexnet2012 (one net) normalizes across
//   all 96 (256) channels, so the windows of the size/2 channels at the towers' border reach into the
//   other tower. To equal alexnet2012 exactly each rank gathers the other's size/2 border channels
//   (2 of 48: 4% of conv1's output) and normalizes its maps with them; a model trained the paper's
//   way would skip this exchange.
//
// Gradients. `ProcessGroup.differentiableAllGather` (StrataDistributed) is the exchange: forward, an
// all-gather; backward, the sum over the ranks of every rank's gradient with respect to the gathered
// tensor, then this rank's slice (a reduce-scatter), because each rank feeds the gathered tensor to its
// own half of the next layer, so the loss depends on a rank's activations through both ranks. The
// logits are the exception: both ranks compute the same loss from the same logits, so each rank's
// gradient is already the whole gradient (`GatheredGradient.replicated`: its slice, no
// communication). After the backward each rank holds exactly the gradients of its own weights, and
// the optimizer steps locally: nothing is averaged. Dropout masks come from `GlobalRandom`, drawn on
// the all-gathered tensors of the single-process shapes, so ranks started from the same seed draw the
// same masks as one process would.
//
// The trainer sees a `ModelParallel` synchronizer: both ranks read every batch whole
// (`splitsBatches` false), compare a fingerprint at the start, evaluate the whole validation set,
// and gather the towers' parts to rank 0 for each checkpoint (which is alexnet2012's state dict).
//
// Other splits. A pipeline of ResNet stages would be another `Module` whose forward runs its stages
// and passes activations on with `send`/`receive` (autograd-aware versions: forward send = backward
// receive of the gradient), with `TensorPartition` mapping each full key to the rank holding it;
// `ModelParallel` would then carry it unchanged (batches whole on every rank, the checkpoint
// gathered), only the loss being computed on the last stage.

import Foundation
import StrataData
import StrataDistributed
import StrataNN
import StrataTensor
import StrataTraining

/// A model whose state is cut across the ranks of a process group along axis 0 of some tensors:
/// how a full (single-process) state dict maps onto this rank's part.
public protocol TensorPartition {
    /// The number of parts (ranks).
    var partCount: Int { get }
    /// The range of axis 0 of the full tensor `key` (a state-dict key of the single-process model)
    /// that each part holds, indexed by part; nil when every part holds the whole tensor.
    func ranges(ofFullKey key: String) -> [Range<Int>]?
}

extension TensorPartition {
    /// Part `part` of a full state dict (model or optimizer state: an optimizer key
    /// `"<parameter>/<slot>"` is cut as its parameter when it has the parameter's full length on
    /// axis 0, otherwise — AdamW's `step` — kept whole).
    public func part(_ part: Int, of full: [String: Tensor]) -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (key, t) in full {
            if let ranges = partRanges(key), t.rank >= 1, t.shape[0] == ranges.last!.upperBound {
                out[key] = withNoGrad { t.slice(axis: 0, start: ranges[part].lowerBound, end: ranges[part].upperBound) }
            } else {
                out[key] = t
            }
        }
        return out
    }

    /// The full state dict from every part's (in part order): the inverse of ``part(_:of:)``.
    public func assemble(_ parts: [[String: Tensor]]) throws -> [String: Tensor] {
        guard parts.count == partCount, let first = parts.first else {
            throw DataParallelError(
                message: "assembling a state dict needs \(partCount) parts, got \(parts.count)", collective: true)
        }
        var out: [String: Tensor] = [:]
        for (key, t) in first {
            let pieces = try parts.enumerated().map { i, p -> Tensor in
                guard let piece = p[key] else {
                    throw DataParallelError(
                        message: "part \(i) of the state dict has no \(key) (part 0 has)", collective: true)
                }
                return piece
            }
            if let ranges = partRanges(key), zip(pieces, ranges).allSatisfy({ $0.rank >= 1 && $0.shape[0] == $1.count })
            {
                out[key] = withNoGrad { Tensor.concatenate(pieces, axis: 0) }
            } else {
                out[key] = t
            }
        }
        return out
    }

    /// The ranges of `key`, or of its parameter for an optimizer key `"<parameter>/<slot>"`.
    private func partRanges(_ key: String) -> [Range<Int>]? {
        if let r = ranges(ofFullKey: key) { return r }
        guard let slash = key.firstIndex(of: "/") else { return nil }
        return ranges(ofFullKey: String(key[..<slash]))
    }
}

/// AlexNet (Krizhevsky et al. 2012) as the paper trained it: two towers on two ranks, one each, the
/// towers exchanging activations into conv3 and into every fully connected layer (see the design
/// notes at the top of ModelParallel.swift). The same network as StrataModels' `alexnet2012`, the
/// same state-dict keys (each tensor this tower's rows), so its weights load there and back:
///
/// ```swift
/// let group = try ProcessGroups.current()                      // mpirun -np 2
/// GlobalRandom.seed(0)
/// let full = try Models.make("alexnet2012", classes: 1000)      // the same on both ranks
/// let tower = try ModelParallelAlexNet(group: group, configuration: .alexnet2012(classes: 1000),
///                                      fullStateDict: Dictionary(uniqueKeysWithValues: full.stateDict().map { ($0.key, $0.tensor) }))
/// let logits = tower(images)                                  // [N, 1000] on both ranks
/// ```
///
/// The forward is a collective: both ranks run it, on the same images, in the same order (and the
/// backward too). Input: 3 channels, at least 63×63.
public final class ModelParallelAlexNet: Module, TensorPartition {
    /// The layer sizes of the whole (two-tower) network; ``alexnet2012(classes:)`` is the paper's.
    public struct Configuration: Sendable, Equatable, TensorPartition {
        /// Output channels of conv1…conv5 of the whole network (each even: half per tower).
        public var channels: [Int]
        /// Outputs of fc6 and fc7 (even).
        public var hidden: Int
        /// Logits (fc8's outputs).
        public var classes: Int
        /// Dropout probability before fc6 and fc7.
        public var dropout: Double
        /// Local response normalization after conv1 and conv2 (size, α, β, k).
        public var lrnSize: Int, lrnAlpha: Double, lrnBeta: Double, lrnK: Double

        public init(
            channels: [Int], hidden: Int, classes: Int, dropout: Double = 0.5,
            lrnSize: Int = 5, lrnAlpha: Double = 1e-4, lrnBeta: Double = 0.75, lrnK: Double = 2
        ) {
            (self.channels, self.hidden, self.classes, self.dropout) = (channels, hidden, classes, dropout)
            (self.lrnSize, self.lrnAlpha, self.lrnBeta, self.lrnK) = (lrnSize, lrnAlpha, lrnBeta, lrnK)
        }

        /// `alexnet2012`: 96-256-384-384-256 channels, fc 4096-4096-`classes`, LRN(5, 1e-4, 0.75, 2).
        public static func alexnet2012(classes: Int = 1000) -> Configuration {
            Configuration(channels: [96, 256, 384, 384, 256], hidden: 4096, classes: classes)
        }

        /// Throws unless the sizes split into two towers.
        public func validate() throws {
            func fail(_ s: String) -> DataParallelError {
                DataParallelError(message: "model-parallel AlexNet: \(s)", collective: true)
            }
            guard channels.count == 5 else {
                throw fail("5 convolutions' channel counts are needed, got \(channels.count)")
            }
            guard channels.allSatisfy({ $0 > 0 && $0 % 2 == 0 }), hidden > 0, hidden % 2 == 0 else {
                throw fail(
                    "every channel count and the hidden width must be positive and even (one half per tower), got \(channels) and \(hidden)"
                )
            }
            guard classes >= 2 else {
                throw fail("at least 2 classes are needed (one logit per tower at least), got \(classes)")
            }
            guard lrnSize >= 1, lrnSize / 2 <= channels[0] / 2, lrnSize / 2 <= channels[1] / 2 else {
                throw fail(
                    "LRN size \(lrnSize) reaches past a tower's \(Swift.min(channels[0], channels[1]) / 2) channels")
            }
        }

        /// The state-dict prefixes of the weighted layers and their output counts, in order
        /// (alexnet2012's Sequential indices).
        var layers: [(key: String, outputs: Int)] {
            [
                ("features.0", channels[0]), ("features.4", channels[1]), ("features.8", channels[2]),
                ("features.10", channels[3]), ("features.12", channels[4]),
                ("classifier.1", hidden), ("classifier.4", hidden), ("classifier.6", classes),
            ]
        }

        public var partCount: Int { 2 }

        /// Rows [n·t/2, n·(t+1)/2) of each weight and bias (n the layer's outputs) for tower t.
        public func ranges(ofFullKey key: String) -> [Range<Int>]? {
            guard let dot = key.lastIndex(of: "."), ["weight", "bias"].contains(key[key.index(after: dot)...]),
                let layer = layers.first(where: { $0.key == key[..<dot] })
            else { return nil }
            return (0..<2).map { Self.range(layer.outputs, tower: $0) }
        }

        /// Tower `tower`'s rows of a layer with `n` outputs.
        static func range(_ n: Int, tower: Int) -> Range<Int> { n * tower / 2..<n * (tower + 1) / 2 }

        /// The whole network in one process, as StrataModels builds `alexnet2012` (the same modules,
        /// keys and initialization order): the reference for a width-scaled configuration.
        public func makeSingleProcessModel() -> Module {
            let c = channels
            let lrn = { LocalResponseNorm(size: self.lrnSize, alpha: self.lrnAlpha, beta: self.lrnBeta, k: self.lrnK) }
            let pool = { MaxPool2d(kernel: 3, stride: 2) }
            let features = Sequential([
                Conv2d(3, c[0], kernel: 11, stride: 4, padding: 2), ReLU(), lrn(), pool(),
                Conv2d(c[0], c[1], kernel: 5, padding: 2, groups: 2), ReLU(), lrn(), pool(),
                Conv2d(c[1], c[2], kernel: 3, padding: 1), ReLU(),
                Conv2d(c[2], c[3], kernel: 3, padding: 1, groups: 2), ReLU(),
                Conv2d(c[3], c[4], kernel: 3, padding: 1, groups: 2), ReLU(), pool(),
            ])
            let classifier = Sequential([
                Dropout(dropout), Linear(c[4] * 36, hidden), ReLU(), Dropout(dropout),
                Linear(hidden, hidden), ReLU(), Linear(hidden, classes),
            ])
            return SingleProcessAlexNet(features: features, classifier: classifier)
        }
    }

    public let group: any ProcessGroup
    public let configuration: Configuration
    /// This rank's tower (0 or 1).
    public var tower: Int { group.rank }
    public var partCount: Int { 2 }

    // conv1…conv5 under alexnet2012's indices 0, 4, 8, 10, 12; fc6…fc8 under 1, 4, 6.
    let features: Sequential
    let classifier: Sequential
    let dropout6: Dropout, dropout7: Dropout

    /// Tower `group.rank` of a two-rank group with placeholder weights (each layer's default
    /// initialization with this tower's fan-in, drawn without moving `GlobalRandom`): load a full state
    /// dict (``loadFullStateDict(_:)``) to start both towers from one model.
    public init(group: any ProcessGroup, configuration: Configuration) throws {
        guard group.size == 2 else {
            throw DataParallelError(
                message:
                    "model-parallel AlexNet runs on exactly 2 ranks (one tower each); this group has \(group.size) (start with mpirun -np 2)",
                collective: true)
        }
        try configuration.validate()
        self.group = group
        self.configuration = configuration
        let c = configuration.channels.map { $0 / 2 }
        let h = configuration.hidden / 2
        let logits = Configuration.range(configuration.classes, tower: group.rank).count
        // The layers' own initialization is overwritten by a full state dict; it must not draw from
        // GlobalRandom, whose state both ranks (and one process) need to share for dropout.
        let random = GlobalRandom.state
        defer { GlobalRandom.state = random }
        features = Sequential(named: [
            ("0", Conv2d(3, c[0], kernel: 11, stride: 4, padding: 2)),
            ("4", Conv2d(c[0], c[1], kernel: 5, padding: 2)), // its group: its own conv1 maps
            ("8", Conv2d(2 * c[1], c[2], kernel: 3, padding: 1)), // both towers' conv2 maps
            ("10", Conv2d(c[2], c[3], kernel: 3, padding: 1)),
            ("12", Conv2d(c[3], c[4], kernel: 3, padding: 1)),
        ])
        classifier = Sequential(named: [
            ("1", Linear(2 * c[4] * 36, h)), ("4", Linear(2 * h, h)), ("6", Linear(2 * h, logits)),
        ])
        dropout6 = Dropout(configuration.dropout)
        dropout7 = Dropout(configuration.dropout)
        super.init()
    }

    /// Tower `group.rank`, holding its part of `fullStateDict` (the whole network's: alexnet2012's
    /// keys and shapes, checked).
    public convenience init(group: any ProcessGroup, configuration: Configuration, fullStateDict: [String: Tensor])
        throws
    {
        try self.init(group: group, configuration: configuration)
        try loadFullStateDict(fullStateDict)
    }

    /// Loads this tower's part of the whole network's state dict (shapes checked against the
    /// configuration; a mismatch throws naming the tensors).
    public func loadFullStateDict(_ full: [String: Tensor]) throws {
        var expected: [String: [Int]] = [:]
        for (key, t) in stateDict() {
            var shape = t.shape
            if let r = ranges(ofFullKey: key) { shape[0] = r.last!.upperBound }
            expected[key] = shape
        }
        let problems =
            expected.keys.sorted().compactMap { key -> String? in
                guard let t = full[key] else { return "\(key) is missing" }
                return t.shape == expected[key]! ? nil : "\(key) has shape \(t.shape), expected \(expected[key]!)"
            } + full.keys.sorted().filter { expected[$0] == nil }.map { "\($0) is not a key of the network" }
        guard problems.isEmpty else {
            throw DataParallelError(
                message:
                    "the state dict does not fit the two-tower AlexNet \(configuration.channels)/\(configuration.hidden)/\(configuration.classes): "
                    + problems.joined(separator: "; "), collective: true)
        }
        try loadStateDict(part(tower, of: full))
    }

    public func ranges(ofFullKey key: String) -> [Range<Int>]? { configuration.ranges(ofFullKey: key) }

    public override func forward(_ x: Tensor) -> Tensor {
        do {
            let conv = (0..<5).map { features[$0] }
            var h = try responseNorm(conv[0](x).relu())
            h = maxPool2d(h, Self.pool)
            h = maxPool2d(try responseNorm(conv[1](h).relu()), Self.pool)
            h = try group.differentiableAllGather(h, axis: 1) // into conv3
            h = conv[2](h).relu()
            h = conv[3](h).relu()
            h = maxPool2d(conv[4](h).relu(), Self.pool)
            h = adaptiveAvgPool2d(h, outputSize: (6, 6)).flattened()
            h = try group.differentiableAllGather(h, axis: 1) // into fc6
            h = try group.differentiableAllGather(classifier[0](dropout6(h)).relu(), axis: 1) // into fc7
            h = try group.differentiableAllGather(classifier[1](dropout7(h)).relu(), axis: 1) // into fc8
            let sizes = (0..<2).map { Configuration.range(configuration.classes, tower: $0).count }
            return try group.differentiableAllGather(classifier[2](h), axis: 1, sizes: sizes, gradient: .replicated)
        } catch {
            // A forward cannot throw: a rank that cannot exchange ends the job (the other would wait).
            DataParallel.fail(error, group: group)
        }
    }

    static let pool = Pool2dParameters(kernel: (3, 3), stride: (2, 2))

    /// LRN across the channels of both towers: this rank's maps with the other tower's size/2
    /// border maps next to them, normalized, cut back to this rank's.
    func responseNorm(_ x: Tensor) throws -> Tensor {
        let c = configuration
        let h = c.lrnSize / 2
        let n = x.shape[1]
        guard h > 0 else { return localResponseNorm(x, size: c.lrnSize, alpha: c.lrnAlpha, beta: c.lrnBeta, k: c.lrnK) }
        // Each rank offers [first h maps, last h maps]; rank 0 needs rank 1's first h, rank 1 rank 0's last h.
        let edges = Tensor.concatenate(
            [x.slice(axis: 1, start: 0, end: h), x.slice(axis: 1, start: n - h, end: n)], axis: 1)
        let all = try group.differentiableAllGather(edges, axis: 1) // [N, 4h, H, W]
        let joined =
            tower == 0
            ? Tensor.concatenate([x, all.slice(axis: 1, start: 2 * h, end: 3 * h)], axis: 1)
            : Tensor.concatenate([all.slice(axis: 1, start: h, end: 2 * h), x], axis: 1)
        let y = localResponseNorm(joined, size: c.lrnSize, alpha: c.lrnAlpha, beta: c.lrnBeta, k: c.lrnK)
        return y.slice(axis: 1, start: tower == 0 ? 0 : h, end: (tower == 0 ? 0 : h) + n)
    }
}

/// The whole network in one process (alexnet2012's modules and keys): features, avgpool, classifier.
final class SingleProcessAlexNet: Module {
    let features: Sequential
    let avgpool = AdaptiveAvgPool2d(6)
    let classifier: Sequential
    init(features: Sequential, classifier: Sequential) { (self.features, self.classifier) = (features, classifier) }
    override func forward(_ x: Tensor) -> Tensor { classifier(avgpool(features(x)).flattened()) }
}

/// The trainer's side of model parallelism (``ModelParallelAlexNet``, or any model that is a
/// ``TensorPartition``): every rank reads every batch whole; nothing is averaged (each rank's
/// gradients are those of its own weights); the checkpoint is the whole network's, assembled on rank 0.
///
/// ```swift
/// let trainer = Trainer(model: tower, configuration: c)
/// trainer.synchronizer = ModelParallel(group: group, partition: tower)
/// if group.isPrimary { trainer.runDirectory = run }
/// ```
///
/// Gradient clipping by the global norm is not supported (each rank sees half of the gradients):
/// ``start(model:optimizer:fingerprint:)`` throws when it is set.
public final class ModelParallel: TrainingSynchronizer {
    public let group: any ProcessGroup
    public let partition: any TensorPartition

    public init(group: any ProcessGroup, partition: any TensorPartition) {
        self.group = group
        self.partition = partition
    }

    public var rank: Int { group.rank }
    public var size: Int { group.size }
    public var splitsBatches: Bool { false }

    public func start(model: Module, optimizer: any Optimizer, fingerprint: [(name: String, value: String)]) throws {
        guard partition.partCount == size else {
            throw DataParallelError(
                message: "the model is split into \(partition.partCount) parts; the job has \(size) ranks",
                collective: true)
        }
        if let clip = fingerprint.first(where: { $0.name == "clip_grad_norm" }), clip.value != "null" {
            throw DataParallelError(
                message:
                    "gradient clipping (clip_grad_norm \(clip.value)) is not supported with model parallelism: each rank holds half of the gradients",
                collective: true)
        }
        // Dropout masks must be the same on every rank: so must the generator.
        let items =
            fingerprint + [
                ("model parallel parts", "\(size)"), ("random state", "\(GlobalRandom.state.state)"),
                ("optimizer state", optimizer.stateDict().keys.sorted().joined(separator: ",")),
            ]
        try DataParallel(group: group).compare(items)
    }

    /// The values of the one batch every rank computed alike (their mean, so that the ranks agree
    /// bit for bit, and a stop requested on any rank reaches all).
    public func sum(_ values: [Double]) throws -> [Double] {
        let t = Tensor(values, shape: [values.count])
        try group.allReduce(t, op: .average)
        return t.doubles
    }

    public func beginBackward(parameters: [Tensor]) {}
    public func gradientReady(_ parameter: Tensor) {}
    public func finishBackward() throws {}

    /// Every rank evaluates the whole dataset (the forward is a collective).
    public func evaluate(_ dataset: any Dataset, model: Module, _ evaluate: (any Dataset) -> EvaluationResult) throws
        -> EvaluationResult
    {
        evaluate(dataset)
    }

    public func checkpointState(model: Module, optimizer: any Optimizer) throws -> (
        model: [(key: String, tensor: Tensor)], optimizer: [String: Tensor]
    )? {
        let order = model.stateDict().map(\.key)
        // Both gathers on every rank (rank 0 alone gets results).
        let full = try gatherToPrimary(Dictionary(uniqueKeysWithValues: model.stateDict().map { ($0.key, $0.tensor) }))
        let optimizerState = try gatherToPrimary(optimizer.stateDict())
        guard let full, let optimizerState else { return nil }
        return (order.map { (key: $0, tensor: full[$0]!) }, optimizerState)
    }

    public func localState(model: [String: Tensor], optimizer: [String: Tensor]) throws -> (
        model: [String: Tensor], optimizer: [String: Tensor]
    ) {
        (partition.part(rank, of: model), partition.part(rank, of: optimizer))
    }

    /// Every rank's `state` sent to rank 0 (key by key, sorted; each tensor preceded by its shape),
    /// which returns the assembled whole; nil on the other ranks.
    public func gatherToPrimary(_ state: [String: Tensor]) throws -> [String: Tensor]? {
        let keys = state.keys.sorted()
        let headerTag = 7101
        let dataTag = 7102
        let maxRank = 8
        guard rank == 0 else {
            for key in keys {
                let t = state[key]!
                guard t.rank <= maxRank else {
                    throw DataParallelError(
                        message: "\(key) has \(t.rank) dimensions; at most \(maxRank) can be gathered",
                        collective: false)
                }
                let header =
                    [Double(t.rank), t.dtype == .float32 ? 32 : 64] + t.shape.map(Double.init)
                    + [Double](repeating: 0, count: maxRank - t.rank)
                try group.send(Tensor(header, shape: [header.count]), to: 0, tag: headerTag)
                try group.send(t, to: 0, tag: dataTag)
            }
            return nil
        }
        var parts: [[String: Tensor]] = [state]
        for source in 1..<size {
            var part: [String: Tensor] = [:]
            for key in keys {
                let header = Tensor.zeros([2 + maxRank], dtype: .float64)
                try group.receive(header, from: source, tag: headerTag)
                let h = header.doubles
                let shape = h[2..<2 + Int(h[0])].map { Int($0) }
                let t = Tensor.zeros(shape, dtype: h[1] == 32 ? .float32 : .float64)
                try group.receive(t, from: source, tag: dataTag)
                part[key] = t
            }
            parts.append(part)
        }
        return try partition.assemble(parts)
    }
}
