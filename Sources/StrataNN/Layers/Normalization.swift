import StrataTensor

/// Batch normalization over (N, H, W), as `torch.nn.BatchNorm2d`: batch statistics in
/// training (updating the running ones with `momentum`), running statistics in eval.
public final class BatchNorm2d: Module {
    public let weight: Tensor?
    public let bias: Tensor?
    /// Running mean of each channel, used in evaluation mode (key `running_mean`, PyTorch's).
    @Buffer(key: "running_mean") public var runningMean: Tensor
    /// Running (unbiased) variance of each channel (key `running_var`).
    @Buffer(key: "running_var") public var runningVar: Tensor
    /// Training-mode forward passes so far, a scalar (key `num_batches_tracked`).
    @Buffer(key: "num_batches_tracked") public var numBatchesTracked: Tensor
    public let eps: Double
    public let momentum: Double
    /// When set, training-mode statistics are those of the batches of every process together
    /// (synchronized batch norm, as `torch.nn.SyncBatchNorm`); nil: this process's batch only.
    public var synchronization: (any CrossProcessSum)?

    public init(_ channels: Int, eps: Double = 1e-5, momentum: Double = 0.1, affine: Bool = true) {
        weight = affine ? parameter(.ones([channels])) : nil
        bias = affine ? parameter(.zeros([channels])) : nil
        _runningMean.wrappedValue = .zeros([channels])
        _runningVar.wrappedValue = .ones([channels])
        _numBatchesTracked.wrappedValue = .zeros([])
        self.eps = eps
        self.momentum = momentum
    }

    public override func forward(_ x: Tensor) -> Tensor {
        if training {
            withNoGrad { numBatchesTracked.assign(numBatchesTracked + 1) }
        }
        return batchNorm2d(
            x, runningMean: runningMean, runningVar: runningVar, weight: weight, bias: bias,
            training: training, momentum: momentum, eps: eps, across: synchronization)
    }

    public override var summaryDescription: String { "BatchNorm2d(\(runningMean.count))" }
}

/// Local response normalization across channels, as `torch.nn.LocalResponseNorm` (AlexNet 2012).
public final class LocalResponseNorm: Module {
    public let size: Int, alpha: Double, beta: Double, k: Double
    public init(size: Int, alpha: Double = 1e-4, beta: Double = 0.75, k: Double = 1) {
        (self.size, self.alpha, self.beta, self.k) = (size, alpha, beta, k)
    }
    public override func forward(_ x: Tensor) -> Tensor {
        localResponseNorm(x, size: size, alpha: alpha, beta: beta, k: k)
    }
    public override var summaryDescription: String { "LocalResponseNorm(\(size))" }
}
