import Dispatch
import StrataImage

@_exported import struct StrataImage.Image
@_exported import struct StrataImage.ImageError

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A folder of JPEG and PNG images, one subfolder per class: the ImageNet layout that
/// torchvision's `ImageFolder` reads.
///
/// ```
/// train/n01440764/n01440764_10026.JPEG
/// train/n01440764/n01440764_10027.JPEG
/// train/n01443537/n01443537_10007.JPEG
/// ```
///
/// As in torchvision:
/// - the classes are the subfolders of `root` (following symbolic links), sorted by name
///   (code point order, as Python's `sorted`); label = position in ``classNames``;
/// - a class's images are the files with the extension `.jpg`, `.jpeg` or `.png` (any case)
///   anywhere below its folder (subfolders included, links followed), in the order
///   `sorted(os.walk(class_folder))` then sorted file names gives; other files, and files
///   directly in `root`, are ignored;
/// - every image is converted to RGB (or, with `channels: 1`, to grayscale) and keeps its own
///   size: ``shape(of:)`` is `[channels, height, width]` of that file. A loader's transform
///   (``ImageTransform/imageNetTraining(size:_:)``, ``ImageTransform/imageNetEvaluation(resize:size:_:)``)
///   brings the examples to one size.
///
/// **Reading.** `init` lists the folders and reads the *header* of every image (a few
/// kilobytes, nothing is decoded; see `ImageDecoder.header(path:)`), on several threads:
/// that gives every example's size and finds the files that cannot be images (empty,
/// truncated before the image data, not a JPEG or PNG, a damaged header, unreadable). `load`
/// decodes one image on demand and is safe to call from many threads at once.
///
/// **Corrupt files.** Because ``load(_:into:)`` cannot throw, the policy is decided in `init`:
/// - by default an unreadable file makes `init` throw ``UnreadableImagesError``, naming the
///   first such file (in dataset order) and what is wrong with it;
/// - with `skipCorrupt: true` such files are left out (listed in ``skipped``) and a warning
///   saying how many, and which, is printed to standard error.
///
/// A file whose header is valid but whose image data is damaged (found only when it is
/// decoded) loads as **zeros**, with its label; it is recorded once in ``decodeFailures``
/// (thread-safe), which a training loop can check after an epoch.
///
/// ```swift
/// let train = try ImageFolder(root: "imagenet/train")
/// let loader = BatchLoader(train, batchSize: 256, shuffleSeed: 1, transform: .imageNetTraining(size: 224))
/// ```
public struct ImageFolder: Dataset {
    /// The file extensions read (compared ignoring case), as torchvision's `IMG_EXTENSIONS` subset.
    public static let extensions = [".jpg", ".jpeg", ".png"]

    /// The folder holding the class folders, as given.
    public let root: String
    /// The class folder names, sorted; index = label.
    public let classNames: [String]
    /// Channels of every example: 3 (RGB) or 1 (grayscale).
    public let channels: Int
    /// The label of every example.
    public let labels: [Int]
    /// The files left out because their header cannot be read (`skipCorrupt: true`), in
    /// dataset order; empty otherwise.
    public let skipped: [ImageError]
    /// The first example's [C, H, W]: a nominal shape (examples differ in size, see ``shape(of:)``).
    public let imageShape: [Int]

    /// Paths relative to ``root``, one after another.
    let files: PathTable
    let widths: [Int32]
    let heights: [Int32]
    let failures: DecodeFailureLog

