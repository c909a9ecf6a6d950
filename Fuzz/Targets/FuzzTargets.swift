// The parsers that read what users hand Strata, as functions of arbitrary bytes: libFuzzer drives
// them (Scripts/fuzz.sh, built with -sanitize=fuzzer,address) and the test suite replays the kept
// corpus (Fuzz/Corpus) through them. A target may accept or reject its input; it must never trap,
// leak or allocate beyond its bound, and a rejection must name what it rejected (the file or option).
import Foundation
import StrataData
import StrataImage
import StrataModels
import StrataNN
import StrataTensor
import StrataTraining

/// What a parser made of one input.
public enum FuzzOutcome: Equatable, Sendable {
    /// Parsed and usable.
    case accepted
    /// Rejected with this message.
    case rejected(String)
}

/// One parser under test.
public struct FuzzTarget: Sendable {
    /// Name on the command line and folder under Fuzz/Corpus.
    public let name: String
    /// What it reads.
    public let summary: String
    /// The largest single allocation (MiB) an input may cause: libFuzzer's `-malloc_limit_mb`.
    public let mallocLimitMB: Int
    /// Runs the parser on `bytes`; `scratch` is a private folder for files.
    let body: @Sendable (_ bytes: [UInt8], _ scratch: String) -> FuzzOutcome

    public func run(_ bytes: [UInt8], scratch: String) -> FuzzOutcome { body(bytes, scratch) }

    /// Every target.
    public static let all: [FuzzTarget] = [
        safetensors, npy, idx, cifar, imageHeader, imageDecode, checkpointState, cliStrings,
    ]

    public static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }
}

/// A rejection must say which input it rejects; one that does not is a bug worth a crash report.
func rejection(_ error: Error, naming subject: String) -> FuzzOutcome {
    let message = "\(error)"
    precondition(message.contains(subject), "the error does not name \(subject): \(message)")
    return .rejected(message)
}

/// Writes `bytes` to `scratch/name` (replacing it) and returns the path.
func file(_ bytes: [UInt8], _ scratch: String, _ name: String) -> String {
    let path = scratch + "/" + name
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    precondition(fd >= 0, "cannot write \(path)")
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
    precondition(written == bytes.count, "cannot write \(path)")
    return path
}

extension FuzzTarget {
    /// safetensors: the header JSON, dtypes, shapes and offsets against the file, every tensor read as
    /// float32, and the checkpoint checksums a Strata checkpoint carries.
    static let safetensors = FuzzTarget(
        name: "safetensors", summary: "safetensors files (header, offsets, tensors, CRC-32C metadata)",
        mallocLimitMB: 64
    ) { bytes, scratch in
        let path = file(bytes, scratch, "fuzz.safetensors")
        do {
            let st = try SafeTensorsFile(path: path)
            try Checkpoint.verifyChecksums(st, file: path)
            for name in st.names { _ = try st.tensor(name) }
            return .accepted
        } catch { return rejection(error, naming: path) }
    }

    /// NumPy .npy: magic, version, the header dict (dtype, fortran_order, shape) and the data size.
    static let npy = FuzzTarget(
        name: "npy", summary: "NumPy .npy files (versions 1–3, every dtype Strata reads)",
        mallocLimitMB: 64
    ) { bytes, scratch in
        let path = file(bytes, scratch, "fuzz.npy")
        do {
            _ = try NPY.read(path: path)
            return .accepted
        } catch { return rejection(error, naming: path) }
    }

    /// IDX (MNIST): magic, dimensions against the size, gzip streams checked against the header while inflating.
    /// The first byte picks the magic number (labels or images); gzip input is detected by its magic bytes.
    static let idx = FuzzTarget(
        name: "idx", summary: "IDX files, raw or gzip-compressed (MNIST images and labels)",
        mallocLimitMB: 64
    ) { bytes, scratch in
        guard let selector = bytes.first else { return .accepted }
        let body = Array(bytes.dropFirst())
        let gz = body.count >= 2 && body[0] == 0x1F && body[1] == 0x8B
        let path = file(body, scratch, gz ? "fuzz-idx.gz" : "fuzz-idx")
        do {
            let f = try IDXFile(path: path, magic: selector & 1 == 0 ? IDXFile.labelMagic : IDXFile.imageMagic)
            precondition(f.data.count == f.dimensions.reduce(1, *))
            return .accepted
        } catch { return rejection(error, naming: path) }
    }

