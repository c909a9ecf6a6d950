/// Convolution settings, as in `torch.nn.functional.conv2d` but with asymmetric padding.
public struct Conv2dParameters: Hashable, Sendable, CustomStringConvertible {
    public var strideH: Int, strideW: Int
    public var padTop: Int, padBottom: Int, padLeft: Int, padRight: Int
    public var dilationH: Int, dilationW: Int
    public var groups: Int

    public init(stride: (Int, Int), padding: (top: Int, bottom: Int, left: Int, right: Int),
                dilation: (Int, Int) = (1, 1), groups: Int = 1) {
        (strideH, strideW) = stride
        (padTop, padBottom, padLeft, padRight) = padding
        (dilationH, dilationW) = dilation
        self.groups = groups
    }

    /// Symmetric settings: `padding` on every side.
    public init(stride: Int = 1, padding: Int = 0, dilation: Int = 1, groups: Int = 1) {
        self.init(stride: (stride, stride), padding: (padding, padding, padding, padding), dilation: (dilation, dilation), groups: groups)
    }

    /// Output spatial size for an input of `h`×`w` and a `kh`×`kw` kernel.
    /// Output height and width; ≤ 0 when the (dilated) kernel is larger than the padded input.
    /// Division rounds down, as PyTorch's does (Swift's `/` rounds toward zero, which made a
    /// negative span look like one output).
    public func outputSize(h: Int, w: Int, kh: Int, kw: Int) -> (Int, Int) {
        (floorDivide(h + padTop + padBottom - dilationH * (kh - 1) - 1, strideH) + 1,
         floorDivide(w + padLeft + padRight - dilationW * (kw - 1) - 1, strideW) + 1)
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

    public init(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0),
                ceilMode: Bool = false, countIncludePad: Bool = true) {
        (kernelH, kernelW) = kernel
        (strideH, strideW) = stride ?? kernel
        (padH, padW) = padding
        self.ceilMode = ceilMode
        self.countIncludePad = countIncludePad
    }

    public init(kernel: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false, countIncludePad: Bool = true) {
        self.init(kernel: (kernel, kernel), stride: (stride ?? kernel, stride ?? kernel), padding: (padding, padding),
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
        (Self.outputLength(h, kernel: kernelH, stride: strideH, pad: padH, ceil: ceilMode),
         Self.outputLength(w, kernel: kernelW, stride: strideW, pad: padW, ceil: ceilMode))
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

/// The kernels a compute backend provides. Every op in StrataTensor calls its "fat"
/// primitives (convolution, pooling, normalization, matrix products) through the
/// current backend, so a faster backend (oneDNN) replaces them without touching the
/// ops or their autograd. ``ReferenceBackend`` is the portable oracle.
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
    func batchNormTraining(_ x: Tensor, eps: Double, weight: Tensor?, bias: Tensor?) -> (output: Tensor, saved: BatchNormSaved)
    /// y = (x − mean)·invStd·weight + bias, per channel.
    func batchNormApply(_ x: Tensor, saved: BatchNormSaved, weight: Tensor?, bias: Tensor?) -> Tensor
    /// Gradients of `batchNormApply`; `trainingStatistics` adds the terms through the batch mean and variance.
    func batchNormBackward(_ gradOutput: Tensor, input: Tensor, saved: BatchNormSaved, weight: Tensor?,
                           trainingStatistics: Bool) -> (input: Tensor, weight: Tensor, bias: Tensor)

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
    func localResponseNormBackward(_ gradOutput: Tensor, input: Tensor, size: Int, alpha: Double, beta: Double, k: Double) -> Tensor
}

extension Backend {
    public func relu(_ x: Tensor) -> Tensor { x.unary(.relu) }

    public func reluBackward(_ gradOutput: Tensor, output: Tensor) -> Tensor {
        binary(gradOutput, binary(output, output.scalarLike(0), .greater, name: "relu backward"), .mul, name: "relu backward")
    }

    public func add(_ a: Tensor, _ b: Tensor) -> Tensor { binary(a, b, .add, name: "add") }

    public func concatenate(_ tensors: [Tensor], axis: Int) -> Tensor { concatenateKernel(tensors, axis: axis) }

    public func split(_ x: Tensor, axis: Int, sizes: [Int]) -> [Tensor] { splitKernel(x, axis: axis, sizes: sizes) }

    public func batchNormTraining(_ x: Tensor, eps: Double, weight: Tensor?, bias: Tensor?) -> (output: Tensor, saved: BatchNormSaved) {
        let saved = batchNormStatistics(x, eps: eps)
        return (batchNormApply(x, saved: saved, weight: weight, bias: bias), saved)
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
        lock.lock(); defer { lock.unlock() }
        return _default
    }

    /// Sets the process-wide default backend (the CLI does it once, at start-up; safe from any thread).
    public static func setDefault(_ backend: any Backend) {
        lock.lock(); defer { lock.unlock() }
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
