import Foundation
import StrataImage
import StrataTestSupport
import Testing

/// Tests/StrataImageTests/Fixtures, made by Scripts/make_image_fixtures.py.
let fixtureDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    .path

func fixturePath(_ name: String) -> String { fixtureDirectory + "/" + name }

/// The shared sample photos: <repo root>/../shared/data/photos (absent in some checkouts).
let photosDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("shared/data/photos").path

let photosAvailable = FileManager.default.fileExists(atPath: photosDirectory + "/skimage_chelsea.png")

// MARK: expected.json

struct DecodeEntry: Decodable {
    var width: Int, height: Int, channels: Int, mode: String
    var native: [Int], rgb: [Int]
    var gray: [Int]?
}

struct ResizeEntry: Decodable, CustomTestStringConvertible {
    var file: String
    var shorter: Int?
    var width: Int, height: Int
    var pixels: [Int]
    var testDescription: String { "\(file) → \(shorter.map { "shorter side \($0): " } ?? "")\(width)×\(height)" }
}

struct SampledTensor: Decodable {
    var sum: [Double]
    var indices: [Int], values: [Double]
}

struct EvalEntry: Decodable {
    var file: String, resized: [Int], crop_png: String
    var sum: [Double], indices: [Int], values: [Double]
}

struct PhotoEntry: Decodable {
    var width: Int, height: Int, channels: Int
    var mean: [Double]
    var indices: [Int], values: [Int]
    var eval: SampledTensor?
}

struct Expected: Decodable {
    var decode: [String: DecodeEntry]
    var resize: [ResizeEntry]
    var crop: [ResizeEntry]
    var eval: EvalEntry
    var photos: [String: PhotoEntry]?
}

let expected: Expected = {
    do {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixturePath("expected.json")))
        return try JSONDecoder().decode(Expected.self, from: data)
    } catch {
        fatalError("cannot load \(fixturePath("expected.json")): \(error)")
    }
}()

// MARK: Files

/// The largest absolute difference between two sample arrays of equal length.
func maxAbsDiff(_ a: [UInt8], _ b: [Int]) -> Int {
    zip(a, b).map { abs(Int($0) - $1) }.max() ?? 0
}
