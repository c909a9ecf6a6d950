import StrataTensor

/// Records, during one forward pass, every module that ran with its input and output
/// shapes, in call order. Used by model summaries (`strata summary`).
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

    func enter(_ module: Module) {
        depth += 1
    }

    func exit(_ module: Module, input: [Int], output: [Int]) {
        depth -= 1
        records.append(Record(module: module, depth: depth, inputShape: input, outputShape: output,
                              macs: module.macs(input: input, output: output)))
    }

    /// Runs `body` (a forward pass) and returns what ran, innermost calls first.
    public static func capture(_ body: () -> Void) -> ModuleTrace {
        let trace = ModuleTrace()
        $active.withValue(trace) { body() }
        return trace
    }
}
