// Collectives that autograd differentiates: the activations model parallelism exchanges
// between ranks (StrataParallel's ModelParallelAlexNet), forward and backward.

import Foundation
import StrataTensor

/// How the backward of ``ProcessGroup/differentiableAllGather(_:axis:sizes:gradient:)`` forms the
/// gradient of each rank's part.
public enum GatheredGradient: String, Sendable, CaseIterable {
    /// Each rank feeds the gathered tensor to its *own* part of the model (its slice of the next
    /// layer), so the loss depends on a rank's part through every rank's copy: its gradient is the
    /// sum over the ranks of their gradients with respect to that part (an allreduce of the whole
    /// gradient, then this rank's slice). Between the layers of a split model.
    case sum
    /// Every rank computes the *same* function of the gathered tensor (the loss from the assembled
    /// logits): each rank's gradient is already the whole gradient, and summing would count it once
    /// per rank. The backward takes this rank's slice of its own gradient; no communication.
    case replicated
}

extension ProcessGroup {
    /// Every rank's `tensor`, joined along `axis` in rank order, as a tensor autograd differentiates
    /// (Megatron-LM's `gather_from_model_parallel_region`; the forward is
    /// ``ProcessGroup/allGather(_:)``).
    ///
    /// ```swift
    /// // rank r holds channels [128r, 128r + 128) of conv2's output, [N, 128, 13, 13]:
    /// let both = try group.differentiableAllGather(mine, axis: 1)   // [N, 256, 13, 13] on every rank
    /// ```
    ///
    /// - Parameters:
    ///   - tensor: this rank's part; every rank's must have the same shape except along `axis`.
    ///   - axis: the axis the parts are joined along.
    ///   - sizes: every rank's extent along `axis` (nil: all equal to this rank's). Unequal parts
    ///     travel padded to the largest and are cut back.
    ///   - gradient: how the backward forms this rank's gradient (see ``GatheredGradient``).
    /// - Returns: `[…, sizes.sum(), …]`; recorded for autograd when `tensor` requires gradients.
    ///   Every rank must call this (and run the backward) in the same order, as any collective.
    /// - Throws: ``DistributedError`` when the transport fails or `sizes` does not fit. A failure
    ///   in the *backward* cannot be thrown: it is printed and the job aborted
    ///   (``ProcessGroup/abort(exitCode:)``), since the other ranks would wait for this one forever.
    public func differentiableAllGather(
        _ tensor: Tensor, axis: Int, sizes: [Int]? = nil,
        gradient: GatheredGradient = .sum
    ) throws -> Tensor {
        guard axis >= 0 && axis < tensor.rank else {
            throw DistributedError(
                operation: "differentiableAllGather", rank: rank, size: size,
                message: "axis \(axis) is outside a tensor of shape \(tensor.shape)")
        }
        let sizes = sizes ?? [Int](repeating: tensor.shape[axis], count: size)
        guard sizes.count == size, sizes[rank] == tensor.shape[axis], sizes.allSatisfy({ $0 >= 0 }) else {
            throw DistributedError(
                operation: "differentiableAllGather", rank: rank, size: size,
                message:
                    "sizes \(sizes) along axis \(axis) do not fit \(size) ranks with this rank's part \(tensor.shape)")
        }
        let largest = sizes.max() ?? 0
        let offsets = sizes.indices.map { sizes[..<$0].reduce(0, +) }
        let output: Tensor = try withNoGrad {
            var part = tensor.detached()
            if sizes[rank] < largest {
                var padding = [(before: Int, after: Int)](repeating: (0, 0), count: tensor.rank)
                padding[axis] = (0, largest - sizes[rank])
                part = part.padded(padding)
            }
            let parts = try allGather(part)
            if size == 1 { return parts[0].slice(axis: axis, start: 0, end: sizes[0]) }
            return Tensor.concatenate(
                parts.enumerated().map { r, t in
                    sizes[r] == largest ? t : t.slice(axis: axis, start: 0, end: sizes[r])
                }, axis: axis)
        }
        let (start, end, me) = (offsets[rank], offsets[rank] + sizes[rank], rank)
        return Tensor.recordCustom("allGather", output: output, inputs: [tensor]) { [self] g in
            guard gradient == .sum else { return [g.slice(axis: axis, start: start, end: end)] }
            // The backward of gather-to-all is reduce-scatter: the sum of every rank's gradient, this rank's slice.
            let total = g.copy()
            do {
                try allReduce(total, op: .sum)
            } catch {
                FileHandle.standardError.write(
                    Data("error (rank \(me) of \(size), backward of allGather along axis \(axis)): \(error)\n".utf8))
                abort(exitCode: 1)
            }
            return [total.slice(axis: axis, start: start, end: end)]
        }
    }
}
