/// Convolution settings, as in `torch.nn.functional.conv2d` but with asymmetric padding.
public struct Conv2dParameters: Hashable, Sendable, CustomStringConvertible {
    public var strideH: Int, strideW: Int
    public var padTop: Int, padBottom: Int, padLeft: Int, padRight: Int
    public var dilationH: Int, dilationW: Int
    public var groups: Int

    public init(
        stride: (Int, Int), padding: (top: Int, bottom: Int, left: Int, right: Int),
        dilation: (Int, Int) = (1, 1), groups: Int = 1
    ) {
        (strideH, strideW) = stride
        (padTop, padBottom, padLeft, padRight) = padding
        (dilationH, dilationW) = dilation
        self.groups = groups
    }

    /// Symmetric settings: `padding` on every side.
    public init(stride: Int = 1, padding: Int = 0, dilation: Int = 1, groups: Int = 1) {
        self.init(
            stride: (stride, stride), padding: (padding, padding, padding, padding), dilation: (dilation, dilation),
            groups: groups)
    }

    /// Output spatial size for an input of `h`×`w` and a `kh`×`kw` kernel.
    /// Output height and width; ≤ 0 when the (dilated) kernel is larger than the padded input.
    /// Division rounds down, as PyTorch's does (Swift's `/` rounds toward zero, which made a
    /// negative span look like one output).
    public func outputSize(h: Int, w: Int, kh: Int, kw: Int) -> (Int, Int) {
        (
            floorDivide(h + padTop + padBottom - dilationH * (kh - 1) - 1, strideH) + 1,
            floorDivide(w + padLeft + padRight - dilationW * (kw - 1) - 1, strideW) + 1
        )
    }

    public var description: String {
        "stride (\(strideH), \(strideW)), padding (t \(padTop), b \(padBottom), l \(padLeft), r \(padRight)), dilation (\(dilationH), \(dilationW)), groups \(groups)"
    }
}

/// Pooling settings, as in `torch.nn.MaxPool2d` / `AvgPool2d`.
public struct Pool2dParameters: Hashable, Sendable {
    public var kernelH: Int, kernelW: Int
    public var strideH: Int, strideW: Int
    public var padH: Int, padW: Int
    public var ceilMode: Bool
    /// Average pooling only: whether padded zeros count in the divisor.
    public var countIncludePad: Bool

    public init(
        kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0),
        ceilMode: Bool = false, countIncludePad: Bool = true
    ) {
        (kernelH, kernelW) = kernel
        (strideH, strideW) = stride ?? kernel
        (padH, padW) = padding
        self.ceilMode = ceilMode
        self.countIncludePad = countIncludePad
    }

    public init(kernel: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false, countIncludePad: Bool = true)
    {
        self.init(
            kernel: (kernel, kernel), stride: (stride ?? kernel, stride ?? kernel), padding: (padding, padding),
            ceilMode: ceilMode, countIncludePad: countIncludePad)
    }

    /// PyTorch's rule: in ceil mode the last window must start inside the input or its left padding.
    static func outputLength(_ input: Int, kernel: Int, stride: Int, pad: Int, ceil: Bool) -> Int {
        let span = input + 2 * pad - kernel
        // Rounded down (PyTorch's div_rtn): an input smaller than the window gives ≤ 0, an error.
        var out = floorDivide(ceil ? span + stride - 1 : span, stride) + 1
        if ceil && (out - 1) * stride >= input + pad { out -= 1 }
        return out
    }

    public func outputSize(h: Int, w: Int) -> (Int, Int) {
        (
            Self.outputLength(h, kernel: kernelH, stride: strideH, pad: padH, ceil: ceilMode),
            Self.outputLength(w, kernel: kernelW, stride: strideW, pad: padW, ceil: ceilMode)
        )
    }
}

/// What a batch-norm forward in training mode saves for its backward.
public struct BatchNormSaved {
    /// Per-channel batch mean, [C].
    public var mean: Tensor
    /// Per-channel 1/√(var + eps), [C] (biased batch variance in training, running variance in eval).
    public var invStd: Tensor

    public init(mean: Tensor, invStd: Tensor) {
        self.mean = mean
        self.invStd = invStd
    }
}

/// The kernels a compute backend provides. Every op in StrataTensor computes through the
/// current backend: the "fat" primitives (convolution, pooling, normalization, matrix
/// products) and the memory-bound ones between them (elementwise maps, reductions, strided
/// copies, softmax and the loss, the optimizer updates), so a faster backend (oneDNN) or one
/// whose memory is not host memory replaces them without touching the ops or their autograd.
/// ``ReferenceBackend`` is the portable oracle.
///
/// A backend implements the fat primitives; the memory-bound ones have default
/// implementations (the reference kernels, on host memory). Outside the kernels, code reads
/// and writes elements only through the host-access API (``Tensor/withHostBuffer(as:_:)``,
/// ``TensorStorage/withHostBytes(_:)``), which storage in ``DeviceMemory`` implements by copying.
public protocol Backend: AnyObject, Sendable {
    var name: String { get }

