@_exported import struct StrataNN.FileFormatError
@_exported import struct StrataNN.FileSystemError

/// A dataset's files are not where the user pointed.
///
/// Names the files expected, the ones missing, and where the dataset comes from:
///
/// ```
/// CIFAR-10 not found in /data/cifar: missing test_batch.bin. Expected data_batch_1.bin … data_batch_5.bin,
/// test_batch.bin (the "CIFAR-10 binary version", cifar-10-binary.tar.gz, from https://www.cs.toronto.edu/~kriz/cifar.html)
/// ```
///
/// Corrupt or truncated files throw `FileFormatError` (file and byte offset) instead, and
/// failing system calls `FileSystemError`.
public struct DatasetNotFoundError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The dataset's name, e.g. "CIFAR-10".
    public var dataset: String
    /// The folder that was searched (as the user gave it).
    public var directory: String
    /// Every file the dataset consists of.
    public var expectedFiles: [String]
    /// The files the requested split needs that are not there.
    public var missingFiles: [String]
    /// Where to get the dataset.
    public var source: String
    /// False when `directory` itself does not exist.
    public var directoryExists: Bool

    public init(
        dataset: String, directory: String, expectedFiles: [String], missingFiles: [String], source: String,
        directoryExists: Bool
    ) {
        self.dataset = dataset
        self.directory = directory
        self.expectedFiles = expectedFiles
        self.missingFiles = missingFiles
        self.source = source
        self.directoryExists = directoryExists
    }

    public var description: String {
        let problem = directoryExists ? "missing \(missingFiles.joined(separator: ", "))" : "the folder does not exist"
        return
            "\(dataset) not found in \(directory): \(problem). Expected \(expectedFiles.joined(separator: ", ")) (\(source))"
    }
}
