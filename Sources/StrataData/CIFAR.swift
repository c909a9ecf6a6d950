import StrataNN

/// CIFAR-10 in the official binary layout ("CIFAR-10 binary version", cifar-10-binary.tar.gz).
///
/// Each file is a sequence of 3,073-byte records: 1 label byte (0–9), then 3,072 pixel bytes
/// (1,024 R, 1,024 G, 1,024 B, each a 32×32 plane, row-major). The training set is
/// `data_batch_1.bin` … `data_batch_5.bin` (in that order), the test set `test_batch.bin`.
/// Class names come from `batches.meta.txt` when present (empty lines skipped), otherwise
/// the official names. Everything is read and checked once, in `init`, and held as bytes.
///
/// ```swift
/// let train = try CIFAR10(directory: "data/cifar10", split: .train)   // 50,000 × [3, 32, 32]
/// ```
public struct CIFAR10: Dataset {
    public static let trainFiles = (1...5).map { "data_batch_\($0).bin" }
    public static let testFiles = ["test_batch.bin"]
    public static let classNamesFile = "batches.meta.txt"
    public static let defaultClassNames = [
        "airplane", "automobile", "bird", "cat", "deer",
        "dog", "frog", "horse", "ship", "truck",
    ]
    public static let source =
        "the \"CIFAR-10 binary version\", cifar-10-binary.tar.gz, from https://www.cs.toronto.edu/~kriz/cifar.html"
    /// The folder the tarball unpacks to; looked for inside the given folder too.
    public static let archiveFolder = "cifar-10-batches-bin"

    /// The folder the files were read from.
    public let directory: String
    public let split: DatasetSplit
    /// The images (bytes) and labels.
    public let data: InMemoryDataset

    /// Reads the `split` files from `directory` (or its `cifar-10-batches-bin` subfolder).
    /// - Throws: ``DatasetNotFoundError`` when files are missing, `FileFormatError` (file and
    ///   byte offset) when one is truncated or holds a label above 9, `FileSystemError` on I/O errors.
    public init(directory: String, split: DatasetSplit) throws {
        let files = split == .train ? Self.trainFiles : Self.testFiles
        let folder = try CIFARReader.locate(
            dataset: "CIFAR-10", directory: directory, subfolder: Self.archiveFolder,
            needed: files, all: Self.trainFiles + Self.testFiles, source: Self.source)
        let names =
            try CIFARReader.classNames(DataFiles.join(folder, Self.classNamesFile), count: 10) ?? Self.defaultClassNames
        let (pixels, labels) = try CIFARReader.read(
            files.map { DataFiles.join(folder, $0) }, labelBytes: 1,
            labelLimits: [10], labelNames: ["label"])
        self.directory = folder
        self.split = split
        data = InMemoryDataset(pixels: pixels, labels: labels[0], imageShape: [3, 32, 32], classNames: names)
    }

    public var count: Int { data.count }
    public var imageShape: [Int] { data.imageShape }
    public var classNames: [String] { data.classNames }
    public var labels: [Int] { data.labels }
    public func load(_ index: Int, into pixels: UnsafeMutableBufferPointer<Float>) -> Int {
        data.load(index, into: pixels)
    }
    public func label(_ index: Int) -> Int { data.labels[index] }
}

/// CIFAR-100 in the official binary layout ("CIFAR-100 binary version", cifar-100-binary.tar.gz).
///
/// Records of 3,074 bytes: the coarse label (0–19), the fine label (0–99), then 3,072 pixel
/// bytes as in CIFAR-10. `train.bin` holds the training set, `test.bin` the test set. Class
/// names come from `fine_label_names.txt` / `coarse_label_names.txt` when present.
public struct CIFAR100: Dataset {
    /// Which of the two labels the dataset reports.
    public enum LabelKind: String, Sendable {
        /// The 100 classes.
        case fine
        /// The 20 superclasses.
        case coarse
    }

    public static let trainFiles = ["train.bin"]
    public static let testFiles = ["test.bin"]
    public static let fineNamesFile = "fine_label_names.txt"
    public static let coarseNamesFile = "coarse_label_names.txt"
    public static let source =
        "the \"CIFAR-100 binary version\", cifar-100-binary.tar.gz, from https://www.cs.toronto.edu/~kriz/cifar.html"
    public static let archiveFolder = "cifar-100-binary"

    public let directory: String
    public let split: DatasetSplit
    public let labelKind: LabelKind
    /// The images (bytes) and the labels of ``labelKind``.
    public let data: InMemoryDataset
    /// The 0–99 class of every example.
    public let fineLabels: [Int]
    /// The 0–19 superclass of every example.
    public let coarseLabels: [Int]
    /// Names of the 20 superclasses.
    public let coarseClassNames: [String]
    /// Names of the 100 classes.
    public let fineClassNames: [String]