    /// CIFAR binary batches: the first byte picks CIFAR-10 or CIFAR-100 (and whether the same bytes
    /// also serve as the class-names file); the rest is the test batch.
    static let cifar = FuzzTarget(
        name: "cifar", summary: "CIFAR-10/100 binary batches and class-name files",
        mallocLimitMB: 64
    ) { bytes, scratch in
        guard let selector = bytes.first else { return .accepted }
        let body = Array(bytes.dropFirst())
        let dir = scratch + "/cifar"
        mkdir(dir, 0o700)
        for name in [CIFAR10.classNamesFile, CIFAR100.fineNamesFile, CIFAR10.testFiles[0], CIFAR100.testFiles[0]] {
            unlink(dir + "/" + name)
        }
        let ten = selector & 1 == 0
        _ = file(body, dir, ten ? CIFAR10.testFiles[0] : CIFAR100.testFiles[0])
        if selector & 2 != 0 { _ = file(body, dir, ten ? CIFAR10.classNamesFile : CIFAR100.fineNamesFile) }
        do {
            let count =
                ten ? try CIFAR10(directory: dir, split: .test).count : try CIFAR100(directory: dir, split: .test).count
            precondition(count == body.count / (ten ? 3073 : 3074))
            return .accepted
        } catch { return rejection(error, naming: dir) }
    }

    /// JPEG/PNG headers: format, dimensions and channels without decoding.
    static let imageHeader = FuzzTarget(
        name: "image-header", summary: "JPEG and PNG headers (format, size, channels)",
        mallocLimitMB: 64
    ) { bytes, _ in
        do {
            let h = try ImageDecoder.header(bytes: bytes, name: "fuzz-image")
            precondition(h.width > 0 && h.height > 0)
            return .accepted
        } catch { return rejection(error, naming: "fuzz-image") }
    }

    /// JPEG/PNG decoding through libjpeg-turbo and libpng, with the pixel limit checked first; a
    /// decoded image is also resized and cropped as `classify` does.
    ///
    /// Decoding costs time linear in the pixel count, and a 338-byte JPEG can legally claim
    /// 80 million pixels (under ``ImageDecoder/maxPixels``), which takes over 10 s under ASan and
    /// coverage. Headers claiming more than ``decodedPixelBound`` are therefore checked (by the
    /// decoder's header path, as `image-header` does) but not decoded here.
    static let imageDecode = FuzzTarget(
        name: "image-decode", summary: "JPEG and PNG decoding (libjpeg-turbo, libpng) and the classify transforms",
        mallocLimitMB: 300
    ) { bytes, _ in
        do {
            if let h = try? ImageDecoder.header(bytes: bytes, name: "fuzz-image"),
                h.width * h.height > decodedPixelBound
            {
                return .accepted
            }
            let image = try ImageDecoder.decode(bytes: bytes, name: "fuzz-image", channels: 3)
            precondition(image.width > 0 && image.height > 0 && image.channels == 3)
            // As classify does: resize and crop in one pass, so an elongated image (2×60696 was
            // found here) never becomes a multi-million-pixel intermediate.
            let cropped = ImageTransforms.resizeShorterSideAndCenterCrop(image, resize: 36, crop: 32)
            precondition(cropped.width == 32 && cropped.height == 32)
            return .accepted
        } catch { return rejection(error, naming: "fuzz-image") }
    }

    /// The largest image (in pixels, 2048²) the `image-decode` target decodes.
    static let decodedPixelBound = 1 << 22

    /// The JSON training state stored in a checkpoint's metadata (`last.json`), as `--resume` reads it.
    static let checkpointState = FuzzTarget(
        name: "checkpoint-state", summary: "checkpoint training state (JSON) as --resume reads it",
        mallocLimitMB: 64
    ) { bytes, _ in
        do {
            let json = try bytes.withUnsafeBytes { try JSON.parse($0) }
            let state = try CheckpointState(json: json)
            precondition(state.progress.epoch >= 0 && state.progress.batchInEpoch >= 0)
            return .accepted
        } catch { return .rejected("\(error)") } // no file here: the loader adds its name
    }

    /// Command-line strings: `--input` shapes, `--conv-layers` specs and model names (with
    /// `densenet_bc_L_kK`), each line of the input one string.
    static let cliStrings = FuzzTarget(
        name: "cli-strings", summary: "command-line shapes (--input, --conv-layers) and model names",
        mallocLimitMB: 64
    ) { bytes, _ in
        let text = String(decoding: bytes, as: UTF8.self)
        // A line is accepted when one of the three readings takes it; every rejection must name its option.
        var outcome = FuzzOutcome.accepted
        for line in text.split(separator: "\n").prefix(16).map(String.init) {
            var messages: [String] = []
            do {
                let shape = try ShapeText.parse(line, rank: 3, option: "--input", layout: "C×H×W")
                precondition(shape.count == 3 && shape.allSatisfy { $0 > 0 && $0 <= 100_000 })
            } catch { if case .rejected(let m) = rejection(error, naming: "--input") { messages.append(m) } }
            do {
                let spec = try ShapeText.parse(
                    line, rank: 5, option: "--conv-layers", layout: "N×C×K×H×W", maxElements: Int.max)
                precondition(spec.count == 5)
            } catch { if case .rejected(let m) = rejection(error, naming: "--conv-layers") { messages.append(m) } }
            do {
                let entry = try Models.entry(line)
                try entry.checkInput(entry.input)
            } catch { messages.append("\(error)") }
            if messages.count == 3 { outcome = .rejected(messages.joined(separator: "; ")) }
        }
        return outcome
    }
}