    /// op(a)·op(b) for 2-D tensors.
    func matmul(_ a: Tensor, _ b: Tensor, transA: Bool, transB: Bool) -> Tensor

    /// x [N,C,H,W] ⊛ weight [K,C/g,kh,kw] (+ bias [K]) → [N,K,OH,OW].
    func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, _ p: Conv2dParameters) -> Tensor
    /// ∂L/∂x from ∂L/∂y.
    func conv2dBackwardData(_ gradOutput: Tensor, weight: Tensor, inputShape: [Int], _ p: Conv2dParameters) -> Tensor
    /// ∂L/∂weight from ∂L/∂y and the forward's input.
    func conv2dBackwardWeight(_ gradOutput: Tensor, input: Tensor, weightShape: [Int], _ p: Conv2dParameters) -> Tensor

    /// Max pooling; also returns, per output element, the flat index (h·W + w) in its input plane
    /// of the chosen input, as an int32 tensor of the output's shape (a backend may return an empty
    /// one, shape [0], when no backward will run: not in grad mode or the input needs no gradient).
    func maxPool2d(_ x: Tensor, _ p: Pool2dParameters) -> (output: Tensor, indices: Tensor)
    /// ∂L/∂x of max pooling: ∂L/∂y scattered through `indices` (from ``maxPool2d(_:_:)``).
    func maxPool2dBackward(_ gradOutput: Tensor, indices: Tensor, inputShape: [Int]) -> Tensor
    func avgPool2d(_ x: Tensor, _ p: Pool2dParameters) -> Tensor
    func avgPool2dBackward(_ gradOutput: Tensor, inputShape: [Int], _ p: Pool2dParameters) -> Tensor
    func adaptiveAvgPool2d(_ x: Tensor, outputSize: (Int, Int)) -> Tensor
    func adaptiveAvgPool2dBackward(_ gradOutput: Tensor, inputShape: [Int]) -> Tensor

    /// Batch statistics over (N, H, W): mean and 1/√(biased var + eps), per channel.
    func batchNormStatistics(_ x: Tensor, eps: Double) -> BatchNormSaved
    /// Training-mode batch norm in one call: the batch statistics and the normalized output.
    /// The default runs ``batchNormStatistics(_:eps:)`` then ``batchNormApply(_:saved:weight:bias:)``;
    /// a backend may do both in one pass over `x`.
    func batchNormTraining(_ x: Tensor, eps: Double, weight: Tensor?, bias: Tensor?) -> (
        output: Tensor, saved: BatchNormSaved
    )
    /// y = (x − mean)·invStd·weight + bias, per channel.
    func batchNormApply(_ x: Tensor, saved: BatchNormSaved, weight: Tensor?, bias: Tensor?) -> Tensor
    /// Gradients of `batchNormApply`; `trainingStatistics` adds the terms through the batch mean and variance.
    func batchNormBackward(
        _ gradOutput: Tensor, input: Tensor, saved: BatchNormSaved, weight: Tensor?,
        trainingStatistics: Bool
    ) -> (input: Tensor, weight: Tensor, bias: Tensor)

    // Memory-bound ops between the fat kernels. The defaults are the portable Swift kernels;
    // a backend that keeps tensors in its own layouts provides them too, so that activations
    // and gradients stay in those layouts from one kernel to the next.

    /// max(x, 0).
    func relu(_ x: Tensor) -> Tensor
    /// ∂L/∂x of relu from ∂L/∂y and the forward's output y: ∂L/∂y where y > 0, else 0.
    func reluBackward(_ gradOutput: Tensor, output: Tensor) -> Tensor
    /// a + b for tensors of one shape and dtype (residual additions, gradient accumulation).
    func add(_ a: Tensor, _ b: Tensor) -> Tensor
    /// Concatenation along `axis` (already validated: one rank and dtype, equal other dimensions).
    func concatenate(_ tensors: [Tensor], axis: Int) -> Tensor
    /// The inverse of ``concatenate(_:axis:)`` (its backward): `x` cut along `axis` into parts of
    /// `sizes` (which sum to the axis length).
    func split(_ x: Tensor, axis: Int, sizes: [Int]) -> [Tensor]

    /// Local response normalization across channels (AlexNet).
    func localResponseNorm(_ x: Tensor, size: Int, alpha: Double, beta: Double, k: Double) -> Tensor
    func localResponseNormBackward(
        _ gradOutput: Tensor, input: Tensor, size: Int, alpha: Double, beta: Double, k: Double
    ) -> Tensor

    // Elementwise maps, reductions, strided copies, softmax and loss, optimizer updates. The
    // defaults run the reference kernels on host memory (any layout is first made row-major).

    /// A tensor of zeros in this backend's memory (optimizer state: momentum buffers, moments).
    func zeros(_ shape: [Int], dtype: DType) -> Tensor
    /// `op` on every element of `x`.
    func elementwise(_ x: Tensor, _ op: UnaryOp) -> Tensor
    /// `op` on `a` and `b` with NumPy broadcasting (already checked: one dtype, broadcast-compatible
    /// shapes); the result has the broadcast shape.
    func elementwise(_ a: Tensor, _ b: Tensor, _ op: BinaryOp) -> Tensor
    /// `x` raised to a constant power, elementwise.
    func power(_ x: Tensor, exponent: Double) -> Tensor
    /// Sum over `axis` (valid); the result keeps the axis with size 1.
    func reduceSum(_ x: Tensor, axis: Int) -> Tensor
    /// Maximum over `axis` (valid, not empty), kept with size 1, and the index along `axis` of
    /// the first maximum, as an int64 tensor of the same shape.
    func reduceMax(_ x: Tensor, axis: Int) -> (values: Tensor, indices: Tensor)
    /// A new row-major tensor of `shape` whose element at index (i₀, i₁, …) is `x`'s row-major
    /// element at `offset + Σ iₖ·strides[k]` (permute, slice, the backward of padding).
    func gatherStrided(_ x: Tensor, offset: Int, strides: [Int], shape: [Int]) -> Tensor
    /// A new row-major tensor of `shape` filled with `fill`, then `x`'s element at index (i₀, i₁, …)
    /// written at row-major position `offset + Σ iₖ·strides[k]` (padding, the backward of slicing).
    func scatterStrided(_ x: Tensor, into shape: [Int], offset: Int, strides: [Int], fill: Double) -> Tensor
    /// Softmax along `axis`, or log-softmax when `log`.
    func softmax(_ x: Tensor, axis: Int, log: Bool) -> Tensor
    /// Cross-entropy of `logits` [N, K] against `labels` (checked: N labels in 0..<K) with label
    /// smoothing: the loss as a 0-d tensor of the logits' dtype, and the log-probabilities
    /// [N, K] the backward reads.
    func crossEntropy(
        _ logits: Tensor, labels: [Int], labelSmoothing: Double,
        reduction: LossReduction
    ) -> (loss: Tensor, logProbabilities: Tensor)
    /// ∂L/∂logits: (softmax − target)·∂L/∂loss, divided by N for `.mean`.
    func crossEntropyBackward(
        _ gradLoss: Tensor, logProbabilities: Tensor, labels: [Int], labelSmoothing: Double,
        reduction: LossReduction
    ) -> Tensor
    /// One SGD step on `parameter`, in place (see `StrataTraining.SGD`): `momentumBuffer` (nil
    /// when `momentum` is 0) is updated in place too, and starts as the step's direction when
    /// `firstStep`. `gradient` may be of another dtype (converted to the parameter's).
    func sgdUpdate(
        _ parameter: Tensor, gradient: Tensor, momentumBuffer: Tensor?, firstStep: Bool,
        learningRate: Double, momentum: Double, nesterov: Bool, weightDecay: Double)
    /// One AdamW step on `parameter` and its moments, in place (see `StrataTraining.AdamW`);
    /// `step` counts this parameter's updates, this one included.
    func adamWUpdate(
        _ parameter: Tensor, gradient: Tensor, expAvg: Tensor, expAvgSq: Tensor, step: Int,
        learningRate: Double, beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double)
}

