import StrataNN
import StrataTensor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A checkpoint read back: the model's state dict, the optimizer's state and the training state.
///
/// Files of a run directory:
/// - `last.safetensors`: the model's state dict under its own keys (torchvision's), the optimizer's
///   state under `optimizer/<parameter>/<slot>`, and metadata: ``stateKey`` (the JSON state),
///   `class_names` (a JSON array), `model`, `kind`. `last.json` is a readable copy of the state.
/// - `best.safetensors`: the model only (load it with `strata evaluate`, `infer`, `classify`), same metadata.
public struct Checkpoint: Sendable {
    /// Metadata key of the JSON training state.
    public static let stateKey = "strata_training_state"
    /// Prefix of optimizer-state tensor names.
    public static let optimizerPrefix = "optimizer/"
    public static let lastName = "last.safetensors"
    public static let bestName = "best.safetensors"

    public let path: String
    public let state: CheckpointState
    /// Parameters and buffers of the model.
    public let model: [String: Tensor]
    /// Optimizer state, keyed `<parameter>/<slot>` (prefix removed).
    public let optimizer: [String: Tensor]

    /// Metadata key of the per-tensor checksums: a JSON object, tensor name → CRC-32C of its stored
    /// bytes (8 hex digits). Written with every checkpoint, checked on every load that finds it, so a
    /// flipped bit (an exponent turning a weight into 1e38) is an error, not a silent resume.
    public static let checksumKey = "strata_crc32c"

    /// The checksums metadata for tensors about to be written as F32/F64 (their row-major bytes).
    static func checksums(_ tensors: [String: Tensor]) -> String {
        var out: [(String, JSON)] = []
        for (name, t) in tensors.sorted(by: { $0.key < $1.key }) {
            let storage = t.storage
            let bytes = UnsafeRawBufferPointer(start: storage.pointer, count: t.count * t.dtype.byteCount)
            out.append((name, .string(hex32(CRC32C.checksum(bytes)))))
            withExtendedLifetime(storage) {}
        }
        return JSON.object(out).serialized()
    }

    /// Checks every tensor of `file` against its stored checksum, when the file has them.
    public static func verifyChecksums(_ st: SafeTensorsFile, file: String) throws {
        guard let text = st.metadata[checksumKey] else { return } // older Strata checkpoints, PyTorch files
        guard case .object(let items)? = try? JSON.parse(text) else {
            throw TrainingError.corruptCheckpoint("\(file): the \(checksumKey) metadata is not a JSON object")
        }
        let stored = Dictionary(
            items.compactMap { k, v in v.stringValue.map { (k, $0) } }, uniquingKeysWith: { a, _ in a })
        for name in st.names {
            guard let expected = stored[name] else {
                throw TrainingError.corruptCheckpoint(
                    "\(file): tensor \(name) has no checksum in \(checksumKey) (the file was altered)")
            }
            let found = hex32(CRC32C.checksum(st.storedBytes(name)!))
            guard found == expected else {
                throw TrainingError.corruptCheckpoint(
                    "\(file): tensor \(name) fails its CRC-32C check (stored \(expected), computed \(found)): the file is damaged"
                )
            }
        }
    }

    static func hex32(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 8 - s.count) + s
    }

    /// Reads a checkpoint: a `.safetensors` file, or a run directory (its `last.safetensors`).
    public static func load(_ path: String) throws -> Checkpoint {
        let file = isDirectory(path) ? path + "/" + lastName : path
        guard access(file, F_OK) == 0 else {
            if isDirectory(path) {
                throw TrainingError.resume(
                    "\(path) holds no checkpoint (\(lastName) is missing); is it a run directory written by `strata train`?"
                )
            }
            throw FileSystemError(path: file, operation: "open", code: ENOENT)
        }
        let st = try SafeTensorsFile(path: file)
        try verifyChecksums(st, file: file)
        guard let text = st.metadata[stateKey] else {
            throw TrainingError.corruptCheckpoint(
                "\(file) has no \(stateKey) metadata: it holds weights but no training state")
        }
        let state: CheckpointState
        do { state = try CheckpointState(json: try JSON.parse(text)) } catch let e as JSON.SyntaxError {
            throw TrainingError.corruptCheckpoint("\(file): the \(stateKey) metadata is not valid JSON (\(e))")
        }
        var model: [String: Tensor] = [:]
        var optimizer: [String: Tensor] = [:]
        for name in st.names {
            // Keep the stored precision (F64 step counts, F32 weights).
            let dtype: DType = st.info(name)?.dtype == "F64" ? .float64 : .float32
            let t = try st.tensor(name, as: dtype)
            guard allFinite(t) else {
                throw TrainingError.corruptCheckpoint(
                    "\(file): tensor \(name) holds NaN or infinity; resume from an earlier run directory or start anew")
            }
            if name.hasPrefix(optimizerPrefix) {
                optimizer[String(name.dropFirst(optimizerPrefix.count))] = t
            } else {
                model[name] = t
            }
        }
        return Checkpoint(path: file, state: state, model: model, optimizer: optimizer)
    }

    /// Model weights for evaluation or inference from a run directory (its `best.safetensors`,
    /// else `last.safetensors`) or any safetensors file: optimizer tensors are dropped; the class
    /// names, model and dataset come from the metadata when present (Strata checkpoints).
    public static func modelWeights(_ path: String) throws -> ModelWeights {
        var file = path
        if isDirectory(path) {
            file = [bestName, lastName].map { path + "/" + $0 }.first { access($0, F_OK) == 0 } ?? ""
            guard !file.isEmpty else {
                throw TrainingError.resume("\(path) holds no checkpoint (neither \(bestName) nor \(lastName))")
            }
        }
        let st = try SafeTensorsFile(path: file)
        try verifyChecksums(st, file: file)
        var tensors: [String: Tensor] = [:]
        for name in st.names where !name.hasPrefix(optimizerPrefix) { tensors[name] = try st.tensor(name) }
        var names: [String]?
        if let text = st.metadata["class_names"], case .array(let items)? = try? JSON.parse(text) {
            names = items.compactMap(\.stringValue)
        }
        let state = st.metadata[stateKey].flatMap { try? CheckpointState(json: try JSON.parse($0)) }
        return ModelWeights(
            file: file, tensors: tensors, classNames: names, model: st.metadata["model"] ?? state?.configuration.model,
            state: state)
    }
}

func isDirectory(_ path: String) -> Bool {
    var s = stat()
    return stat(path, &s) == 0 && (s.st_mode & S_IFMT) == S_IFDIR
}
