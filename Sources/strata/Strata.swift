import ArgumentParser
import Foundation
import Strata

@main
struct StrataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strata",
        abstract: "Define, train, evaluate and inspect deep convolutional networks.",
        version: strataVersion,
        subcommands: [
            Train.self, Evaluate.self, ListModels.self, Summary.self, Infer.self, Classify.self, Bench.self, Demo.self,
            Export.self, Experiment.self, Inspect.self,
        ]
    )

    /// Reads the configuration (`StrataConfiguration`: the `STRATA_*` variables, refused with exit
    /// status 2 when one holds a value it does not accept) and installs the default backend before
    /// any command runs; OpenMP threads sleep between oneDNN calls (OMP_WAIT_POLICY=passive unless set).
    /// Commands with flags for these settings (`bench --backend --threads`) apply them over it.
    static func main() {
        StrataBackends.reexecWithPassiveOpenMPIfNeeded()
        let (configuration, problems) = StrataConfiguration.parse(environment: StrataConfiguration.environment)
        if !problems.isEmpty {
            for p in problems { FileHandle.standardError.write(Data("strata: environment: \(p)\n".utf8)) }
            Self.exit(withError: ExitCode(2))
        }
        StrataBackends.configureDefault(configuration)
        main(nil)
    }
}
