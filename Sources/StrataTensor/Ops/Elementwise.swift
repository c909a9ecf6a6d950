// Elementwise arithmetic with NumPy broadcasting, and the unary maps (kernels: the backend's
// elementwise methods; the reference ones are in Reference/ElementwiseKernels.swift).
// Each op's backward sits next to its forward; gradients of broadcast operands
// are summed back to the operand's shape.

/// `op` on `a` and `b` with broadcasting, through the current backend (not recorded); `name`
/// names the op in shape errors.
func binary(_ a: Tensor, _ b: Tensor, _ op: BinaryOp, name: String) -> Tensor {
    shapeCheck(a.dtype == b.dtype, name, got: "dtypes \(a.dtype) and \(b.dtype)", expected: "equal dtypes")
    guard broadcastShape(a.shape, b.shape) != nil else {
        shapeCheck(false, name, got: "shapes \(a.shape) and \(b.shape)", expected: "broadcast-compatible shapes")
        fatalError()
    }
    return Backends.current.elementwise(a, b, op)
}

extension Tensor {
    func scalarLike(_ v: Double) -> Tensor { Tensor(scalar: v, dtype: dtype) }

    public static func + (a: Tensor, b: Tensor) -> Tensor {
        // Equal shapes (residual additions, gradient accumulation) go to the backend.
        let out =
            a.shape == b.shape && a.dtype == b.dtype ? Backends.current.add(a, b) : binary(a, b, .add, name: "add")
        // Saved: only the shapes (a residual add keeps neither operand alive).
        let (sa, sb) = (a.shape, b.shape)
        return record("add", out, inputs: [a, b]) { g in [g.sumTo(sa), g.sumTo(sb)] }
    }

    public static func - (a: Tensor, b: Tensor) -> Tensor {
        let out = binary(a, b, .sub, name: "sub")
        let (sa, sb) = (a.shape, b.shape)
        return record("sub", out, inputs: [a, b]) { g in [g.sumTo(sa), (-g).sumTo(sb)] }
    }

    public static func * (a: Tensor, b: Tensor) -> Tensor {
        let out = binary(a, b, .mul, name: "mul")
        // Saved for backward: both operands.
        return record("mul", out, inputs: [a, b]) { g in
            [a.requiresGrad ? (g * b).sumTo(a.shape) : nil, b.requiresGrad ? (g * a).sumTo(b.shape) : nil]
        }
    }

    public static func / (a: Tensor, b: Tensor) -> Tensor {
        let out = binary(a, b, .div, name: "div")
        return record("div", out, inputs: [a, b]) { g in
            [
                a.requiresGrad ? (g / b).sumTo(a.shape) : nil,
                b.requiresGrad ? (-(g * a) / (b * b)).sumTo(b.shape) : nil,
            ]
        }
    }

    public static prefix func - (a: Tensor) -> Tensor {
        let out = binary(a, a.scalarLike(-1), .mul, name: "neg")
        return record("neg", out, inputs: [a]) { g in [-g] }
    }

    public static func + (a: Tensor, s: Double) -> Tensor { a + a.scalarLike(s) }
    public static func + (s: Double, a: Tensor) -> Tensor { a.scalarLike(s) + a }
    public static func - (a: Tensor, s: Double) -> Tensor { a - a.scalarLike(s) }
    public static func - (s: Double, a: Tensor) -> Tensor { a.scalarLike(s) - a }
    public static func * (a: Tensor, s: Double) -> Tensor { a * a.scalarLike(s) }
    public static func * (s: Double, a: Tensor) -> Tensor { a.scalarLike(s) * a }
    public static func / (a: Tensor, s: Double) -> Tensor { a / a.scalarLike(s) }
    public static func / (s: Double, a: Tensor) -> Tensor { a.scalarLike(s) / a }

    /// Elementwise maximum; the gradient goes to `self` where it is the larger (ties: `self`).
    public func maximum(_ other: Tensor) -> Tensor {
        let out = binary(self, other, .maximum, name: "maximum")
        let a = self
        return record("maximum", out, inputs: [a, other]) { g in
            let mask = binary(a, other, .greaterEqual, name: "maximum")
            return [(g * mask).sumTo(a.shape), (g * (1 - mask)).sumTo(other.shape)]
        }
    }

    /// Elementwise minimum; the gradient goes to `self` where it is the smaller (ties: `self`).
    public func minimum(_ other: Tensor) -> Tensor {
        let out = binary(self, other, .minimum, name: "minimum")
        let a = self
        return record("minimum", out, inputs: [a, other]) { g in
            let mask = binary(a, other, .lessEqual, name: "minimum")
            return [(g * mask).sumTo(a.shape), (g * (1 - mask)).sumTo(other.shape)]
        }
    }