    /// Reads `train.bin` or `test.bin` from `directory` (or its `cifar-100-binary` subfolder).
    public init(directory: String, split: DatasetSplit, labels labelKind: LabelKind = .fine) throws {
        let files = split == .train ? Self.trainFiles : Self.testFiles
        let folder = try CIFARReader.locate(
            dataset: "CIFAR-100", directory: directory, subfolder: Self.archiveFolder,
            needed: files, all: Self.trainFiles + Self.testFiles, source: Self.source)
        fineClassNames =
            try CIFARReader.classNames(DataFiles.join(folder, Self.fineNamesFile), count: 100)
            ?? Self.defaultFineClassNames
        coarseClassNames =
            try CIFARReader.classNames(DataFiles.join(folder, Self.coarseNamesFile), count: 20)
            ?? Self.defaultCoarseClassNames
        let (pixels, labels) = try CIFARReader.read(
            files.map { DataFiles.join(folder, $0) }, labelBytes: 2,
            labelLimits: [20, 100], labelNames: ["coarse label", "fine label"])
        coarseLabels = labels[0]
        fineLabels = labels[1]
        self.directory = folder
        self.split = split
        self.labelKind = labelKind
        data = InMemoryDataset(
            pixels: pixels, labels: labelKind == .fine ? fineLabels : coarseLabels,
            imageShape: [3, 32, 32],
            classNames: labelKind == .fine ? fineClassNames : coarseClassNames)
    }

    public var count: Int { data.count }
    public var imageShape: [Int] { data.imageShape }
    public var classNames: [String] { data.classNames }
    public var labels: [Int] { data.labels }
    public func load(_ index: Int, into pixels: UnsafeMutableBufferPointer<Float>) -> Int {
        data.load(index, into: pixels)
    }
    public func label(_ index: Int) -> Int { data.labels[index] }

    public static let defaultCoarseClassNames = [
        "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
        "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
        "large_man-made_outdoor_things", "large_natural_outdoor_scenes", "large_omnivores_and_herbivores",
        "medium_mammals", "non-insect_invertebrates", "people", "reptiles", "small_mammals", "trees",
        "vehicles_1", "vehicles_2",
    ]

    public static let defaultFineClassNames = [
        "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
        "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
        "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
        "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
        "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
        "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
        "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
        "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
        "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger",
        "tractor",
        "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
    ]
}

/// The record reader shared by CIFAR-10 and CIFAR-100.
enum CIFARReader {
    static let pixelBytes = 3072

    /// The folder holding the files: `directory/subfolder` when that holds them, else `directory`.
    static func locate(
        dataset: String, directory: String, subfolder: String, needed: [String], all: [String],
        source: String
    ) throws -> String {
        let inner = DataFiles.join(directory, subfolder)
        for folder in [directory, inner] where needed.allSatisfy({ DataFiles.isFile(DataFiles.join(folder, $0)) }) {
            return folder
        }
        let exists = DataFiles.isDirectory(directory)
        let missing = needed.filter { !DataFiles.isFile(DataFiles.join(directory, $0)) }
        throw DatasetNotFoundError(
            dataset: dataset, directory: directory, expectedFiles: all, missingFiles: missing,
            source: source, directoryExists: exists)
    }

    /// Class names, one per line, empty lines skipped; `nil` when the file does not exist.
    static func classNames(_ path: String, count: Int) throws -> [String]? {
        guard DataFiles.isFile(path) else { return nil }
        let bytes = try DataFiles.read(path)
        let text = String(decoding: bytes, as: UTF8.self)
        let names = text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.trimmingWhitespace() }
            .filter { !$0.isEmpty }
        guard names.count == count else {
            throw FileFormatError(
                path: path, found: "\(names.count) class names",
                expected: "\(count), one per line")
        }
        return names
    }

    /// Reads every file's records: the label bytes (checked against `labelLimits`) and the pixels.
    static func read(
        _ paths: [String], labelBytes: Int, labelLimits: [Int],
        labelNames: [String]
    ) throws -> (pixels: [UInt8], labels: [[Int]]) {
        let record = labelBytes + pixelBytes
        var pixels: [UInt8] = []
        var labels = [[Int]](repeating: [], count: labelBytes)
        for path in paths {
            let bytes = try DataFiles.read(path)
            if bytes.isEmpty {
                throw FileFormatError(
                    path: path, offset: 0, found: "an empty file",
                    expected:
                        "records of \(record) bytes (\(labelBytes) label byte\(labelBytes > 1 ? "s" : "") + \(pixelBytes) pixel bytes)"
                )
            }
            let whole = bytes.count / record
            let rest = bytes.count % record
            if rest != 0 {
                throw FileFormatError(
                    path: path, offset: whole * record,
                    found:
                        "the file ends \(rest) bytes into record \(whole) (size \(bytes.count) is not a multiple of \(record))",
                    expected:
                        "records of \(record) bytes (\(labelBytes) label byte\(labelBytes > 1 ? "s" : "") + \(pixelBytes) pixel bytes)"
                )
            }
            pixels.reserveCapacity(pixels.count + whole * pixelBytes)
            for k in 0..<labelBytes { labels[k].reserveCapacity(labels[k].count + whole) }
            try bytes.withUnsafeBufferPointer { buf in
                for r in 0..<whole {
                    let start = r * record
                    for k in 0..<labelBytes {
                        let value = Int(buf[start + k])
                        guard value < labelLimits[k] else {
                            throw FileFormatError(
                                path: path, offset: start + k,
                                found: "\(labelNames[k]) \(value) in record \(r)",
                                expected: "a \(labelNames[k]) in 0…\(labelLimits[k] - 1)")
                        }
                        labels[k].append(value)
                    }
                    pixels.append(contentsOf: buf[(start + labelBytes)..<(start + record)])
                }
            }
        }
        return (pixels, labels)
    }
}

extension Substring {
    func trimmingWhitespace() -> String {
        var s = self[...]
        while let c = s.first, c.isWhitespace { s = s.dropFirst() }
        while let c = s.last, c.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
