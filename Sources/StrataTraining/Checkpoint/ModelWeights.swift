import StrataNN
import StrataTensor

/// Weights read by ``Checkpoint/modelWeights(_:)``.
public struct ModelWeights: Sendable {
    /// The safetensors file read.
    public let file: String
    /// The model's state dict.
    public let tensors: [String: Tensor]
    /// From the `class_names` metadata (a JSON array), when present.
    public let classNames: [String]?
    /// From the `model` metadata, when present.
    public let model: String?
    /// The training state, for Strata checkpoints.
    public let state: CheckpointState?
}
