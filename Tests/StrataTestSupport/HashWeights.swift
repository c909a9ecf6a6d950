import StrataTensor

/// Deterministic weights and inputs, the same as Scripts/make_zoo_fixtures.py makes, so that
/// parity fixtures need no weight files: the Swift side regenerates every value from a hash.
///
/// For state-dict entry number k (0-based, state-dict order, buffers included), element i
/// (row-major), with all arithmetic mod 2³²:
///
///     x = i·2654435761 + (k + 1)·40503 + 12345
///     x ^= x >> 15;  x *= 2246822519
///     x ^= x >> 13;  x *= 3266489917
///     x ^= x >> 16
///     u = x / 2³²  (in [0, 1), exact in Float64),   s = 2u − 1  (exact)
///
/// and the value by key: `num_batches_tracked` 0, `running_var` 0.5 + u, `running_mean` 0.2·s,
/// `.bias` 0.1·s, a rank-1 `.weight` (batch norm) 1 + 0.2·s, a rank ≥ 2 `.weight` s·√(6/fan_in)
/// with fan_in = Π shape[1...]. Inputs use k = ``inputIndex`` and the value s.
public enum HashWeights {
    /// The entry number the input tensor is hashed with.
    public static let inputIndex = 1_000_003

    /// The 32-bit hash of element `i` of entry `k`.
    @inline(__always)
    public static func hash(_ k: Int, _ i: Int) -> UInt32 {
        var x =
            UInt32(truncatingIfNeeded: i) &* 2_654_435_761
            &+ (UInt32(truncatingIfNeeded: k + 1) &* 40503 &+ 12345)
        x ^= x >> 15
        x &*= 2_246_822_519
        x ^= x >> 13
        x &*= 3_266_489_917
        x ^= x >> 16
        return x
    }

    /// u = hash / 2³², in [0, 1).
    @inline(__always)
    public static func unit(_ k: Int, _ i: Int) -> Double { Double(hash(k, i)) / 4_294_967_296 }

    /// A key the rules do not cover.
    public struct UnknownEntry: Error, CustomStringConvertible {
        public let key: String
        public let shape: [Int]
        public var description: String { "HashWeights: no deterministic rule for \(key) \(shape)" }
    }

    /// An entry's values as offset + factor·s. Every rule has this form with the same rounding
    /// as the fixture script's arithmetic (0.5 + u = 1 + 0.5·s exactly, since 0.5·s = u − 0.5
    /// is exact), so Float64 values are bit-identical to NumPy's. nil: zeros.
    static func rule(key: String, shape: [Int]) throws -> (offset: Double, factor: Double)? {
        if key.hasSuffix("num_batches_tracked") { return nil }
        if key.hasSuffix("running_var") { return (1, 0.5) }
        if key.hasSuffix("running_mean") { return (0, 0.2) }
        if key.hasSuffix(".bias") { return (0, 0.1) }
        if key.hasSuffix(".weight") && shape.count == 1 { return (1, 0.2) }
        if key.hasSuffix(".weight") && shape.count >= 2 {
            return (0, (6.0 / Double(shape.dropFirst().reduce(1, *))).squareRoot())
        }
        throw UnknownEntry(key: key, shape: shape)
    }

    // The values of entry k, written by tight loops: test builds are unoptimized, and VGG's
    // and AlexNet's classifiers hold 10⁸ values. x starts at x(i = 0) and steps by the
    // multiplier; s = 2u − 1 = x·2⁻³¹ − 1 exactly.

    static func write(_ p: UnsafeMutableBufferPointer<Double>, k: Int, rule: (offset: Double, factor: Double)?) {
        guard let (offset, factor) = rule else {
            p.update(repeating: 0)
            return
        }
        var next = UInt32(truncatingIfNeeded: k + 1) &* 40503 &+ 12345
        for i in 0..<p.count {
            var x = next
            next = next &+ 2_654_435_761
            x ^= x &>> 15
            x = x &* 2_246_822_519
            x ^= x &>> 13
            x = x &* 3_266_489_917
            x ^= x &>> 16
            p[i] = offset + factor * (Double(x) * 0x1p-31 - 1)
        }
    }

    static func write(_ p: UnsafeMutableBufferPointer<Float>, k: Int, rule: (offset: Double, factor: Double)?) {
        guard let (offset, factor) = rule else {
            p.update(repeating: 0)
            return
        }
        var next = UInt32(truncatingIfNeeded: k + 1) &* 40503 &+ 12345
        for i in 0..<p.count {
            var x = next
            next = next &+ 2_654_435_761
            x ^= x &>> 15
            x = x &* 2_246_822_519
            x ^= x &>> 13
            x = x &* 3_266_489_917
            x ^= x &>> 16
            p[i] = Float(offset + factor * (Double(x) * 0x1p-31 - 1))
        }
    }

    /// Overwrites every entry of a state dict (`module.stateDict()`, in its order) in place with
    /// its deterministic values, in each tensor's own dtype (Float32 entries get the Float64
    /// values rounded). Returns the number of entries filled.
    /// - Throws: ``UnknownEntry`` for a key no rule covers (nothing after it is filled).
    @discardableResult
    public static func fill(_ entries: [(key: String, tensor: Tensor)]) throws -> Int {
        for (k, entry) in entries.enumerated() {
            let t = entry.tensor
            let r = try rule(key: entry.key, shape: t.shape)
            switch t.dtype {
            case .float32: t.withUnsafeMutableBuffer(as: Float.self) { write($0, k: k, rule: r) }
            case .float64: t.withUnsafeMutableBuffer(as: Double.self) { write($0, k: k, rule: r) }
            default: preconditionFailure("HashWeights: \(t.dtype) tensors are not filled")
            }
        }
        return entries.count
    }

    /// The deterministic input of `shape`: s = 2u − 1 with k = ``inputIndex``.
    public static func input(_ shape: [Int], dtype: DType = .float32) -> Tensor {
        Tensor.fromFunction(shape, dtype: dtype) { 2 * unit(inputIndex, $0) - 1 }
    }
}
