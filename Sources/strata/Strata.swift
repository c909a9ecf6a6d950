import ArgumentParser
import Foundation
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
    /// (STRATA_NUM_THREADS) before any command runs; OpenMP threads sleep between oneDNN calls
    /// (OMP_WAIT_POLICY=passive unless set).
    static func main() {
        StrataBackends.reexecWithPassiveOpenMPIfNeeded()
        let problems = StrataBackends.environmentProblems()
        if !problems.isEmpty {
            for p in problems { FileHandle.standardError.write(Data("strata: environment: \(p)\n".utf8)) }
            Self.exit(withError: ExitCode(2))
        }
        StrataBackends.configureDefault()
        main(nil)
    }
}
