import StrataTensor

/// Records, during one forward pass, every module that ran with its input and output
/// shapes, in call order. Used by model summaries (`strata summary`).
///
/// A trace can also see (and replace) each module's output tensor as the module returns: that is how
/// ``outputs(of:during:)`` captures feature maps and ``replacingOutputs(_:during:)`` makes an
/// intermediate activation a leaf whose gradient a backward pass fills (Grad-CAM).
public final class ModuleTrace {
    public struct Record {
        public let module: Module
        /// Nesting depth at the call (0 = the traced model itself).
        public let depth: Int
        public let inputShape: [Int]
        public let outputShape: [Int]
        public let macs: Int
    }

    // Task-local, so traces on concurrent threads (parallel tests) never see each other's calls.
    @TaskLocal static var active: ModuleTrace?

    public private(set) var records: [Record] = []
    private var depth = 0
    /// Sees each module's output as it returns; what it returns is the module's output.
    private var intercept: ((Module, Tensor) -> Tensor)?

    func enter(_ module: Module) {
        depth += 1
    }

    func exit(_ module: Module, input: [Int], output: [Int]) {
        depth -= 1
        records.append(
            Record(
                module: module, depth: depth, inputShape: input, outputShape: output,
                macs: module.macs(input: input, output: output)))
    }

    /// Records the call and returns the module's output, or what the interceptor puts in its place.
    func exit(_ module: Module, input: Tensor, output: Tensor) -> Tensor {
        exit(module, input: input.shape, output: output.shape)
        return intercept?(module, output) ?? output
    }

    /// Runs `body` (a forward pass) and returns what ran, innermost calls first.
    public static func capture(_ body: () -> Void) -> ModuleTrace {
        let trace = ModuleTrace()
        $active.withValue(trace) { body() }
        return trace
    }

    /// Runs `body` (a forward pass) with `transform` applied to every module's output as the module
    /// returns: its result is what the caller of the module receives (return the output itself to
    /// leave it unchanged). Calls nest innermost first, so a block's transform sees its last layer's
    /// output already transformed.
    public static func replacingOutputs<R>(
        _ transform: @escaping (Module, Tensor) -> Tensor,
        during body: () throws -> R
    ) rethrows -> R {
        let trace = ModuleTrace()
        trace.intercept = transform
        return try $active.withValue(trace) { try body() }
    }

    /// Runs `body` (a forward pass) and returns the output tensor of each of `modules` (matched by
    /// identity; nil for one that did not run; the last call's output for one that ran several times).
    public static func outputs(of modules: [Module], during body: () throws -> Void) rethrows -> [Tensor?] {
        var found = [Tensor?](repeating: nil, count: modules.count)
        let ids = modules.map { ObjectIdentifier($0) }
        try replacingOutputs(
            { module, output in
                for (i, id) in ids.enumerated() where id == ObjectIdentifier(module) { found[i] = output }
                return output
            }, during: body)
        return found
    }
}
