// Gradient-Based Learning Applied to Document Recognition. LeCun, Bottou, Bengio, Haffner,
// Proc. IEEE 1998.
//
// LeNet-5 on 32×32 input: C1 6@5×5, S2 2×2 subsampling, C3 16@5×5, S4, then C5/F6/output as
// fully connected 120, 84, classes, with tanh squashing. Two simplifications that every modern
// rendition shares: C3 connects to all S2 maps (the paper's sparse table is dropped) and the
// subsampling layers are plain average pools (no trainable coefficient), the output a linear layer.
import StrataNN
import StrataTensor

public final class LeNet5: Module {
    let features: Sequential
    let classifier: Sequential

    public init(classes: Int = 10, inChannels: Int = 1) {
        features = makeSequential(
            [
                .conv(6, kernel: 5), .tanh, .avgPool(kernel: 2, stride: 2), // [N, 6, 14, 14]
                .conv(16, kernel: 5), .tanh, .avgPool(kernel: 2, stride: 2), // [N, 16, 5, 5]
            ], inChannels: inChannels)
        classifier = makeSequential([.linear(120), .tanh, .linear(84), .tanh, .linear(classes)], inChannels: 400)
    }

    public override func forward(_ x: Tensor) -> Tensor {
        classifier(features(x).flattened()) // [N, 1, 32, 32] → [N, 400] → [N, classes]
    }
}
