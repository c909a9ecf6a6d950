import StrataTensor

/// A layer-by-layer account of a model: output shapes, parameters and multiply-accumulates.
///
/// MACs count the multiply-accumulates of convolution and linear layers for one input
/// image: what torchvision's "GFLOPS" column reports (resnet50 4.09 G). FLOPs ≈ 2 × MACs.
public struct ModelSummary: Sendable {
    public struct Row: Sendable {
        /// Dotted path of the module (`layer1.0.conv1`).
        public let name: String
        /// The module's description (`Conv2d(64→64, 3×3)`).
        public let layer: String
        public let outputShape: [Int]
        /// Parameters owned by this module itself.
        public let parameters: Int
        public let macs: Int
    }

    public let rows: [Row]
    public let inputShape: [Int]
    public let parameters: Int
    public let trainableParameters: Int
    public let macs: Int
    public let outputShape: [Int]

    /// Traces `model` (in eval mode) on a batch of one input of shape `input` ([C, H, W]).
    ///
    /// Shapes are computed with `ShapeInferenceBackend`, so no real arithmetic runs:
    /// any model summarizes in milliseconds. Leaf modules (those without children) get a
    /// row each, in the order they run.
    public init(_ model: Module, input: [Int]) {
        let paths = Dictionary(
            model.namedModules().map { (ObjectIdentifier($0.1), $0.0) }, uniquingKeysWith: { a, _ in a })
        let wasTraining = model.training
        model.eval()
        var output: [Int] = []
        let trace = ModuleTrace.capture {
            withNoGrad {
                Backends.with(ShapeInferenceBackend()) {
                    output = model(Tensor.zeros([1] + input)).shape
                }
            }
        }
        model.train(wasTraining)
        rows = trace.records.filter { $0.module.namedChildren().isEmpty }.map { r in
            Row(
                name: paths[ObjectIdentifier(r.module)] ?? "?", layer: r.module.summaryDescription,
                outputShape: r.outputShape,
                parameters: r.module.namedLocalParameters().reduce(0) { $0 + $1.1.count }, macs: r.macs)
        }
        inputShape = input
        parameters = model.parameterCount
        trainableParameters = model.parameters().filter(\.requiresGrad).reduce(0) { $0 + $1.count }
        macs = trace.records.reduce(0) { $0 + $1.macs }
        outputShape = output
    }

    /// The table as text, with totals.
    public func table() -> String {
        let header = ("Layer", "Type", "Output shape", "Params", "MACs")
        let body = rows.map {
            (
                $0.name, $0.layer, "[" + $0.outputShape.map(String.init).joined(separator: ", ") + "]",
                groupedThousands($0.parameters), groupedThousands($0.macs)
            )
        }
        let all = [header] + body
        let w0 = all.map(\.0.count).max()!
        let w1 = all.map(\.1.count).max()!
        let w2 = all.map(\.2.count).max()!
        let w3 = all.map(\.3.count).max()!
        let w4 = all.map(\.4.count).max()!
        func line(_ r: (String, String, String, String, String)) -> String {
            r.0.padded(toWidth: w0) + "  " + r.1.padded(toWidth: w1) + "  " + r.2.padded(toWidth: w2) + "  "
                + r.3.leftPadded(toWidth: w3) + "  " + r.4.leftPadded(toWidth: w4)
        }
        var out = [line(header), String(repeating: "─", count: w0 + w1 + w2 + w3 + w4 + 8)]
        out += body.map(line)
        out.append(String(repeating: "─", count: w0 + w1 + w2 + w3 + w4 + 8))
        out.append("Input: [1, \(inputShape.map(String.init).joined(separator: ", "))]   Output: \(outputShape)")
        out.append("Parameters: \(groupedThousands(parameters)) (\(groupedThousands(trainableParameters)) trainable)")
        out.append(
            "MACs: \(groupedThousands(macs)) (\(formatGiga(macs)) G multiply-accumulates per image; FLOPs ≈ 2 × MACs)")
        return out.joined(separator: "\n")
    }
}

/// 1234567 → "1,234,567".
public func groupedThousands(_ n: Int) -> String {
    let s = String(Swift.abs(n))
    var out = ""
    for (i, ch) in s.enumerated() {
        if i > 0 && (s.count - i) % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return (n < 0 ? "-" : "") + out
}

/// MACs in G with two decimals ("4.09").
public func formatGiga(_ n: Int) -> String {
    let hundredths = Int((Double(n) / 1e7).rounded())
    let frac = hundredths % 100
    return "\(hundredths / 100).\(frac < 10 ? "0" : "")\(frac)"
}

// MARK: Memory

/// A run that cannot fit in the memory this machine has left, found before allocating it.
public struct InsufficientMemoryError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

extension ModelSummary {
    /// Float32 elements of every leaf layer's output for one image (what a training step keeps for its backward).
    public var activationElements: Int { rows.reduce(0) { $0.addingSaturating($1.outputShape.reduce(1, *)) } }

    /// A lower bound of the bytes a step of `batch` images needs, in float32: the parameters (three
    /// copies when training: weights, gradients, momentum) plus, when training, every layer's output,
    /// else the largest two outputs alive at once. Real use is higher (workspaces, layouts).
    public func minimumBytes(batch: Int, training: Bool) -> Int {
        let largest = rows.map { $0.outputShape.reduce(1, *) }.max() ?? 0
        let perImage = training ? activationElements : 2 * largest
        let elements = (training ? 3 : 1).multipliedSaturating(by: parameters).addingSaturating(
            batch.multipliedSaturating(by: perImage))
        return elements.multipliedSaturating(by: 4)
    }

    /// Throws when `minimumBytes(batch:training:)` exceeds the memory the system says is available.
    /// - Parameters:
    ///   - batch: images per step.
    ///   - training: whether the step trains (keeps every output for the backward) or only infers.
    ///   - what: the run, for the message ("resnet50 at --batch 100000000").
    public func checkMemory(batch: Int, training: Bool, what: String) throws {
        guard let available = Platform.availableMemoryBytes else { return }
        let needed = minimumBytes(batch: batch, training: training)
        guard needed > available else { return }
        throw InsufficientMemoryError(
            description: "\(what) needs at least \(Self.gigabytes(needed)) for \(training ? "training" : "inference") "
                + "(parameters and activations, float32) but \(Self.gigabytes(available)) of memory is available; use a smaller batch or input"
        )
    }

    static func gigabytes(_ bytes: Int) -> String {
        if bytes >= 1 << 40 { return "\(bytes >> 40) TiB" }
        let tenths = (bytes * 10 + (1 << 29)) >> 30
        return "\(tenths / 10).\(tenths % 10) GiB"
    }
}

extension Int {
    fileprivate func addingSaturating(_ other: Int) -> Int {
        let (r, o) = addingReportingOverflow(other)
        return o ? .max : r
    }
    fileprivate func multipliedSaturating(by other: Int) -> Int {
        let (r, o) = multipliedReportingOverflow(by: other)
        return o ? .max : r
    }
}
