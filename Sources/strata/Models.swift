import ArgumentParser
import Strata

/// `strata models`: every model in the zoo with its parameters and MACs.
struct ListModels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List every model in the zoo with its parameters and multiply-accumulates.")

    @Flag(help: "Print one JSON object per line instead of a table.") var json = false
    @Flag(
        help: "List the trained weights Strata ships (`--pretrained DATASET` of classify, evaluate and infer) instead.")
    var pretrained = false

    func run() throws {
        if pretrained {
            for w in PretrainedWeights.all {
                print("\(w.model.padded(toWidth: 10)) --pretrained \(w.dataset.padded(toWidth: 9)) \(w)")
            }
            return
        }
        if !json {
            print(
                "Name".padded(toWidth: 18) + "Input".padded(toWidth: 13) + "Classes".leftPadded(toWidth: 8)
                    + "Parameters".leftPadded(toWidth: 15) + "GMACs".leftPadded(toWidth: 9) + "  Family")
        }
        for entry in Models.all {
            let model = try Init.withoutInitialization { try Models.make(entry.name) }
            let summary = ModelSummary(model, input: entry.input)
            let input = entry.input.map(String.init).joined(separator: "x")
            if json {
                print(
                    #"{"name": "\#(entry.name)", "input": "\#(input)", "classes": \#(entry.classes), "parameters": \#(summary.parameters), "macs": \#(summary.macs)}"#
                )
            } else {
                print(
                    entry.name.padded(toWidth: 18) + input.padded(toWidth: 13)
                        + "\(entry.classes)".leftPadded(toWidth: 8)
                        + groupedThousands(summary.parameters).leftPadded(toWidth: 15)
                        + formatGiga(summary.macs).leftPadded(toWidth: 9) + "  " + entry.family)
            }
        }
        if !json {
            print(
                "\nMACs: multiply-accumulates of conv and linear layers per image (torchvision's \"GFLOPS\" column); FLOPs ≈ 2 × MACs."
            )
        }
    }
}

/// `strata summary MODEL`: the layer table.
struct Summary: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a model's layers with output shapes, parameters and multiply-accumulates.")

    @Argument(help: "Model name (see `strata models`).") var model: String
    @Option(help: "Input shape CxHxW (default: the model's own, e.g. 3x224x224).") var input: String?
    @Option(help: "Number of classes (default: the model's own).") var classes: Int?
    @Flag(help: "Print one JSON object with the totals and the layers.") var json = false

    func run() throws {
        let entry = try Models.entry(model)
        let shape = try input.map { try parseShape($0, option: "--input") } ?? entry.input
        do { try entry.checkInput(shape) } catch { throw ValidationError("--input: \(error)") }
        let net = try Init.withoutInitialization { try Models.make(model, classes: classes) }
        let summary = ModelSummary(net, input: shape)
        if json {
            let layers = summary.rows.map {
                #"{"name": "\#($0.name)", "type": "\#($0.layer)", "output": \#($0.outputShape), "parameters": \#($0.parameters), "macs": \#($0.macs)}"#
            }
            print(
                #"{"model": "\#(model)", "input": \#([1] + shape), "output": \#(summary.outputShape), "parameters": \#(summary.parameters), "macs": \#(summary.macs), "layers": [\#(layers.joined(separator: ", "))]}"#
            )
        } else {
            print("\(model): \(entry.family)\n")
            print(summary.table())
        }
    }
}

/// Parses "3x224x224" into [3, 224, 224], or throws naming the option.
func parseShape(_ text: String, option: String) throws -> [Int] {
    do { return try ShapeText.parse(text, rank: 3, option: option, layout: "C×H×W such as 3x224x224") } catch let e
        as ShapeText.ParseError
    {
        throw ValidationError(e.description)
    }
}
