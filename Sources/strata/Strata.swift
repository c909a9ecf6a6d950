import ArgumentParser
import Strata

@main
struct StrataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strata",
        abstract: "Define, train, evaluate and inspect deep convolutional networks.",
        version: strataVersion,
        subcommands: [Train.self, Evaluate.self, ListModels.self, Summary.self, Infer.self, Classify.self, Demo.self]
    )
}
