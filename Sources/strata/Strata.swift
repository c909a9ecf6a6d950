import ArgumentParser
import Strata

@main
struct StrataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strata",
        abstract: "Define, train, evaluate and inspect deep convolutional networks.",
        version: strataVersion,
        subcommands: [Train.self, Evaluate.self, ListModels.self, Summary.self, Infer.self, Classify.self, Bench.self, Demo.self]
    )

    /// Chooses the compute backend (STRATA_BACKEND, default oneDNN) and thread count
    /// (STRATA_NUM_THREADS) before any command runs.
    static func main() {
        StrataBackends.configureDefault()
        main(nil)
    }
}
