extension Tensor {
    /// A tensor of zeros.
    public static func zeros(_ shape: [Int], dtype: DType = .float32) -> Tensor {
        Tensor(shape: shape, storage: .zeros(dtype: dtype, count: elementCount(shape)))
    }

    /// A tensor whose values are unspecified (memory is not touched): to be overwritten.
    public static func uninitialized(_ shape: [Int], dtype: DType = .float32) -> Tensor { empty(shape, dtype) }

    /// A tensor of ones.
    public static func ones(_ shape: [Int], dtype: DType = .float32) -> Tensor { full(shape, 1, dtype: dtype) }

    /// A tensor with every element equal to `value`.
    public static func full(_ shape: [Int], _ value: Double, dtype: DType = .float32) -> Tensor {
        if !dtype.isComputable { return full(shape, value, dtype: dtype.computeDType).converted(to: dtype) }
        let t = empty(shape, dtype)
        switch dtype {
        case .float32: t.storage.typed(Float.self).initialize(repeating: Float(value), count: t.count)
        case .float64: t.storage.typed(Double.self).initialize(repeating: value, count: t.count)
        default: preconditionFailure("unreachable: \(dtype) is computable")
        }
        return t
    }

    /// `start, start + step, …` up to but excluding `end`, as a 1-D tensor.
    public static func arange(_ start: Double = 0, _ end: Double, step: Double = 1, dtype: DType = .float32) -> Tensor {
        precondition(step != 0, "arange: step must not be zero")
        let n = Swift.max(0, Int(((end - start) / step).rounded(.up)))
        return fromFunction([n], dtype: dtype) { start + Double($0) * step }
    }

    /// Values drawn uniformly from [low, high), filled in row-major order from `generator`.
    public static func uniform(
        _ shape: [Int], low: Double = 0, high: Double = 1, dtype: DType = .float32,
        generator: inout RandomGenerator
    ) -> Tensor {
        if !dtype.isComputable {
            return uniform(shape, low: low, high: high, dtype: dtype.computeDType, generator: &generator).converted(
                to: dtype)
        }
        let t = empty(shape, dtype)
        switch dtype {
        case .float32:
            let p = t.storage.typed(Float.self)
            let lo = Float(low)
            let span = Float(high - low)
            for i in 0..<t.count { p[i] = lo + span * generator.nextFloat() }
        case .float64:
            let p = t.storage.typed(Double.self)
            for i in 0..<t.count { p[i] = low + (high - low) * generator.nextDouble() }
        default: preconditionFailure("unreachable: \(dtype) is computable")
        }
        return t
    }

    /// Values drawn from a normal distribution, filled in row-major order from `generator`.
    public static func normal(
        _ shape: [Int], mean: Double = 0, std: Double = 1, dtype: DType = .float32,
        generator: inout RandomGenerator
    ) -> Tensor {
        if !dtype.isComputable {
            return normal(shape, mean: mean, std: std, dtype: dtype.computeDType, generator: &generator).converted(
                to: dtype)
        }
        let t = empty(shape, dtype)
        switch dtype {
        case .float32:
            let p = t.storage.typed(Float.self)
            for i in 0..<t.count { p[i] = Float(mean + std * generator.nextNormal()) }
        case .float64:
            let p = t.storage.typed(Double.self)
            for i in 0..<t.count { p[i] = mean + std * generator.nextNormal() }
        default: preconditionFailure("unreachable: \(dtype) is computable")
        }
        return t
    }

    /// A tensor whose element at flat index `i` is `f(i)`.
    public static func fromFunction(_ shape: [Int], dtype: DType = .float32, _ f: (Int) -> Double) -> Tensor {
        if !dtype.isComputable { return fromFunction(shape, dtype: dtype.computeDType, f).converted(to: dtype) }
        let t = empty(shape, dtype)
        switch dtype {
        case .float32:
            let p = t.storage.typed(Float.self)
            for i in 0..<t.count { p[i] = Float(f(i)) }
        case .float64:
            let p = t.storage.typed(Double.self)
            for i in 0..<t.count { p[i] = f(i) }
        default: preconditionFailure("unreachable: \(dtype) is computable")
        }
        return t
    }

    /// Zeros with this tensor's shape and dtype.
    public func zerosLike() -> Tensor { .zeros(shape, dtype: dtype) }
    /// Ones with this tensor's shape and dtype.
    public func onesLike() -> Tensor { .ones(shape, dtype: dtype) }
}
