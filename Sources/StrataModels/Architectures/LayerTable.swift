import StrataNN
import StrataTensor

/// One row of an architecture's configuration table; ``makeSequential(_:inChannels:)``
/// turns a table into an `nn.Sequential`-style stack named 0, 1, 2, … as torchvision's.
enum LayerSpec {
    case conv(_ out: Int, kernel: Int, stride: Int = 1, padding: Int = 0, groups: Int = 1, bias: Bool = true)
    case batchNorm
    case relu
    case tanh
    case lrn(size: Int, alpha: Double, beta: Double, k: Double)
    case maxPool(kernel: Int, stride: Int)
    case avgPool(kernel: Int, stride: Int)
    case dropout(Double)
    case linear(_ out: Int)
}

/// Builds the stack; `inChannels` is the input's channel (or feature) count.
func makeSequential(_ table: [LayerSpec], inChannels: Int) -> Sequential {
    var channels = inChannels
    let seq = Sequential()
    for spec in table {
        switch spec {
        case .conv(let out, let kernel, let stride, let padding, let groups, let bias):
            seq.append(
                Conv2d(channels, out, kernel: kernel, stride: stride, padding: padding, groups: groups, bias: bias))
            channels = out
        case .batchNorm: seq.append(BatchNorm2d(channels))
        case .relu: seq.append(ReLU())
        case .tanh: seq.append(Tanh())
        case .lrn(let size, let alpha, let beta, let k):
            seq.append(LocalResponseNorm(size: size, alpha: alpha, beta: beta, k: k))
        case .maxPool(let kernel, let stride): seq.append(MaxPool2d(kernel: kernel, stride: stride))
        case .avgPool(let kernel, let stride): seq.append(AvgPool2d(kernel: kernel, stride: stride))
        case .dropout(let p): seq.append(Dropout(p))
        case .linear(let out):
            seq.append(Linear(channels, out))
            channels = out
        }
    }
    return seq
}