    /// Lists `root` and reads the header of every image in it.
    ///
    /// - Parameters:
    ///   - root: the folder holding one folder per class.
    ///   - channels: 3 converts every image to RGB (torchvision's `convert("RGB")`), 1 to grayscale.
    ///   - skipCorrupt: leave out files whose header cannot be read, with a warning, instead
    ///     of throwing.
    ///   - warn: receives the warning about skipped files (default: printed to standard error).
    /// - Throws: ``DatasetNotFoundError`` when `root` does not exist, holds no class folders,
    ///   or a class folder holds no image files; ``UnreadableImagesError`` when an image's
    ///   header cannot be read (unless `skipCorrupt`), or when no image at all can be read;
    ///   `FileSystemError` when a folder cannot be listed; `FileFormatError` when `root` is a file.
    public init(
        root: String, channels: Int = 3, skipCorrupt: Bool = false,
        warn: (String) -> Void = ImageFolder.printWarning
    ) throws {
        precondition(channels == 1 || channels == 3, "ImageFolder: channels must be 1 or 3, got \(channels)")
        let listing = try ImageFolderListing(root: root)
        let all = listing.files
        // Headers, on several threads (the work is mostly waiting for the disk).
        var headers = [HeaderResult](
            repeating: .failed(ImageError(name: "", kind: .unreadable, detail: "")), count: all.count)
        let chunk = 64
        headers.withUnsafeMutableBufferPointer { out in
            DispatchQueue.concurrentPerform(iterations: (all.count + chunk - 1) / chunk) { c in
                for i in (c * chunk)..<Swift.min(all.count, (c + 1) * chunk) {
                    let path = DataFiles.join(root, all[i].path)
                    do {
                        let h = try ImageDecoder.header(path: path)
                        out[i] = .ok(width: Int32(h.width), height: Int32(h.height))
                    } catch let e as ImageError {
                        out[i] = .failed(e)
                    } catch {
                        out[i] = .failed(ImageError(name: path, kind: .unreadable, detail: "\(error)"))
                    }
                }
            }
        }
        var files = PathTable()
        var labels: [Int] = []
        var widths: [Int32] = []
        var heights: [Int32] = []
        var bad: [ImageError] = []
        labels.reserveCapacity(all.count)
        widths.reserveCapacity(all.count)
        heights.reserveCapacity(all.count)
        for (file, header) in zip(all, headers) {
            switch header {
            case .ok(let w, let h):
                files.append(file.path)
                labels.append(file.label)
                widths.append(w)
                heights.append(h)
            case .failed(let e):
                bad.append(e)
            }
        }
        if !bad.isEmpty && (!skipCorrupt || labels.isEmpty) {
            throw UnreadableImagesError(directory: root, failures: bad, fileCount: all.count)
        }
        if !bad.isEmpty {
            var present = [Bool](repeating: false, count: listing.classNames.count)
            for l in labels { present[l] = true }
            let emptied = listing.classNames.indices.filter { !present[$0] }.map { listing.classNames[$0] }
            warn(Self.skipWarning(root: root, skipped: bad, total: all.count, emptiedClasses: emptied))
        }
        self.root = root
        self.classNames = listing.classNames
        self.channels = channels
        self.files = files
        self.labels = labels
        self.widths = widths
        self.heights = heights
        self.skipped = bad
        failures = DecodeFailureLog()
        imageShape = [channels, Int(heights[0]), Int(widths[0])]
    }

    public var count: Int { labels.count }

    /// Class name → label (torchvision's `class_to_idx`).
    public var classToIndex: [String: Int] {
        Dictionary(uniqueKeysWithValues: classNames.enumerated().map { ($1, $0) })
    }

    /// The path of example `index`: ``root`` joined with ``relativePath(_:)``.
    public func path(_ index: Int) -> String { DataFiles.join(root, files[index]) }

    /// The path of example `index` below ``root``, e.g. `n01440764/n01440764_10026.JPEG`.
    public func relativePath(_ index: Int) -> String { files[index] }

    /// The paths of all examples, in order.
    public var paths: [String] { (0..<count).map(path) }

    /// The size of example `index`, from its header (read in `init`).
    public func size(of index: Int) -> (width: Int, height: Int) { (Int(widths[index]), Int(heights[index])) }

    /// `[channels, height, width]` of example `index` (from its header; no decoding).
    public func shape(of index: Int) -> [Int] { [channels, Int(heights[index]), Int(widths[index])] }

    public func label(_ index: Int) -> Int { labels[index] }

    /// Decodes example `index` (HWC bytes, ``channels`` channels), throwing what is wrong.
    public func image(_ index: Int) throws -> Image {
        try ImageDecoder.decode(path: path(index), channels: channels)
    }

    /// Decodes example `index` into `pixels` (CHW, values / 255) and returns its label.
    /// An image that fails to decode (or no longer has the size its header had in `init`)
    /// gives zeros and is recorded in ``decodeFailures``.
    public func load(_ index: Int, into pixels: UnsafeMutableBufferPointer<Float>) -> Int {
        let h = Int(heights[index])
        let w = Int(widths[index])
        let c = channels
        precondition(
            pixels.count == c * h * w,
            "ImageFolder.load: buffer of \(pixels.count) floats for example \(index) of shape \([c, h, w])")
        do {
            let img = try image(index)
            guard img.width == w && img.height == h else {
                throw ImageError(
                    name: path(index), kind: .corrupt,
                    detail:
                        "decodes to \(img.width)×\(img.height), but its header gave \(w)×\(h) when the folder was read (did the file change?)"
                )
            }
            let plane = h * w
            img.pixels.withUnsafeBufferPointer { src in
                byteToUnit.withUnsafeBufferPointer { table in
                    let d = pixels.baseAddress!
                    for ch in 0..<c {
                        let dst = d + ch * plane
                        for p in 0..<plane { dst[p] = table[Int(src[p * c + ch])] }
                    }
                }
            }
        } catch {
            pixels.update(repeating: 0)
            let e = error as? ImageError ?? ImageError(name: path(index), kind: .corrupt, detail: "\(error)")
            failures.record(DecodeFailure(index: index, path: path(index), error: e))
        }
        return labels[index]
    }

