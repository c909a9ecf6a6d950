import Foundation
import Testing

/// Runs the built `strata` executable (it sits beside the test bundle) and captures its output.
func runStrata(_ arguments: [String], environment extra: [String: String] = [:], in directory: String? = nil) throws
    -> (status: Int32, stdout: String, stderr: String)
{
    let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    var dir = testBinary.deletingLastPathComponent()
    // On Linux the tests run from `<build>/StrataPackageTests.xctest`; on macOS from inside a bundle.
    while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("strata").path) && dir.path != "/" {
        dir = dir.deletingLastPathComponent()
    }
    let process = Process()
    process.executableURL = dir.appendingPathComponent("strata")
    process.arguments = arguments
    if !extra.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(extra) { $1 } }
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, stdout, stderr)
}

/// A float32 .npy file of zeros with `shape` (NumPy format 1.0: magic, header padded to 64 bytes).
func zerosNPY(_ shape: [Int], name: String) -> String {
    let path = temporaryPath(name)
    let dims = shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? "," : "") // Python's tuple repr
    let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dims)), }"
    var h = Array(header.utf8)
    while (10 + h.count + 1) % 64 != 0 { h.append(0x20) }
    h.append(0x0A)
    let bytes: [UInt8] =
        [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(h.count & 0xFF), UInt8(h.count >> 8)] + h
        + [UInt8](repeating: 0, count: 4 * shape.reduce(1, *))
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    return path
}

func temporaryPath(_ name: String) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("strata-cli-\(getpid())")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent(name).path
}

