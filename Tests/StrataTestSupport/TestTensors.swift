import StrataTensor

// Deterministic test inputs. Every helper takes an explicit seed so a failing case
// reproduces exactly; none of them depends on the values the generator produces
// beyond their distribution.

/// Standard-normal values (scaled by `std`, shifted by `mean`) from a fixed seed, Float64 by default.
public func randomTensor(
    _ shape: [Int], seed: UInt64, mean: Double = 0, std: Double = 1,
    dtype: DType = .float64
) -> Tensor {
    var rng = RandomGenerator(seed: seed)
    return Tensor.normal(shape, mean: mean, std: std, dtype: dtype, generator: &rng)
}

/// Uniform values in [low, high) from a fixed seed, Float64 by default.
public func uniformTensor(
    _ shape: [Int], seed: UInt64, low: Double, high: Double,
    dtype: DType = .float64
) -> Tensor {
    var rng = RandomGenerator(seed: seed)
    return Tensor.uniform(shape, low: low, high: high, dtype: dtype, generator: &rng)
}

/// Random values whose magnitude is at least `margin` (random sign): for ops with a kink
/// at 0 (relu, abs), so a finite-difference step never crosses it.
public func awayFromZeroTensor(
    _ shape: [Int], seed: UInt64, margin: Double = 0.1,
    dtype: DType = .float64
) -> Tensor {
    var rng = RandomGenerator(seed: seed)
    let n = shape.reduce(1, *)
    let values = (0..<n).map { _ -> Double in
        let magnitude = margin + 2 * rng.nextDouble()
        return rng.nextDouble() < 0.5 ? -magnitude : magnitude
    }
    return Tensor(values, shape: shape).to(dtype)
}

/// A random arrangement of distinct values spaced `spacing` apart, centred on 0: every pair
/// differs by at least `spacing`, so max-type ops (max, maxPool2d, maximum) have no ties
/// that a finite-difference step could flip.
public func distinctTensor(
    _ shape: [Int], seed: UInt64, spacing: Double = 0.05,
    dtype: DType = .float64
) -> Tensor {
    var rng = RandomGenerator(seed: seed)
    let n = shape.reduce(1, *)
    let order = rng.permutation(n)
    let values = order.map { (Double($0) - Double(n - 1) / 2) * spacing }
    return Tensor(values, shape: shape).to(dtype)
}
