@_exported import StrataDNNL
@_exported import StrataData
@_exported import StrataImage
@_exported import StrataModels
@_exported import StrataNN
@_exported import StrataPlot
@_exported import StrataPretrained
/// Strata: deep convolutional networks in Swift.
///
/// `import Strata` brings in the whole public API: tensors and autograd
/// (``Tensor``), the operations (``conv2d(_:weight:bias:_:)``, ``batchNorm2d(_:runningMean:runningVar:weight:bias:training:momentum:eps:)``, ...),
/// and the compute backends.
@_exported import StrataTensor
@_exported import StrataTraining

/// The library version.
public let strataVersion = "0.1.0"