/// Bad input on the command line gives a clear message and a non-zero exit status, never a trap.
@Suite struct CLIBadInputTests {
    @Test(
        "bad STRATA_* variables are named with what was found and what is accepted, exit 2",
        arguments: [
            ("STRATA_NUM_THREADS", "abc"), ("STRATA_NUM_THREADS", "100000"), ("STRATA_NUM_THREADS", "0"),
            ("STRATA_BACKEND", "cuda"), ("STRATA_CONV_ALGORITHM", "fft"), ("STRATA_DNNL_FUSION", "yes"),
            ("STRATA_DNNL_POOL_MIB", "-5"),
        ])
    func badEnvironment(_ name: String, _ value: String) throws {
        let r = try runStrata(["models"], environment: [name: value])
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("\(name)='\(value)'") && r.stderr.contains("expected"), "\(r.stderr)")
    }

    /// One writer per run directory: a second `strata train --out D` (here: D locked by this test
    /// process, as a running `strata train` holds it) exits non-zero naming the holder.
    @Test func aRunDirectoryInUseIsRefused() throws {
        let dir = temporaryPath("locked-run")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let fd = open(dir + "/.strata.lock", O_RDWR | O_CREAT, 0o644)
        #expect(fd >= 0)
        defer { close(fd) }
        #expect(flock(fd, LOCK_EX | LOCK_NB) == 0)
        _ = Array("\(getpid())\n".utf8).withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        for arguments in [["train", "--out", dir, "--epochs", "1", "--quiet"], ["train", "--resume", dir]] {
            let r = try runStrata(arguments)
            #expect(r.status != 0 && r.status < 128, "\(arguments): \(r.stderr)")
            #expect(
                r.stderr.contains("in use by another strata process (PID \(getpid()))"), "\(arguments): \(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/metrics.jsonl"), "nothing was written")
    }

    /// Weights that do not fit the model: the state-dict report, and no "Usage:" text (the command line was fine).
    @Test func weightsThatDoNotFitNameTheKeysWithoutUsage() throws {
        let weights = temporaryPath("lenet-weights")
        let r0 = try runStrata(["train", "--out", weights, "--max-steps", "2", "--quiet"])
        #expect(r0.status == 0, "\(r0.stderr)")
        let x = zerosNPY([1, 1, 32, 32], name: "x.npy")
        let r = try runStrata([
            "infer", "--model", "resnet20", "--weights", weights, "--input", x, "--output", temporaryPath("y.npy"),
        ])
        #expect(r.status != 0 && r.status < 128)
        #expect(r.stderr.contains("does not fit resnet20") && r.stderr.contains("missing keys"), "\(r.stderr)")
        #expect(!r.stderr.contains("Usage:"), "\(r.stderr)")
    }

    /// NaN weights: classify names the problem and fails instead of printing "-nan%" and exiting 0.
    @Test func nanWeightsAreAnErrorNotNanPercent() throws {
        let run = temporaryPath("nan-weights")
        let r0 = try runStrata(["train", "--out", run, "--max-steps", "2", "--quiet"])
        #expect(r0.status == 0, "\(r0.stderr)")
        // Overwrite the first tensor of the state dict with NaN (safetensors: u64 header length, JSON header, data).
        var bytes = [UInt8](FileManager.default.contents(atPath: run + "/last.safetensors") ?? Data())
        #expect(bytes.count > 8)
        let headerLength = Int(
            bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        let header =
            try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + headerLength)])) as? [String: Any] ?? [:]
        let key = header.keys.filter { $0 != "__metadata__" && !$0.hasPrefix("optimizer/") }.sorted().first!
        let offsets = ((header[key] as? [String: Any])?["data_offsets"] as? [Int]) ?? [0, 0]
        for o in stride(from: 8 + headerLength + offsets[0], to: 8 + headerLength + offsets[1], by: 4) {
            bytes.replaceSubrange(o..<(o + 4), with: [0x00, 0x00, 0xC0, 0x7F])
        }
        // Rename the checksum metadata key (same length, so offsets hold): otherwise the load would
        // rightly refuse the altered tensor before the model ever ran.
        let checksumKey = Array("strata_crc32c".utf8)
        let renamed = Array("strata_xxxxxx".utf8)
        if let at = (8..<(8 + headerLength)).first(where: { Array(bytes[$0..<($0 + checksumKey.count)]) == checksumKey }
        ) {
            bytes.replaceSubrange(at..<(at + checksumKey.count), with: renamed)
        }
        let weights = temporaryPath("nan.safetensors")
        _ = FileManager.default.createFile(atPath: weights, contents: Data(bytes))
        let image = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("StrataImageTests/Fixtures/rgb_7x5.png").path
        let r = try runStrata(["classify", image, "--model", "lenet5", "--weights", weights, "--classes", "10"])
        #expect(r.status != 0 && r.status < 128, "\(r.stdout) \(r.stderr)")
        #expect(r.stderr.contains("not a number (NaN)"), "\(r.stderr)")
        #expect(!r.stdout.contains("nan%"), "\(r.stdout)")
    }

    /// Numbers out of range are errors naming the option and the range (they trapped, or grew until
    /// the kernel's OOM killer ended the process: issue 11).
    @Test(
        "out-of-range numbers are refused with the accepted range",
        arguments: [
            (
                ["summary", "resnet18", "--classes", "9223372036854775807"],
                "number of classes must be from 1 to 100000"
            ),
            (["summary", "densenet_bc_100_k9223372036854775807"], "growth K from 1 to 256"),
            (["summary", "densenet_bc_100000000_k12"], "depth L from 10 to 1000"),
            (["train", "--max-steps", "9223372036854775807", "--quiet"], "max steps must be from 1 to 1,000,000,000"),
            (["train", "--warmup-epochs", "1e300", "--quiet"], "warmup epochs must be from 0 to 1,000,000"),
            (["train", "--workers", "100000", "--quiet"], "workers must be from 0 (automatic) to 256"),
            (["train", "--batch-size", "9223372036854775807", "--quiet"], "batch size must be from 1 to 65,536"),
            (["train", "--accumulate-steps", "0", "--quiet"], "--accumulate-steps must be from 1 to 65,536"),
            (["bench", "--batch", "100000000", "--model", "resnet18"], "--batch must be from 1 to 4096"),
            (
                ["classify", "x.png", "--model", "resnet18", "--weights", "w.safetensors", "--crop", "20000"],
                "--crop must be from 1 to 4096"
            ),
            // Within the ranges but beyond the machine: checked against the memory available before allocating.
            (
                ["bench", "--model", "vgg16", "--mode", "training", "--batch", "4096", "--iterations", "1"],
                "vgg16 at --batch 4096 needs at least"
            ),
        ])
    func outOfRangeNumbers(_ arguments: [String], _ message: String) throws {
        var args = arguments
        if args[0] == "train" { args += ["--out", temporaryPath("range-\(UInt32.random(in: 0...UInt32.max))")] }
        let r = try runStrata(args)
        #expect(r.status != 0 && r.status < 128, "\(arguments): exit \(r.status)")
        #expect(r.stderr.contains(message), "\(arguments): \(r.stderr)")
    }

    /// Shapes a model cannot take are errors saying what it needs, not traps (issue 11's examples).
    @Test(
        "inputs of the wrong size are refused with what the model needs",
        arguments: [
            (["summary", "lenet5", "--input", "1x28x28"], "lenet5 expects 1×32×32; got 1×28×28"),
            (["summary", "alexnet", "--input", "3x32x32"], "alexnet needs images of at least 63×63"),
            (["summary", "inception_v3", "--input", "3x32x32"], "inception_v3 needs images of at least 75×75"),
        ])
    func wrongInputSizes(_ arguments: [String], _ message: String) throws {
        let r = try runStrata(arguments)
        #expect(r.status != 0 && r.status < 128, "\(arguments): exit \(r.status)")
        #expect(r.stderr.contains(message), "\(arguments): \(r.stderr)")
    }

    @Test func inferOnAnArrayOfTheWrongSize() throws {
        let weights = temporaryPath("lenet-for-infer")
        #expect(try runStrata(["train", "--out", weights, "--max-steps", "2", "--quiet"]).status == 0)
        let x = zerosNPY([2, 1, 28, 28], name: "x28.npy")
        let r = try runStrata([
            "infer", "--model", "lenet5", "--weights", weights, "--input", x, "--output", temporaryPath("y28.npy"),
        ])
        #expect(r.status != 0 && r.status < 128, "exit \(r.status)")
        #expect(r.stderr.contains("lenet5 expects 1×32×32; got 1×28×28"), "\(r.stderr)")
    }

    /// An ImageFolder image whose header is fine but whose data is damaged: a warning naming it after
    /// the epoch (it was used as zeros); with --strict-images an error before training.
    @Test func damagedImagesAreReportedOrRefused() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("StrataImageTests/Fixtures")
        let good = [UInt8](
            FileManager.default.contents(atPath: fixtures.appendingPathComponent("rgb_7x5.png").path) ?? Data())
        #expect(good.count > 60)
        var damaged = good
        let idat = (8..<(good.count - 4)).first { good[$0..<($0 + 4)] == [0x49, 0x44, 0x41, 0x54] }! // "IDAT"
        for k in (idat + 6)..<min(idat + 14, good.count - 12) { damaged[k] ^= 0x5A }
        let root = temporaryPath("folder-\(UInt32.random(in: 0...UInt32.max))")
        for (split, cls, name, bytes) in [
            ("train", "a", "1.png", good), ("train", "b", "bad.png", damaged), ("train", "b", "2.png", good),
            ("val", "a", "1.png", good), ("val", "b", "1.png", good),
        ] {
            try FileManager.default.createDirectory(
                atPath: "\(root)/\(split)/\(cls)", withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: "\(root)/\(split)/\(cls)/\(name)", contents: Data(bytes))
        }
        let common = [
            "train", "--model", "resnet20", "--dataset", "imagefolder", "--data", root, "--max-steps", "2",
            "--batch-size", "2", "--quiet",
        ]
        let r = try runStrata(common + ["--out", temporaryPath("folder-run-\(UInt32.random(in: 0...UInt32.max))")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("1 image(s) could not be decoded") && r.stderr.contains("bad.png"), "\(r.stderr)")
        let strict = try runStrata(
            common + ["--strict-images", "--out", temporaryPath("folder-strict-\(UInt32.random(in: 0...UInt32.max))")])
        #expect(strict.status != 0 && strict.status < 128, "exit \(strict.status)")
        #expect(
            strict.stderr.contains("--strict-images: 1 of 3 images") && strict.stderr.contains("bad.png"),
            "\(strict.stderr)")
    }

    /// A relative --data is stored absolute (resume works from another directory), and --resume --data
    /// points a run at its moved dataset.
    @Test func dataPathsSurviveADirectoryChangeAndAMove() throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("StrataDataTests/Fixtures/mnist-tiny").path
        let base = temporaryPath("data-move-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: fixture, toPath: base + "/mnist")
        let run = base + "/run"
        let r0 = try runStrata(
            [
                "train", "--dataset", "mnist", "--data", "mnist", "--out", run, "--epochs", "1", "--batch-size", "4",
                "--quiet",
            ],
            in: base)
        #expect(r0.status == 0, "\(r0.stderr)")
        let state = String(decoding: FileManager.default.contents(atPath: run + "/last.json") ?? Data(), as: UTF8.self)
        #expect(state.contains("\"\(base)/mnist\""), "the dataset path is stored absolute: \(state.prefix(400))")
        // Resume from elsewhere after the dataset moved: without --data it names the missing folder, with it it runs.
        try FileManager.default.moveItem(atPath: base + "/mnist", toPath: base + "/moved")
        let lost = try runStrata(["train", "--resume", run, "--epochs", "2", "--quiet"], in: "/")
        #expect(lost.status != 0 && lost.status < 128 && lost.stderr.contains("\(base)/mnist"), "\(lost.stderr)")
        let found = try runStrata(
            ["train", "--resume", run, "--epochs", "2", "--data", base + "/moved", "--quiet"], in: "/")
        #expect(found.status == 0, "\(found.stderr)")
    }

    @Test func unknownModelName() throws {
        let r = try runStrata(["summary", "resnet9000"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("unknown model 'resnet9000'"))
    }

    @Test func malformedInputShape() throws {
        let r = try runStrata(["summary", "resnet18", "--input", "3x224"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("--input"))
    }

    @Test func missingWeightsFile() throws {
        let r = try runStrata([
            "infer", "--model", "resnet20", "--weights", "/nonexistent/w.safetensors",
            "--input", "/nonexistent/x.npy", "--output", temporaryPath("y.npy"),
        ])
        #expect(r.status != 0 && r.status < 128) // ≥ 128 would be a signal (a trap)
        #expect(r.stderr.contains("/nonexistent/w.safetensors"))
    }

    @Test func truncatedWeightsFile() throws {
        let path = temporaryPath("truncated.safetensors")
        // Header length claims 1000 bytes; the file holds 12.
        try Data([0xE8, 0x03, 0, 0, 0, 0, 0, 0, 0x7B, 0x7D, 0x20, 0x20]).write(to: URL(fileURLWithPath: path))
        let r = try runStrata([
            "infer", "--model", "resnet20", "--weights", path, "--input", "/nonexistent/x.npy",
            "--output", temporaryPath("y.npy"),
        ])
        #expect(r.status != 0 && r.status < 128)
        #expect(r.stderr.contains(path))
    }

    @Test func unknownTestTimeAugmentation() throws {
        let r = try runStrata(["evaluate", "--weights", "/nonexistent/run", "--tta", "mirror"])
        #expect(r.status != 0 && r.status < 128)
        #expect(r.stderr.contains("--tta") && r.stderr.contains("mirror"))
    }

    @Test func unknownConvolutionAlgorithm() throws {
        let r = try runStrata(["bench", "--model", "resnet20", "--conv-algorithm", "fft"])
        #expect(r.status != 0 && r.status < 128)
        #expect(r.stderr.contains("--conv-algorithm") && r.stderr.contains("fft") && r.stderr.contains("winograd"))
    }

    @Test func nonPositiveEpochs() throws {
        let r = try runStrata(["train", "--epochs", "0"])
        #expect(r.status != 0 && r.status < 128)
        #expect(r.stderr.contains("epochs must be from 1 to 1,000,000, got 0"))
    }
}

@Suite struct CLIBenchTests {
    /// A case measured in its child process comes back as the JSON line compare.py reads; the
    /// table shows the same case.
    @Test func benchJSONAndTable() throws {
        let r = try runStrata([
            "bench", "--model", "lenet5", "--mode", "training", "--batch", "4", "--iterations", "2", "--json",
            "--backend", "ONEDNN", "--threads", "1",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let line = try #require(r.stdout.split(separator: "\n").last)
        let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(o["model"] as? String == "lenet5" && o["mode"] as? String == "training" && o["batch"] as? Int == 4)
        #expect(o["backend"] as? String == "dnnl" && o["threads"] as? Int == 1)
        #expect(
            ((o["images_per_second"] as? NSNumber)?.doubleValue ?? 0) > 0
                && ((o["peak_rss_mib"] as? NSNumber)?.doubleValue ?? 0) > 0)
        let table = try runStrata([
            "bench", "--model", "lenet5", "--mode", "inference", "--batch", "2", "--iterations", "2", "--backend",
            "reference",
        ])
        #expect(table.status == 0, "\(table.stderr)")
        #expect(
            table.stdout.contains("backend reference") && table.stdout.contains("lenet5           inference       2"),
            "\(table.stdout)")
    }
}

@Suite struct CLIPretrainedTests {
    /// The shipped weights classify offline, with their own class names and normalization.
    @Test func classifyWithPretrainedWeights() throws {
        let image = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("StrataImageTests/Fixtures/small_rgb.png").path
        let r = try runStrata(["classify", image, "--model", "resnet20", "--pretrained", "cifar10", "--top", "3"])
        #expect(r.status == 0, "\(r.stderr)")
        let cifar = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
        #expect(
            r.stdout.split(separator: "\n").filter { line in cifar.contains { line.contains("  \($0)  (") } }.count
                == 3, "\(r.stdout)")
        let listed = try runStrata(["models", "--pretrained"])
        #expect(
            listed.stdout.contains("resnet20") && listed.stdout.contains("--pretrained cifar10")
                && listed.stdout.contains("--pretrained mnist"))
    }

    @Test func pretrainedErrors() throws {
        let both = try runStrata([
            "classify", "x.png", "--model", "resnet20", "--pretrained", "cifar10", "--weights", "w.safetensors",
        ])
        #expect(both.status != 0 && both.stderr.contains("give --weights FILE or --pretrained DATASET"))
        let none = try runStrata(["classify", "x.png", "--model", "resnet56", "--pretrained", "cifar10"])
        #expect(
            none.status != 0 && none.stderr.contains("no pretrained weights for resnet56 on cifar10"), "\(none.stderr)")
    }
}

@Suite struct CLISummaryTests {
    /// `strata summary --json` totals equal torchvision's published figures (MACs).
    @Test(arguments: [
        ("resnet18", 11_689_512, 1.81), ("resnet50", 25_557_032, 4.09), ("vgg16", 138_357_544, 15.47),
        ("densenet121", 7_978_856, 2.83), ("googlenet", 13_004_888, 1.50),
    ])
    func publishedTotals(_ model: String, _ parameters: Int, _ gmacs: Double) throws {
        let r = try runStrata(["summary", model, "--json"])
        #expect(r.status == 0)
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(json?["parameters"] as? Int == parameters)
        let macs = json?["macs"] as? Int ?? 0
        #expect(abs(Double(macs) / 1e9 - gmacs) < 0.005, "\(model): \(macs) MACs")
    }
}
