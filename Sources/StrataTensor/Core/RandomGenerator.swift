/// A seeded, portable pseudo-random generator: xoshiro256** seeded through SplitMix64.
///
/// The same seed gives the same stream on every machine and at every thread count:
/// tensors are filled sequentially, element by element, in row-major order.
/// - uniform Float: the top 24 bits of a draw scaled by 2⁻²⁴, in [0, 1);
///   uniform Double: the top 53 bits scaled by 2⁻⁵³.
/// - normal: Box–Muller on two uniform doubles, both outputs used in order.
public struct RandomGenerator: Sendable, Equatable {
    /// The full state, for checkpoints.
    public var state: (UInt64, UInt64, UInt64, UInt64)
    var spareNormal: Double?

    public init(seed: UInt64) {
        var s = seed
        func splitmix() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    public static func == (a: RandomGenerator, b: RandomGenerator) -> Bool {
        a.state == b.state && a.spareNormal == b.spareNormal
    }

    @inline(__always)
    static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// The next 64 random bits.
    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = Self.rotl(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = Self.rotl(state.3, 45)
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    @inline(__always)
    public mutating func nextDouble() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform in [0, 1) with 24 random bits.
    @inline(__always)
    public mutating func nextFloat() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// Uniform integer in 0..<bound (unbiased, by rejection).
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "nextInt(below:) needs a positive bound, got \(bound)")
        let b = UInt64(bound)
        let limit = UInt64.max - UInt64.max % b
        while true {
            let r = next()
            if r < limit { return Int(r % b) }
        }
    }

    /// Standard normal draw (Box–Muller).
    public mutating func nextNormal() -> Double {
        if let s = spareNormal {
            spareNormal = nil
            return s
        }
        var u1 = nextDouble()
        while u1 <= 0 { u1 = nextDouble() }
        let u2 = nextDouble()
        let r = Double.sqrt(-2 * Double.log(u1))
        let theta = 2 * Double.pi * u2
        spareNormal = r * _sin(theta)
        return r * _cos(theta)
    }

    /// A Fisher–Yates permutation of 0..<n.
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        if n < 2 { return p }
        for i in stride(from: n - 1, to: 0, by: -1) {
            p.swapAt(i, nextInt(below: i + 1))
        }
        return p
    }
}

@inline(__always) func _sin(_ x: Double) -> Double { Platform.sin(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Platform.cos(x) }