    // Comparisons give 1 where true and 0 elsewhere; they are not differentiable.
    public func eq(_ other: Tensor) -> Tensor { binary(self, other, .equal, name: "eq") }
    public func ne(_ other: Tensor) -> Tensor { binary(self, other, .notEqual, name: "ne") }
    public func lt(_ other: Tensor) -> Tensor { binary(self, other, .less, name: "lt") }
    public func gt(_ other: Tensor) -> Tensor { binary(self, other, .greater, name: "gt") }
    public func le(_ other: Tensor) -> Tensor { binary(self, other, .lessEqual, name: "le") }
    public func ge(_ other: Tensor) -> Tensor { binary(self, other, .greaterEqual, name: "ge") }
    public func eq(_ s: Double) -> Tensor { eq(scalarLike(s)) }
    public func lt(_ s: Double) -> Tensor { lt(scalarLike(s)) }
    public func gt(_ s: Double) -> Tensor { gt(scalarLike(s)) }

    /// Sums a broadcast gradient back down to `target` (the inverse of broadcasting).
    public func sumTo(_ target: [Int]) -> Tensor {
        if shape == target { return self }
        let lead = rank - target.count
        precondition(lead >= 0, "sumTo: cannot reduce \(shape) to \(target)")
        var axes = Array(0..<lead)
        for i in 0..<target.count where target[i] == 1 && shape[lead + i] != 1 { axes.append(lead + i) }
        return sum(axes: axes, keepDims: true).reshaped(target)
    }

    /// Broadcasts to `target` (a copy; the backward sums back).
    public func expanded(to target: [Int]) -> Tensor {
        if shape == target { return self }
        guard broadcastShape(shape, target) == target else {
            shapeCheck(false, "expand", got: "\(shape)", expected: "a shape broadcastable to \(target)")
            fatalError()
        }
        let out = binary(self, Tensor.zeros(target, dtype: dtype), .add, name: "expand")
        let source = shape
        return record("expand", out, inputs: [self]) { g in [g.sumTo(source)] }
    }
}

// MARK: Unary maps

// Ops whose backward reads their output save `y.detached()` (same storage, no gradFn):
// the closure lives in y.gradFn, so capturing y itself would be a retain cycle that keeps
// y and its whole graph alive until a backward pass happens to reach it.
extension Tensor {
    /// `op` on every element, through the current backend (not recorded).
    func unary(_ op: UnaryOp) -> Tensor { Backends.current.elementwise(self, op) }

    public func exp() -> Tensor {
        let y = unary(.exp)
        let saved = y.detached()
        return record("exp", y, inputs: [self]) { g in [g * saved] } // saved: the output
    }

    public func log() -> Tensor {
        let y = unary(.log)
        let x = self
        return record("log", y, inputs: [x]) { g in [g / x] }
    }

    public func sqrt() -> Tensor {
        let y = unary(.sqrt)
        let saved = y.detached()
        return record("sqrt", y, inputs: [self]) { g in [g / (2 * saved)] }
    }

    public func abs() -> Tensor {
        let y = unary(.abs)
        let x = self
        return record("abs", y, inputs: [x]) { g in [g * (x.gt(0) - x.lt(0))] }
    }

    public func squared() -> Tensor {
        let y = unary(.square)
        let x = self
        return record("square", y, inputs: [x]) { g in [g * x * 2] }
    }

    public func sigmoid() -> Tensor {
        let y = unary(.sigmoid)
        let saved = y.detached()
        return record("sigmoid", y, inputs: [self]) { g in [g * saved * (1 - saved)] }
    }

    public func tanh() -> Tensor {
        let y = unary(.tanh)
        let saved = y.detached()
        return record("tanh", y, inputs: [self]) { g in [g * (1 - saved * saved)] }
    }

    /// `self` raised to a constant power.
    public func pow(_ exponent: Double) -> Tensor {
        let x = self
        let y = Backends.current.power(x, exponent: exponent)
        return record("pow", y, inputs: [x]) { g in [g * x.pow(exponent - 1) * exponent] }
    }

    /// max(x, 0). The backward passes the gradient where the output is positive.
    /// Saved: the output, or, when the input can be rebuilt (a batch norm's output, see
    /// ``Rematerialization``), the recipe for the output, which the output also carries.
    public func relu() -> Tensor {
        let y = Backends.current.relu(self)
        guard let source = rematerialization, Tensor.needsGrad(self) else {
            let saved = y.detached() // the output
            return record("relu", y, inputs: [self]) { g in [Backends.current.reluBackward(g, output: saved)] }
        }
        let output = Rematerialization(keepsValue: true) { Backends.current.relu(source.tensor()) }
        let out = record("relu", y, inputs: [self]) { g in [Backends.current.reluBackward(g, output: output.tensor())] }
        out.rematerialization = output
        return out
    }
}
