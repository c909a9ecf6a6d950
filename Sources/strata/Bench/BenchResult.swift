import Foundation
import Strata

extension Bench {
    /// One measured case, and the JSON line a child process prints for it (read by the parent and by
    /// Benchmarks/compare.py).
    struct Result {
        var model: String, mode: String, batch: Int, threads: Int, backend: String
        var imagesPerSecond: Double, msPerBatch: Double, gflops: Double, peakRSSMiB: Double
        /// oneDNN's instruction set in the process that measured ("avx2", "avx512_core", ...).
        var isa = DNNLCapabilities.isa

        var json: JSON {
            .object([
                ("model", .string(model)), ("mode", .string(mode)), ("batch", .int(batch)), ("threads", .int(threads)),
                ("backend", .string(backend)), ("isa", .string(isa)),
                ("channel_block", .int(DNNLCapabilities.channelBlock)),
                ("images_per_second", .number(rounded(imagesPerSecond, 2))),
                ("ms_per_batch", .number(rounded(msPerBatch, 2))),
                ("gflops", .number(rounded(gflops, 1))), ("peak_rss_mib", .number(rounded(peakRSSMiB, 0))),
            ])
        }

        var jsonLine: String { json.serialized() }

        init(
            model: String, mode: String, batch: Int, threads: Int, backend: String, imagesPerSecond: Double,
            msPerBatch: Double,
            gflops: Double, peakRSSMiB: Double
        ) {
            (self.model, self.mode, self.batch, self.threads, self.backend) = (model, mode, batch, threads, backend)
            (self.imagesPerSecond, self.msPerBatch, self.gflops, self.peakRSSMiB) = (
                imagesPerSecond, msPerBatch, gflops, peakRSSMiB
            )
        }

        /// Parses a child's JSON line (the format `jsonLine` writes).
        init?(jsonLine: String) {
            guard let o = try? JSON.parse(jsonLine),
                let model = o["model"]?.stringValue, let mode = o["mode"]?.stringValue,
                let batch = o["batch"]?.intValue,
                let threads = o["threads"]?.intValue, let backend = o["backend"]?.stringValue,
                let ips = o["images_per_second"]?.doubleValue, let ms = o["ms_per_batch"]?.doubleValue,
                let gf = o["gflops"]?.doubleValue, let rss = o["peak_rss_mib"]?.doubleValue
            else { return nil }
            self.init(
                model: model, mode: mode, batch: batch, threads: threads, backend: backend, imagesPerSecond: ips,
                msPerBatch: ms, gflops: gf, peakRSSMiB: rss)
            if let isa = o["isa"]?.stringValue { self.isa = isa }
        }
    }
}

/// `v` rounded to `digits` decimals (as the JSON shows it).
func rounded(_ v: Double, _ digits: Int) -> Double {
    let scale = Foundation.pow(10, Double(digits))
    return (v * scale).rounded() / scale
}
