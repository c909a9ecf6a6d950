import StrataNN

/// An IDX file of unsigned bytes (the MNIST format): a big-endian magic number
/// `0x0000 08 NN` (type 0x08 = unsigned byte, NN = number of dimensions), NN big-endian
/// 32-bit sizes, then the data in row-major order. Gzip-compressed files are decompressed.
///
/// Every size is checked against the bytes actually present before anything is allocated or read.
public struct IDXFile: Sendable {
    /// The dimensions from the header, outermost first.
    public let dimensions: [Int]
    /// The data bytes (product of the dimensions), after the header.
    public let data: [UInt8]
    /// Whether the file was gzip-compressed (error offsets then count in the decompressed bytes).
    public let wasCompressed: Bool

    /// The magic number of an MNIST label file (1 dimension).
    public static let labelMagic: UInt32 = 2049
    /// The magic number of an MNIST image file (3 dimensions).
    public static let imageMagic: UInt32 = 2051

    /// Reads and checks `path`; `magic` is the expected magic number (2049, 2051, …).
    /// - Throws: `FileFormatError` naming the file and byte offset (a bad magic number,
    ///   dimensions that disagree with the file size, a corrupt gzip stream), `FileSystemError`.
    public init(path: String, magic: UInt32) throws {
        let (bytes, compressed) = try DataFiles.readMaybeGzipped(
            path, expectedSize: { Self.describedSize($0, magic: magic) })
        wasCompressed = compressed
        let note = compressed ? " (offsets count in the decompressed data)" : ""
        func fail(_ offset: Int, _ found: String, _ expected: String) -> FileFormatError {
            FileFormatError(path: path, offset: offset, found: found + note, expected: expected)
        }
        let wantDims = Int(magic & 0xFF)
        let magicText =
            "\(magic) (0x\(Self.hex8(magic)): unsigned bytes, \(wantDims) dimension\(wantDims == 1 ? "" : "s"))"
        guard bytes.count >= 4 else {
            throw fail(
                0, "a file of \(bytes.count) bytes, too short for the 4-byte IDX magic number",
                "the magic number \(magicText)")
        }
        let found = bytes[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard found == magic else {
            throw fail(0, "magic number \(found) (0x\(Self.hex8(found)))", "\(magicText)")
        }
        let header = 4 + 4 * wantDims
        guard bytes.count >= header else {
            throw fail(
                bytes.count, "the file ends inside the \(header)-byte header (it has \(bytes.count) bytes)",
                "\(wantDims) big-endian 32-bit dimensions after the magic number")
        }
        var dims: [Int] = []
        for d in 0..<wantDims {
            let o = 4 + 4 * d
            dims.append(Int(bytes[o..<(o + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }))
        }
        var total = 1
        var overflow = false
        for d in dims {
            let (p, o) = total.multipliedReportingOverflow(by: d)
            total = p
            overflow = overflow || o
        }
        let dimText = dims.map(String.init).joined(separator: " × ")
        guard !overflow, total == bytes.count - header else {
            let need = overflow ? "more than \(Int.max)" : "\(total)"
            throw fail(
                4,
                "dimensions \(dimText) need \(need) data bytes, but the file has \(bytes.count - header) after the \(header)-byte header",
                "a file of \(overflow ? "that" : String(header + total)) bytes")
        }
        dimensions = dims
        data = Array(bytes[header...])
    }

    /// Header plus data bytes the IDX header at the start of `bytes` describes, once the header is
    /// there (the header itself if its dimensions overflow: such a file cannot be valid).
    static func describedSize(_ bytes: [UInt8], magic: UInt32) -> Int? {
        let dims = Int(magic & 0xFF)
        let header = 4 + 4 * dims
        guard bytes.count >= header else { return nil }
        var total = 1
        for d in 0..<dims {
            let o = 4 + 4 * d
            let (p, overflow) = total.multipliedReportingOverflow(
                by: Int(bytes[o..<(o + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }))
            if overflow { return header }
            total = p
        }
        let (size, overflow) = total.addingReportingOverflow(header)
        return overflow ? header : size
    }

    static func hex8(_ v: UInt32) -> String {
        let s = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: Swift.max(0, 8 - s.count)) + s
    }
}

/// MNIST (or a dataset in the same four-file IDX layout, such as Fashion-MNIST): 28×28
/// grayscale images as [1, 28, 28], gzip-compressed or not.
///
/// Files: `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
/// `t10k-labels-idx1-ubyte`, each optionally ending in `.gz` (the `.idx3-ubyte` spelling is
/// accepted too), in the given folder or its `MNIST/raw` subfolder (torchvision's layout).
public struct MNIST: Dataset {
    public static let trainFiles = (images: "train-images-idx3-ubyte", labels: "train-labels-idx1-ubyte")
    public static let testFiles = (images: "t10k-images-idx3-ubyte", labels: "t10k-labels-idx1-ubyte")
    public static let source = "the four IDX files of http://yann.lecun.com/exdb/mnist/, gzipped (.gz) or not"
    public static let digitClassNames = (0...9).map(String.init)
    public static let fashionClassNames = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]

    public let split: DatasetSplit
    /// The image and label files read.
    public let imagesPath: String, labelsPath: String
    public let data: InMemoryDataset

    /// Reads the `split`'s image and label files from `directory`.
    /// - Parameters:
    ///   - directory: the folder holding the files (or their `MNIST/raw` subfolder).
    ///   - split: the training or the test files.
    ///   - classNames: the names of labels 0…; a label outside them is an error.
    ///   - name: the dataset's name in error messages.
    public init(
        directory: String, split: DatasetSplit, classNames: [String] = digitClassNames,
        name: String = "MNIST"
    ) throws {
        let want = split == .train ? Self.trainFiles : Self.testFiles
        let all = [Self.trainFiles.images, Self.trainFiles.labels, Self.testFiles.images, Self.testFiles.labels].map {
            $0 + "[.gz]"
        }
        func find(_ base: String) -> String? {
            let dotted = base.replacingFirst("-idx", with: ".idx")
            for folder in [directory, DataFiles.join(directory, "MNIST/raw")] {
                for name in [base + ".gz", base, dotted + ".gz", dotted]
                where DataFiles.isFile(DataFiles.join(folder, name)) {
                    return DataFiles.join(folder, name)
                }
            }
            return nil
        }
        let imagesPath = find(want.images)
        let labelsPath = find(want.labels)
        guard let imagesPath, let labelsPath else {
            let missing = [(want.images, imagesPath), (want.labels, labelsPath)].filter { $0.1 == nil }.map {
                $0.0 + "[.gz]"
            }
            throw DatasetNotFoundError(
                dataset: name, directory: directory, expectedFiles: all, missingFiles: missing,
                source: Self.source, directoryExists: DataFiles.isDirectory(directory))
        }
        let images = try IDXFile(path: imagesPath, magic: IDXFile.imageMagic)
        let labels = try IDXFile(path: labelsPath, magic: IDXFile.labelMagic)
        let (n, rows, cols) = (images.dimensions[0], images.dimensions[1], images.dimensions[2])
        guard rows > 0, cols > 0 else {
            throw FileFormatError(
                path: imagesPath, offset: 8, found: "images of \(rows) × \(cols) pixels", expected: "at least 1 × 1")
        }
        guard labels.dimensions[0] == n else {
            throw FileFormatError(
                path: labelsPath, offset: 4, found: "\(labels.dimensions[0]) labels",
                expected: "\(n), one per image of \(imagesPath)")
        }
        var values = [Int](repeating: 0, count: n)
        for i in 0..<n {
            let l = Int(labels.data[i])
            guard l < classNames.count else {
                throw FileFormatError(
                    path: labelsPath, offset: 8 + i,
                    found: "label \(l) for image \(i)"
                        + (labels.wasCompressed ? " (offsets count in the decompressed data)" : ""),
                    expected: "a label in 0…\(classNames.count - 1)")
            }
            values[i] = l
        }
        self.split = split
        self.imagesPath = imagesPath
        self.labelsPath = labelsPath
        data = InMemoryDataset(
            pixels: images.data, labels: values, imageShape: [1, rows, cols], classNames: classNames)
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

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let r = firstRange(of: target) else { return self }
        var s = self
        s.replaceSubrange(r, with: replacement)
        return s
    }
}
