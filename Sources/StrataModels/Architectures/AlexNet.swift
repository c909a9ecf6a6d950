// ImageNet Classification with Deep Convolutional Neural Networks. Krizhevsky, Sutskever,
// Hinton, NeurIPS 2012. And torchvision's single-tower variant, from "One weird trick for
// parallelizing convolutional neural networks", Krizhevsky 2014 (arXiv:1404.5997).
//
// Three networks:
// - `alexnet`: torchvision's (64-192-384-256-256 channels, no LRN).
// - `alexnet2012`: the paper's two-tower net as one net: the towers exchanged nothing in
//   conv2, conv4 and conv5, which are therefore grouped convolutions (groups 2); LRN
//   (size 5, α 1e-4, β 0.75, k 2) after conv1 and conv2; 96-256-384-384-256 channels.
// - `alexnet_bn`: the batch-norm variant: 4 × (conv, BN, ReLU, max-pool), two FC-4096, FC-classes.
import StrataNN
import StrataTensor

public final class AlexNet: Module {
    public enum Variant: String, Sendable, CaseIterable {
        case torchvision, original2012, batchNorm
    }

    static let lrn = LayerSpec.lrn(size: 5, alpha: 1e-4, beta: 0.75, k: 2)
    static let pool = LayerSpec.maxPool(kernel: 3, stride: 2)

    /// Feature extractors, row by row.
    static let features: [Variant: [LayerSpec]] = [
        .torchvision: [
            .conv(64, kernel: 11, stride: 4, padding: 2), .relu, pool, // [N, 64, 27, 27] at 224
            .conv(192, kernel: 5, padding: 2), .relu, pool, // [N, 192, 13, 13]
            .conv(384, kernel: 3, padding: 1), .relu,
            .conv(256, kernel: 3, padding: 1), .relu,
            .conv(256, kernel: 3, padding: 1), .relu, pool, // [N, 256, 6, 6]
        ],
        .original2012: [
            .conv(96, kernel: 11, stride: 4, padding: 2), .relu, lrn, pool, // [N, 96, 27, 27]
            .conv(256, kernel: 5, padding: 2, groups: 2), .relu, lrn, pool, // [N, 256, 13, 13]
            .conv(384, kernel: 3, padding: 1), .relu, // both towers meet here
            .conv(384, kernel: 3, padding: 1, groups: 2), .relu,
            .conv(256, kernel: 3, padding: 1, groups: 2), .relu, pool, // [N, 256, 6, 6]
        ],
        .batchNorm: [
            .conv(96, kernel: 11, stride: 4, padding: 2, bias: false), .batchNorm, .relu, pool, // [N, 96, 27, 27]
            .conv(256, kernel: 5, padding: 2, bias: false), .batchNorm, .relu, pool, // [N, 256, 13, 13]
            .conv(384, kernel: 3, padding: 1, bias: false), .batchNorm, .relu, pool, // [N, 384, 6, 6]
            .conv(256, kernel: 3, padding: 1, bias: false), .batchNorm, .relu, pool, // [N, 256, 2, 2]
        ],
    ]

    let features: Sequential
    let avgpool: AdaptiveAvgPool2d
    let classifier: Sequential

    public init(variant: Variant = .torchvision, classes: Int = 1000) {
        features = makeSequential(Self.features[variant]!, inChannels: 3)
        switch variant {
        case .torchvision, .original2012:
            avgpool = AdaptiveAvgPool2d(6)
            classifier = makeSequential(
                [
                    .dropout(0.5), .linear(4096), .relu, .dropout(0.5), .linear(4096), .relu,
                    .linear(classes),
                ], inChannels: 256 * 6 * 6)
        case .batchNorm:
            avgpool = AdaptiveAvgPool2d(2)
            classifier = makeSequential(
                [
                    .linear(4096), .relu, .dropout(0.5), .linear(4096), .relu, .dropout(0.5),
                    .linear(classes),
                ], inChannels: 256 * 2 * 2)
        }
    }

    public override func forward(_ x: Tensor) -> Tensor {
        classifier(avgpool(features(x)).flattened())
    }
}
