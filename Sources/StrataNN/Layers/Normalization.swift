import StrataTensor

/// Batch normalization over (N, H, W), as `torch.nn.BatchNorm2d`: batch statistics in
/// training (updating the running ones with `momentum`), running statistics in eval.
public final class BatchNorm2d: Module {
    public let weight: Tensor?
    public let bias: Tensor?
    // PyTorch's buffer names, so state dicts interoperate.
    @Buffer public var running_mean: Tensor
    @Buffer public var running_var: Tensor
    @Buffer public var num_batches_tracked: Tensor
    public let eps: Double
    public let momentum: Double
    /// When set, training-mode statistics are those of the batches of every process together
    /// (synchronized batch norm, as `torch.nn.SyncBatchNorm`); nil: this process's batch only.
    public var synchronization: (any CrossProcessSum)?

    public init(_ channels: Int, eps: Double = 1e-5, momentum: Double = 0.1, affine: Bool = true) {
        weight = affine ? parameter(.ones([channels])) : nil
        bias = affine ? parameter(.zeros([channels])) : nil
        running_mean = .zeros([channels])
        running_var = .ones([channels])
        num_batches_tracked = .zeros([])
        self.eps = eps
        self.momentum = momentum
    }

    public override func forward(_ x: Tensor) -> Tensor {
        if training {
            withNoGrad { num_batches_tracked.assign(num_batches_tracked + 1) }
        }
        return batchNorm2d(x, runningMean: running_mean, runningVar: running_var, weight: weight, bias: bias,
                           training: training, momentum: momentum, eps: eps, across: synchronization)
    }

    public override var summaryDescription: String { "BatchNorm2d(\(running_mean.count))" }
}

/// Local response normalization across channels, as `torch.nn.LocalResponseNorm` (AlexNet 2012).
public final class LocalResponseNorm: Module {
    public let size: Int, alpha: Double, beta: Double, k: Double
    public init(size: Int, alpha: Double = 1e-4, beta: Double = 0.75, k: Double = 1) {
        (self.size, self.alpha, self.beta, self.k) = (size, alpha, beta, k)
    }
    public override func forward(_ x: Tensor) -> Tensor { localResponseNorm(x, size: size, alpha: alpha, beta: beta, k: k) }
    public override var summaryDescription: String { "LocalResponseNorm(\(size))" }
}
