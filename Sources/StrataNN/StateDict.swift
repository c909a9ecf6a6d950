import StrataTensor

/// Why a state dict did not load: every problem at once.
public struct StateDictError: Error, CustomStringConvertible, Equatable {
    public var missingKeys: [String]
    public var unexpectedKeys: [String]
    /// (key, shape in the model, shape given)
    public var shapeMismatches: [(key: String, expected: [Int], found: [Int])]

    public static func == (a: Self, b: Self) -> Bool {
        a.missingKeys == b.missingKeys && a.unexpectedKeys == b.unexpectedKeys
            && a.shapeMismatches.map { "\($0)" } == b.shapeMismatches.map { "\($0)" }
    }

    public var description: String {
        var lines = ["Error(s) in loading state dict:"]
        if !missingKeys.isEmpty {
            lines.append("  missing keys (\(missingKeys.count)): " + missingKeys.joined(separator: ", "))
        }
        if !unexpectedKeys.isEmpty {
            lines.append("  unexpected keys (\(unexpectedKeys.count)): " + unexpectedKeys.joined(separator: ", "))
        }
        for m in shapeMismatches {
            lines.append("  size mismatch for \(m.key): the model has shape \(m.expected), the weights have \(m.found)")
        }
        return lines.joined(separator: "\n")
    }
}

extension Module {
    /// Copies `tensors` into this module's parameters and buffers (converting dtype).
    ///
    /// - Parameters:
    ///   - tensors: a state dict: tensors by dotted name (`layer1.0.conv1.weight`).
    ///   - strict: when true (the default), any missing key, unexpected key or
    ///     shape mismatch throws a ``StateDictError`` listing all of them and nothing is
    ///     changed. Missing `num_batches_tracked` buffers are not errors (PyTorch's rule: they
    ///     keep their value). When false, matching keys load and the rest are returned.
    /// - Returns: the problems ignored in non-strict mode (shape mismatches are always errors).
    @discardableResult
    public func loadStateDict(_ tensors: [String: Tensor], strict: Bool = true) throws -> StateDictError {
        let own = stateDict()
        var missing: [String] = []
        var mismatches: [(key: String, expected: [Int], found: [Int])] = []
        let ownKeys = Set(own.map(\.key))
        for (key, t) in own {
            guard let given = tensors[key] else {
                // As PyTorch's batch norm does on load: a state dict saved without the counter (older
                // PyTorch, or filtered) keeps the module's own value instead of failing a strict load.
                if !Self.isBatchCounter(key) { missing.append(key) }
                continue
            }
            if given.shape != t.shape && !(given.count == 1 && t.count == 1) {
                mismatches.append((key, t.shape, given.shape))
            }
        }
        let unexpected = tensors.keys.filter { !ownKeys.contains($0) }.sorted()
        let report = StateDictError(missingKeys: missing, unexpectedKeys: unexpected, shapeMismatches: mismatches)
        if !mismatches.isEmpty || (strict && (!missing.isEmpty || !unexpected.isEmpty)) { throw report }
        withNoGrad {
            for (key, t) in own {
                guard let given = tensors[key] else { continue }
                t.assign(given.reshaped(t.shape).to(t.dtype))
            }
        }
        return report
    }

    /// `num_batches_tracked`, batch norm's step counter.
    static func isBatchCounter(_ key: String) -> Bool {
        key == "num_batches_tracked" || key.hasSuffix(".num_batches_tracked")
    }

    /// Converts every parameter and buffer to `dtype` in place (e.g. Float64 for checks).
    @discardableResult
    public func converted(to dtype: DType) -> Self {
        for (_, t) in stateDict() { t.convertInPlace(to: dtype) }
        return self
    }
}
