// strata-fuzz: the fuzz targets as a program.
//
// Built normally, `strata-fuzz TARGET [FILES or FOLDERS...]` replays inputs (default
// Fuzz/Corpus/TARGET) through a target and prints what it made of each.
// Built by Scripts/fuzz.sh (-DLIBFUZZER, -sanitize=fuzzer,address), it hands its arguments to
// libFuzzer (LLVMFuzzerRunDriver); the target comes from STRATA_FUZZ_TARGET.
import Foundation
import StrataFuzzTargets

#if LIBFUZZER
    import _CFuzzer

    nonisolated(unsafe) private var selected: (target: FuzzTarget, scratch: String)?

    @main
    struct StrataFuzz {
        static func main() {
            var arguments = CommandLine.arguments
            let name = ProcessInfo.processInfo.environment["STRATA_FUZZ_TARGET"] ?? ""
            if name == "list" {
                print(FuzzTarget.all.map(\.name).joined(separator: " "))
                exit(0)
            }
            guard let target = FuzzTarget.named(name) else {
                FileHandle.standardError.write(
                    Data(
                        "strata-fuzz: STRATA_FUZZ_TARGET='\(name)' is not one of: \(FuzzTarget.all.map(\.name).joined(separator: ", "))\n"
                            .utf8))
                exit(2)
            }
            let scratch = NSTemporaryDirectory() + "strata-fuzz-\(name)-\(getpid())"
            try? FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            selected = (target, scratch)
            // The target's allocation bound, unless the command line sets one.
            if !arguments.contains(where: { $0.hasPrefix("-malloc_limit_mb=") }) {
                arguments.insert("-malloc_limit_mb=\(target.mallocLimitMB)", at: 1)
            }
            var argc = Int32(arguments.count)
            var cStrings: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
            let status = cStrings.withUnsafeMutableBufferPointer { buffer -> Int32 in
                var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = buffer.baseAddress
                return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
                    let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
                    _ = selected!.target.run(bytes, scratch: selected!.scratch)
                    return 0
                }
            }
            try? FileManager.default.removeItem(atPath: scratch)
            arguments.removeAll()
            exit(status)
        }
    }
#else
    @main
    struct StrataFuzz {
        static func main() throws {
            let arguments = CommandLine.arguments
            guard arguments.count >= 2, let target = FuzzTarget.named(arguments[1]) else {
                let names = FuzzTarget.all.map {
                    "  \($0.name.padding(toLength: 18, withPad: " ", startingAt: 0)) \($0.summary)"
                }
                FileHandle.standardError.write(
                    Data("usage: strata-fuzz TARGET [INPUTS...]\ntargets:\n\(names.joined(separator: "\n"))\n".utf8))
                exit(2)
            }
            let scratch = NSTemporaryDirectory() + "strata-fuzz-\(getpid())"
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            var inputs = Array(arguments.dropFirst(2))
            if inputs.isEmpty { inputs = ["Fuzz/Corpus/\(target.name)"] }
            var accepted = 0
            var rejected = 0
            for input in inputs {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory) else {
                    FileHandle.standardError.write(Data("strata-fuzz: \(input): no such file or folder\n".utf8))
                    exit(1)
                }
                let files =
                    isDirectory.boolValue
                    ? try FileManager.default.contentsOfDirectory(atPath: input).sorted().map { input + "/" + $0 }
                    : [input]
                for path in files {
                    guard let data = FileManager.default.contents(atPath: path) else { continue }
                    switch target.run(Array(data), scratch: scratch) {
                    case .accepted:
                        accepted += 1
                        print("accepted  \(path)")
                    case .rejected(let why):
                        rejected += 1
                        print("rejected  \(path): \(why)")
                    }
                }
            }
            print("\(target.name): \(accepted) accepted, \(rejected) rejected")
        }
    }
#endif