    /// An example whose header was valid in `init` but whose image failed to decode later.
    public struct DecodeFailure: Equatable, Sendable, CustomStringConvertible {
        /// The example's index in the folder.
        public var index: Int
        public var path: String
        public var error: ImageError
        public var description: String { "example \(index): \(error)" }
    }

    /// The examples that failed to decode so far (each listed once, in the order found;
    /// they were loaded as zeros). Safe to read while loader threads are running. Copies of
    /// this dataset share the list.
    public var decodeFailures: [DecodeFailure] { failures.entries }

    /// Prints `message` to standard error (the default for `init`'s `warn`).
    public static func printWarning(_ message: String) {
        fputs(message + "\n", stderr)
        fflush(stderr)
    }

    /// How many files lists of names show before "and N more".
    static let namesShown = 5

    static func skipWarning(root: String, skipped: [ImageError], total: Int, emptiedClasses: [String]) -> String {
        let shown = skipped.prefix(namesShown).map { "\(relative($0.name, to: root)) (\($0.detail))" }
        let more = skipped.count > namesShown ? " and \(skipped.count - namesShown) more" : ""
        var s =
            "warning: ImageFolder \(root): skipped \(skipped.count) of \(total) image file\(total == 1 ? "" : "s") that cannot be read: "
            + shown.joined(separator: "; ") + more
        if !emptiedClasses.isEmpty {
            s +=
                ". No image is left in class\(emptiedClasses.count == 1 ? "" : "es") "
                + emptiedClasses.joined(separator: ", ")
        }
        return s
    }

    static func relative(_ path: String, to root: String) -> String {
        let prefix = root.hasSuffix("/") ? root : root + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
    }
}

/// Some images of an ``ImageFolder`` cannot be read (their header is missing, damaged or
/// truncated, or the file is not a JPEG or PNG at all).
///
/// ```
/// ImageFolder photos/train: 2 of 1300 image files cannot be read. The first: photos/train/cat/x.jpg:
/// truncated JPEG: the file ends at byte 412, inside its header (before the image data). Also: dog/y.png.
/// Fix or remove them, or pass skipCorrupt: true to leave them out with a warning
/// ```
public struct UnreadableImagesError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The ImageFolder's root.
    public var directory: String
    /// Every unreadable file, in dataset order (never empty).
    public var failures: [ImageError]
    /// How many image files the folder holds.
    public var fileCount: Int

    public init(directory: String, failures: [ImageError], fileCount: Int) {
        self.directory = directory
        self.failures = failures
        self.fileCount = fileCount
    }

    /// The first unreadable file.
    public var path: String { failures.first?.name ?? directory }

    public var description: String {
        let n = failures.count
        var s =
            "ImageFolder \(directory): \(n == fileCount && n > 1 ? "none of the \(n)" : "\(n) of \(fileCount)") image file\(fileCount == 1 ? "" : "s") "
            + "\(n == fileCount && n > 1 ? "can" : "cannot") be read. The first: \(failures.first.map { "\($0)" } ?? "?")"
        if n > 1 {
            let others = failures.dropFirst().prefix(ImageFolder.namesShown).map {
                ImageFolder.relative($0.name, to: directory)
            }
            s += ". Also: " + others.joined(separator: ", ")
            if n - 1 > ImageFolder.namesShown { s += " and \(n - 1 - ImageFolder.namesShown) more" }
        }
        if n < fileCount { s += ". Fix or remove them, or pass skipCorrupt: true to leave them out with a warning" }
        return s
    }
}

enum HeaderResult {
    case ok(width: Int32, height: Int32)
    case failed(ImageError)
}

/// Strings stored one after another in one byte array (an ImageNet listing is 1.28 M paths).
struct PathTable: Sendable {
    private var bytes: [UInt8] = []
    private var ends: [Int] = []

    mutating func append(_ s: String) {
        bytes.append(contentsOf: s.utf8)
        ends.append(bytes.count)
    }

    var count: Int { ends.count }

    subscript(i: Int) -> String {
        let start = i == 0 ? 0 : ends[i - 1]
        return String(decoding: bytes[start..<ends[i]], as: UTF8.self)
    }
}

/// The thread-safe list behind ``ImageFolder/decodeFailures``.
final class DecodeFailureLog: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var list: [ImageFolder.DecodeFailure] = []
    private var seen = Set<Int>()

    init() { pthread_mutex_init(mutex, nil) }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func record(_ failure: ImageFolder.DecodeFailure) {
        pthread_mutex_lock(mutex)
        if seen.insert(failure.index).inserted { list.append(failure) }
        pthread_mutex_unlock(mutex)
    }

    var entries: [ImageFolder.DecodeFailure] {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return list
    }
}

