import ArgumentParser
import Strata

@main
struct StrataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strata",
        abstract: "Define, train, evaluate and inspect deep convolutional networks.",
        version: strataVersion,
        subcommands: [Demo.self, Classify.self]
    )
}