extension Backend {
    public func relu(_ x: Tensor) -> Tensor { elementwise(x, .relu) }

    public func reluBackward(_ gradOutput: Tensor, output: Tensor) -> Tensor {
        elementwise(gradOutput, elementwise(output, output.scalarLike(0), .greater), .mul)
    }

    public func add(_ a: Tensor, _ b: Tensor) -> Tensor { elementwise(a, b, .add) }

    public func concatenate(_ tensors: [Tensor], axis: Int) -> Tensor { concatenateKernel(tensors, axis: axis) }

    public func split(_ x: Tensor, axis: Int, sizes: [Int]) -> [Tensor] { splitKernel(x, axis: axis, sizes: sizes) }

    public func batchNormTraining(_ x: Tensor, eps: Double, weight: Tensor?, bias: Tensor?) -> (
        output: Tensor, saved: BatchNormSaved
    ) {
        let saved = batchNormStatistics(x, eps: eps)
        return (batchNormApply(x, saved: saved, weight: weight, bias: bias), saved)
    }

    public func zeros(_ shape: [Int], dtype: DType) -> Tensor { Tensor.zeros(shape, dtype: dtype) }

    public func elementwise(_ x: Tensor, _ op: UnaryOp) -> Tensor { referenceUnary(x, op) }