/// The classes and image files of an ImageFolder, in torchvision's order.
struct ImageFolderListing {
    struct File {
        var path: String
        var label: Int
    }

    let classNames: [String]
    /// Every image file (path relative to the root) with its label.
    let files: [File]

    static let layout =
        "one folder per class holding .jpg, .jpeg or .png files, e.g. <root>/n01440764/n01440764_10026.JPEG"
    static let source = "the ImageNet layout; class names are the sorted folder names, as in torchvision's ImageFolder"

    static func notFound(_ root: String, missing: [String], exists: Bool) -> DatasetNotFoundError {
        DatasetNotFoundError(
            dataset: "ImageFolder", directory: root, expectedFiles: [layout], missingFiles: missing,
            source: source, directoryExists: exists)
    }

    init(root: String) throws {
        var st = stat()
        guard stat(root, &st) == 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR { throw Self.notFound(root, missing: [], exists: false) }
            throw FileSystemError(path: root, operation: "stat", code: code)
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            throw FileFormatError(path: root, found: "a file, not a folder", expected: "a folder with \(Self.layout)")
        }
        let top = try Self.list(root)
        let classes = top.filter { $0.isDirectory }.map(\.name).sorted(by: utf8Less)
        guard !classes.isEmpty else {
            let loose = top.filter { !$0.isDirectory && Self.isImage($0.name) }.count
            let hint =
                loose > 0
                ? "it has no subfolders; its \(loose) image file\(loose == 1 ? "" : "s") must be in class folders"
                : "it has no subfolders"
            throw Self.notFound(root, missing: ["class folders (\(hint))"], exists: true)
        }
        var files: [File] = []
        var empty: [String] = []
        for (label, name) in classes.enumerated() {
            let found = try Self.images(root: root, classFolder: name)
            if found.isEmpty { empty.append(name) }
            files += found.map { File(path: $0, label: label) }
        }
        guard empty.isEmpty else {
            let list =
                empty.count > 10
                ? empty.prefix(10).joined(separator: ", ") + " and \(empty.count - 10) more"
                : empty.joined(separator: ", ")
            throw Self.notFound(
                root,
                missing: [
                    "images in the class folder\(empty.count == 1 ? "" : "s") \(list) (no .jpg, .jpeg or .png files)"
                ],
                exists: true)
        }
        classNames = classes
        self.files = files
    }

    static func isImage(_ name: String) -> Bool {
        let lower = name.lowercased()
        return ImageFolder.extensions.contains { lower.hasSuffix($0) }
    }

    /// The image files below `root/classFolder` (relative to root), in the order of
    /// torchvision's `make_dataset`: `sorted(os.walk(folder, followlinks=True))`, then each
    /// folder's sorted file names.
    static func images(root: String, classFolder: String) throws -> [String] {
        var folders: [(path: String, files: [String])] = []
        var pending = [classFolder]
        var visited = Set<[UInt64]>()
        while let folder = pending.popLast() {
            let full = DataFiles.join(root, folder)
            var st = stat()
            if stat(full, &st) == 0 {
                // A link back up the tree would loop forever (Python's os.walk does); visit once.
                guard visited.insert([UInt64(st.st_dev), UInt64(st.st_ino)]).inserted else { continue }
            }
            let entries = try list(full)
            folders.append((folder, entries.filter { !$0.isDirectory && isImage($0.name) }.map(\.name)))
            pending += entries.filter(\.isDirectory).map { folder + "/" + $0.name }
        }
        folders.sort { utf8Less($0.path, $1.path) }
        return folders.flatMap { f in f.files.sorted(by: utf8Less).map { f.path + "/" + $0 } }
    }

    struct Entry {
        var name: String
        var isDirectory: Bool
    }

    /// The entries of a folder (without `.` and `..`); links are followed to tell folders from files.
    static func list(_ path: String) throws -> [Entry] {
        guard let dir = opendir(path) else { throw FileSystemError(path: path, operation: "open folder", code: errno) }
        defer { closedir(dir) }
        var out: [Entry] = []
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                if errno != 0 { throw FileSystemError(path: path, operation: "read folder", code: errno) }
                break
            }
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            let type = entry.pointee.d_type
            var isDirectory = type == UInt8(DT_DIR)
            if type == UInt8(DT_LNK) || type == UInt8(DT_UNKNOWN) {
                var st = stat()
                isDirectory = stat(DataFiles.join(path, name), &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
            }
            out.append(Entry(name: name, isDirectory: isDirectory))
        }
        return out
    }
}

/// Python's string order (code points, which is UTF-8 byte order).
func utf8Less(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }
