import Foundation
import Testing

/// `strata experiment …`, `strata inspect gradients` and `strata train --log-gradients` end to end on
/// tiny configurations (synthetic data, depth-8/14 nets, a few steps): each writes its metrics,
/// a PNG figure and a verdict consistent with its own measurements.
@Suite struct ExperimentCLITests {
    static func directory(_ tag: String) -> String {
        let path = NSTemporaryDirectory() + "strata-\(tag)-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func json(_ path: String) throws -> [String: Any] {
        let data = try #require(FileManager.default.contents(atPath: path), "\(path) missing")
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// A PNG (signature, IHDR size) of at least 200×150 that is not one colour.
    static func checkPNG(_ path: String) throws {
        let bytes = [UInt8](try #require(FileManager.default.contents(atPath: path), "\(path) missing"))
        #expect(Array(bytes.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let width = bytes[16..<20].reduce(0) { $0 << 8 | Int($1) }
        let height = bytes[20..<24].reduce(0) { $0 << 8 | Int($1) }
        #expect(width >= 200 && height >= 150)
        #expect(bytes.count > 2000, "a plot compresses to more than a blank image")
    }

    @Test func degradation() throws {
        let dir = Self.directory("degradation")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try runStrata([
            "experiment", "degradation", "--quick", "--depths", "8,14", "--train-limit", "16", "--test-limit", "8",
            "--epochs", "2", "--batch-size", "8", "--out", dir, "--quiet",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("degradation: "))
        try Self.checkPNG(dir + "/figure.png")
        let verdict = try Self.json(dir + "/verdict.json")
        let findings = try #require(verdict["findings"] as? [[String: Any]])
        #expect(findings.count == 4)
        // The first finding is exactly the comparison of the two plain nets' measured final training errors.
        func finalTrainError(_ arm: String) throws -> Double {
            let result = try Self.json("\(dir)/\(arm)/result.json")
            let epochs = try #require(result["epochs"] as? [[String: Any]])
            #expect(epochs.count == 2)
            return try #require(epochs.last?["train_error"] as? Double)
        }
        #expect((findings[0]["holds"] as? Bool) == (try finalTrainError("plain14") > finalTrainError("plain8")))
        #expect((verdict["reproduced"] as? Bool) == findings.allSatisfy { ($0["holds"] as? Bool) == true })
        for arm in ["plain8", "plain14", "resnet8", "resnet14"] {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: "\(dir)/\(arm)")) ?? []
            #expect(files.contains("metrics.jsonl") && !files.contains("last.safetensors"), "\(arm): \(files)")
        }
        #expect(FileManager.default.fileExists(atPath: dir + "/verdict.md"))
        // report.html: the same verdict, the figure embedded, each arm's training report linked.
        let html = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        #expect(html.contains("<p id=\"verdict\"><b>\(try #require(verdict["summary"] as? String))</b></p>"))
        #expect(
            html.contains("<figure id=\"figure-0\"") && html.contains("<img src=\"data:image/png;base64,iVBORw0KGgo"))
        for arm in ["plain8", "plain14", "resnet8", "resnet14"] {
            #expect(html.contains("<a href=\"\(arm)/report.html\">"), "\(arm)")
        }
    }

    /// `--arms`: one process trains only its arms into the shared directory; no verdict until all four are there.
    @Test func degradationArmsSubset() throws {
        let dir = Self.directory("degradation-arms")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try runStrata([
            "experiment", "degradation", "--quick", "--arms", "resnet8", "--depths", "8,14", "--train-limit", "16",
            "--test-limit", "8", "--epochs", "1", "--batch-size", "8", "--out", dir, "--quiet",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("the verdict needs plain8, plain14, resnet14 too"))
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() == ["resnet8"])
        let bad = try runStrata(["experiment", "degradation", "--arms", "resnet9", "--out", dir])
        #expect(bad.status != 0 && bad.stderr.contains("--arms takes names among"))
        let badWarmup = try runStrata(["experiment", "degradation", "--quick", "--warmup-epochs=-1", "--out", dir])
        #expect(badWarmup.status != 0 && badWarmup.stderr.contains("--warmup-epochs must be from 0"))
        // The same command again reuses the finished arm; other settings are refused, not silently mixed in.
        let arm = [
            "experiment", "degradation", "--quick", "--arms", "resnet8", "--depths", "8,14", "--train-limit", "16",
            "--test-limit", "8", "--epochs", "1", "--batch-size", "8", "--out", dir, "--quiet",
        ]
        let before = FileManager.default.contents(atPath: dir + "/resnet8/result.json")
        let again = try runStrata(arm)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(FileManager.default.contents(atPath: dir + "/resnet8/result.json") == before)
        let other = try runStrata(arm + ["--lr", "0.05"])
        #expect(other.status != 0)
        #expect(other.stderr.contains("resnet8/result.json was trained with other settings"), "\(other.stderr)")
        #expect(other.stderr.contains("\"learning_rate\":0.05"), "\(other.stderr)")
    }

    @Test func batchNorm() throws {
        let dir = Self.directory("batchnorm")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try runStrata([
            "experiment", "batchnorm", "--model", "plain8", "--steps", "6", "--batch-size", "8", "--train-limit", "32",
            "--test-limit", "8", "--out", dir, "--quiet",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        try Self.checkPNG(dir + "/figure.png")
        let verdict = try Self.json(dir + "/verdict.json")
        #expect((verdict["experiment"] as? String) == "batchnorm")
        #expect((verdict["findings"] as? [Any])?.count == 2)
        let nobn = try Self.json(dir + "/nobn/result.json")
        #expect((nobn["model"] as? String) == "plain8_nobn")
        #expect((nobn["step_losses"] as? [Any])?.count == 6)
        let bad = try runStrata(["experiment", "batchnorm", "--model", "plain8_nobn", "--out", dir])
        #expect(bad.status != 0 && bad.stderr.contains("_nobn"))
    }

    @Test func efficiency() throws {
        let dir = Self.directory("efficiency")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try runStrata([
            "experiment", "efficiency", "--models", "resnet8,densenet_bc_10_k4", "--train-epochs", "1", "--train-limit",
            "16",
            "--test-limit", "8", "--throughput-batch", "2", "--iterations", "1", "--out", dir, "--quiet",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        try Self.checkPNG(dir + "/figure.png")
        try Self.checkPNG(dir + "/throughput.png")
        #expect(
            FileManager.default.contents(atPath: dir + "/figure.png")
                != FileManager.default.contents(atPath: dir + "/throughput.png"),
            "with every accuracy measured, figure.png plots accuracy, not throughput")
        let results = try Self.json(dir + "/results.json")
        let rows = try #require(results["rows"] as? [[String: Any]])
        #expect(rows.map { $0["model"] as? String } == ["resnet8", "densenet_bc_10_k4"])
        #expect(
            rows.allSatisfy { ($0["accuracy"] as? Double) != nil && (($0["images_per_second"] as? Double) ?? 0) > 0 })
        // inception3a at 28×28 by hand: 1×1 64, 1×1 96 → 3×3 128, 1×1 16 → 3×3 32, pool → 1×1 32 (192 in);
        // without the reductions: 1×1 64, 3×3 128 and 3×3 32 on the 192 input channels.
        let inception = try #require(results["inception3a_macs"] as? [String: Any])
        let hw = 28 * 28
        #expect(
            (inception["with_reductions"] as? Int) == hw
                * (192 * 64 + 192 * 96 + 96 * 128 * 9 + 192 * 16 + 16 * 32 * 9 + 192 * 32))
        #expect((inception["without_reductions"] as? Int) == hw * (192 * 64 + 192 * 128 * 9 + 192 * 32 * 9))
        let verdict = try Self.json(dir + "/verdict.json")
        let findings = try #require(verdict["findings"] as? [[String: Any]])
        // densenet_bc_10_k4 is tiny next to resnet8: the parameter claim holds; the reduction claim holds.
        #expect((findings.first?["holds"] as? Bool) == true && (findings.last?["holds"] as? Bool) == true)
        // report.html embeds both figures: accuracy against parameters, and throughput.
        let html = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        #expect(html.contains("Test top-1 against parameters") && html.contains("<figure id=\"figure-1\""))
    }

    @Test func inspectGradients() throws {
        let dir = Self.directory("gradients")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try runStrata([
            "inspect", "gradients", "--model", "plain20,resnet20_nobn", "--batch", "4", "--steps", "0,2",
            "--output", dir + "/grad.png", "--json",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        try Self.checkPNG(dir + "/grad.png")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let models = try #require(json["models"] as? [[String: Any]])
        #expect(models.map { $0["model"] as? String } == ["plain20", "resnet20_nobn"])
        for m in models {
            let measurements = try #require(m["measurements"] as? [[String: Any]])
            #expect(measurements.map { $0["step"] as? Int } == [0, 2])
            let layers = try #require(measurements.first?["layers"] as? [[String: Any]])
            #expect(layers.count == 20)
            #expect(layers.first?["layer"] as? String == "conv1" && layers.last?["layer"] as? String == "fc")
        }
        let table = try runStrata(["inspect", "gradients", "--model", "plain20", "--batch", "2"])
        #expect(table.status == 0 && table.stdout.contains("layer1.0.conv1") && table.stdout.contains("lr·‖g‖/‖w‖"))
        let bad = try runStrata(["inspect", "gradients", "--model", "plain20", "--steps", "x"])
        #expect(bad.status != 0 && bad.stderr.contains("--steps"))
    }

    @Test func trainLogsGradients() throws {
        let dir = Self.directory("train-gradients")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try runStrata([
            "train", "--max-steps", "3", "--batch-size", "8", "--log-gradients", "--log-gradients-every", "2",
            "--out", dir + "/run", "--quiet",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = try String(contentsOfFile: dir + "/run/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let records = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let gradients = records.filter { ($0["type"] as? String) == "gradients" }
        #expect(gradients.map { $0["step"] as? Int } == [1, 3])
        #expect(
            (gradients.first?["layers"] as? [[String: Any]])?.map { $0["layer"] as? String } == [
                "features.0", "features.3", "classifier.0", "classifier.2", "classifier.4",
            ])
        // The training report shows the first and latest step's gradient norms as a figure.
        let html = try String(contentsOfFile: dir + "/run/report.html", encoding: .utf8)
        #expect(html.contains("<h2>Figures</h2>") && html.contains("<img src=\"data:image/png;base64,iVBORw0KGgo"))
        #expect(html.contains("lenet5 step 1 and lenet5 step 3"))
    }
}