    public func elementwise(_ a: Tensor, _ b: Tensor, _ op: BinaryOp) -> Tensor { referenceBinary(a, b, op) }

    public func power(_ x: Tensor, exponent: Double) -> Tensor { referencePower(x, exponent: exponent) }

    public func reduceSum(_ x: Tensor, axis: Int) -> Tensor { referenceReduceSum(x, axis: axis) }

    public func reduceMax(_ x: Tensor, axis: Int) -> (values: Tensor, indices: Tensor) {
        referenceReduceMax(x, axis: axis)
    }

    public func gatherStrided(_ x: Tensor, offset: Int, strides: [Int], shape: [Int]) -> Tensor {
        referenceGatherStrided(x, offset: offset, strides: strides, shape: shape)
    }

    public func scatterStrided(_ x: Tensor, into shape: [Int], offset: Int, strides: [Int], fill: Double) -> Tensor {
        referenceScatterStrided(x, into: shape, offset: offset, strides: strides, fill: fill)
    }

    public func softmax(_ x: Tensor, axis: Int, log: Bool) -> Tensor { referenceSoftmax(x, axis: axis, log: log) }

    public func crossEntropy(
        _ logits: Tensor, labels: [Int], labelSmoothing: Double,
        reduction: LossReduction
    ) -> (loss: Tensor, logProbabilities: Tensor) {
        let logProbabilities = softmax(logits, axis: 1, log: true)
        let loss = referenceCrossEntropyLoss(
            logProbabilities, labels: labels, labelSmoothing: labelSmoothing,
            reduction: reduction)
        return (loss, logProbabilities)
    }

    public func crossEntropyBackward(
        _ gradLoss: Tensor, logProbabilities: Tensor, labels: [Int],
        labelSmoothing: Double, reduction: LossReduction
    ) -> Tensor {
        let (n, k) = (logProbabilities.shape[0], logProbabilities.shape[1])
        let targets = crossEntropyTargets(labels: labels, classes: k, labelSmoothing: labelSmoothing)
        let target = Tensor(targets, shape: [n, k]).converted(to: logProbabilities.dtype)
        let scale = elementwise(gradLoss, gradLoss.scalarLike(crossEntropyScale(batch: n, reduction)), .mul)
        // (softmax − target)·∂L/∂loss·scale
        return elementwise(elementwise(elementwise(logProbabilities, .exp), target, .sub), scale, .mul)
    }

    public func sgdUpdate(
        _ parameter: Tensor, gradient: Tensor, momentumBuffer: Tensor?, firstStep: Bool,
        learningRate: Double, momentum: Double, nesterov: Bool, weightDecay: Double
    ) {
        referenceSGDUpdate(
            parameter, gradient: gradient, momentumBuffer: momentumBuffer, firstStep: firstStep,
            learningRate: learningRate, momentum: momentum, nesterov: nesterov, weightDecay: weightDecay)
    }

    public func adamWUpdate(
        _ parameter: Tensor, gradient: Tensor, expAvg: Tensor, expAvgSq: Tensor, step: Int,
        learningRate: Double, beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double
    ) {
        referenceAdamWUpdate(
            parameter, gradient: gradient, expAvg: expAvg, expAvgSq: expAvgSq, step: step,
            learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
            weightDecay: weightDecay)
    }
}

/// The backend ops use; the reference backend unless changed.
public enum Backends {
    private static let lock = PlatformLock()
    nonisolated(unsafe) private static var _default: any Backend = ReferenceBackend()
    @TaskLocal static var scoped: (any Backend)? = nil

    /// The backend in effect here: the scoped one (``with(_:_:)``), else the process-wide default.
    public static var current: any Backend {
        if let scoped { return scoped }
        lock.lock()
        defer { lock.unlock() }
        return _default
    }

    /// Sets the process-wide default backend (the CLI does it once, at start-up; safe from any thread).
    public static func setDefault(_ backend: any Backend) {
        lock.lock()
        defer { lock.unlock() }
        _default = backend
    }

    /// Runs `body` with `backend` in effect (for differential tests).
    public static func with<R>(_ backend: any Backend, _ body: () throws -> R) rethrows -> R {
        try $scoped.withValue(backend) { try body() }
    }
}

/// a / b rounded toward −∞ (b > 0).
@inline(__always)
func floorDivide(_ a: Int, _ b: Int) -> Int {
    let q = a / b
    return (a % b != 0 && a < 0) ? q - 1 : q
}
