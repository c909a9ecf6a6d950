/// Strata: deep convolutional networks in Swift.
///
/// `import Strata` brings in the whole public API: tensors and autograd
/// (``Tensor``), the operations (``conv2d(_:weight:bias:_:)``, ``batchNorm2d(_:runningMean:runningVar:weight:bias:training:momentum:eps:)``, ...),
/// and the compute backends.
@_exported import StrataTensor
@_exported import StrataNN
@_exported import StrataModels
@_exported import StrataData
@_exported import StrataTraining
@_exported import StrataImage
@_exported import StrataDNNL
@_exported import StrataPretrained
@_exported import StrataPlot

/// The library version.
public let strataVersion = "0.1.0"
