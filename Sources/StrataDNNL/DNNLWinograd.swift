// Winograd F(4×4, 3×3) convolution (inference; the forward and ∂x in training) for CPUs where oneDNN 2.6 has none (AVX2: its
// Winograd kernels are AVX-512 only), after Lavin & Gray, "Fast Algorithms for Convolutional
// Neural Networks" (CVPR 2016):
//
//   Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A      d: a 6×6 input tile, g: a 3×3 filter, Y: a 4×4 output tile
//
// summed over input channels, which turns into 36 matrix products, one per point ξ of the 6×6
// transformed tile:  M_ξ [T × K] = V_ξ [T × C] · U_ξ [C × K]  (T tiles). 2.25× fewer multiplications
// per output than direct convolution's 9 (36 per 16 outputs against 144); the products run on
// oneDNN's sgemm, the transforms in Swift on nChw8c blocks (8 channels, one SIMD8 value).
//
// Shapes:  x [N, C, H, W] in nChw8c  →  V [36][T][Cp]   (Cp, Kp: channels rounded up to 8)
//          w [K, C, 3, 3]            →  U [36][Cp][Kp]  (cached per weight buffer)
//          M = V·U [36][T][Kp]       →  y [N, K, OH, OW] in nChw8c, + bias, + residual, ReLU
// Tiles are processed in chunks whose V and M fit in the last-level cache.

import Dispatch
import Foundation
import StrataTensor
import _CDNNL

/// Transformed weights U for one weight buffer (the folded or reordered buffer a pending convolution holds).
final class WinogradWeightCache: @unchecked Sendable {
    private struct Entry {
        weak var source: TensorStorage?
        let u: Buffer
    }
    private let lock = NSLock()
    private var entries: [ObjectIdentifier: Entry] = [:]

    func get(_ source: TensorStorage, make: () -> Buffer) -> Buffer {
        let key = ObjectIdentifier(source)
        lock.lock()
        if let e = entries[key], e.source === source {
            lock.unlock()
            return e.u
        }
        lock.unlock()
        let u = make()
        lock.lock()
        defer { lock.unlock() }
        if entries.count > 1024 { entries = entries.filter { $0.value.source != nil } }
        entries[key] = Entry(source: source, u: u)
        return u
    }
}

extension DNNLBackend {
    /// Whether this inference convolution runs on Strata's own Winograd kernel: a 3×3, stride-1,
    /// undilated, ungrouped convolution on a CPU where oneDNN has no Winograd of its own (and uses
    /// 8-channel blocks), unless `.direct` was asked for, with ≥ 32 input and ≥ 64 output channels
    /// and ≥ 16 output tiles. Measured per layer on AVX2 (`strata bench --conv-layers`, direct ms →
    /// Winograd ms): batch 32: 64→64 at 56² 41.5 → 28.3, 128→128 at 28² 41.3 → 22.0, 512→512 at 7²
    /// 45.1 → 27.9, GoogLeNet's 128→192 at 28² 62.6 → 29.8; but 32 output channels (DenseNet's
    /// growth) 0.85–1.08×, and with fewer tiles than 16 (batch 1 at 7²) reading the transformed
    /// weights (4× the weights) costs more than it saves: 512→512 1.8 → 3.6 ms.
    func usesOwnWinograd(_ g: ConvGeometryDNNL) -> Bool {
        guard convolutionAlgorithm != .direct, !DNNLCapabilities.hasWinograd, DNNLCapabilities.channelBlock == 8,
            g.isWinogradCandidate, g.src[1] >= 32, g.dst[1] >= 64
        else { return false }
        let tiles = g.dst[0] * ((g.dst[2] + 3) / 4) * ((g.dst[3] + 3) / 4)
        return tiles >= 16
    }

    /// Runs a pending convolution with Winograd, into `destination` (nChw8c of the output shape)
    /// when given; returns the result buffer and its layout.
    func runWinograd(_ pc: PendingConv, into destination: Buffer? = nil) -> (Buffer, MemoryDesc) {
        let g = pc.geometry
        let dstMD = MemoryDesc.channelBlocked(g.dst, block: 8)
        let plainWeights = MemoryDesc.plain(g.weights)
        let u = winogradWeights.get(pc.weights) {
            let w = reorder(pc.weights, from: pc.weightsMD, to: plainWeights)
            return Self.transformWeights(w, k: g.dst[1], c: g.src[1])
        }
        // Every element, padding lanes included, is written by the output transform (or starts as the residual).
        let dst = destination ?? Buffer.bytes(dstMD.byteCount)
        if let residual = pc.residual {
            dstMD.zeroPadding(dst)
            copy(residual, into: dst, dstMD)
        }
        let x = input(pc.input, as: .channelBlocked(g.src, block: 8))
        // The bias padded to whole blocks (zeros), so the last block loads as one SIMD8 value.
        let bias = pc.bias.map { Self.paddedBias($0, count: g.dst[1]) }
        Self.winogradConvolution(
            x, u: u, bias: bias, dst: dst, geometry: g, accumulate: pc.residual != nil,
            relu: pc.postOps.contains(.relu))
        withExtendedLifetime((x, u, bias)) {}
        return (dst, dstMD)
    }

    // MARK: Training

    /// A convolution that is not deferred (training, or fusion off) with Winograd; weights transformed
    /// per call (in training they change every step; caching them would keep 4× the weights alive).
    func winogradConv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, _ g: ConvGeometryDNNL) -> Tensor {
        let u = Self.transformWeights(weight.storage, k: g.dst[1], c: g.src[1])
        let x8 = input(x, as: .channelBlocked(g.src, block: 8))
        let dstMD = MemoryDesc.channelBlocked(g.dst, block: 8)
        let dst = Buffer.bytes(dstMD.byteCount)
        let b = bias.map { Self.paddedBias($0.storage, count: g.dst[1]) }
        Self.winogradConvolution(x8, u: u, bias: b, dst: dst, geometry: g, accumulate: false, relu: false)
        withExtendedLifetime((x8, u, b, weight)) {}
        return output(dst, dstMD, shape: g.dst)
    }

    /// ∂x of a 3×3 stride-1 convolution with Winograd, or nil where it does not pay: ∂y convolved with
    /// the weights transposed and rotated by 180° (W'[c][k][u][v] = W[k][c][2 − u][2 − v]) and padding
    /// 2 − p on each side, itself a 3×3 stride-1 convolution from K to C channels.
    func winogradBackwardData(_ gradOutput: Tensor, weight: Tensor, _ g: ConvGeometryDNNL) -> Tensor? {
        guard g.isWinogradCandidate, (g.padL + g.padR).allSatisfy({ $0 <= 2 }) else { return nil }
        let (k, c) = (g.dst[1], g.src[1])
        let p = Conv2dParameters(
            stride: (1, 1),
            padding: (
                top: 2 - Int(g.padL[0]), bottom: 2 - Int(g.padR[0]),
                left: 2 - Int(g.padL[1]), right: 2 - Int(g.padR[1])
            ))
        let back = ConvGeometryDNNL(input: g.dst, weight: [c, k, 3, 3], p)
        guard back.dst == g.src, usesOwnWinograd(back) else { return nil }
        let flipped = Buffer.bytes(c * k * 9 * 4)
        let w = weight.storage.typed(Float.self)
        let f = flipped.typed(Float.self)
        for ko in 0..<k {
            for ci in 0..<c {
                let src = w + (ko * c + ci) * 9
                let dst = f + (ci * k + ko) * 9
                for i in 0..<9 { dst[i] = src[8 - i] }
            }
        }
        let u = Self.transformWeights(flipped, k: c, c: k)
        let dy = input(gradOutput, as: .channelBlocked(back.src, block: 8))
        let dxMD = MemoryDesc.channelBlocked(g.src, block: 8)
        let dx = Buffer.bytes(dxMD.byteCount)
        Self.winogradConvolution(dy, u: u, bias: nil, dst: dx, geometry: back, accumulate: false, relu: false)
        withExtendedLifetime((dy, u, flipped, weight)) {}
        return output(dx, dxMD, shape: g.src)
    }

    /// `bias` [count] padded with zeros to whole 8-channel blocks.
    static func paddedBias(_ bias: Buffer, count: Int) -> Buffer {
        let padded = Buffer(dtype: .float32, count: (count + 7) / 8 * 8)
        padded.typed(Float.self).initialize(repeating: 0, count: padded.count)
        padded.pointer.copyMemory(from: bias.pointer, byteCount: count * 4)
        return padded
    }

    // MARK: Transforms

    /// U[ξ][c][k] = (G g_kc Gᵀ)[ξ] for plain weights [K, C, 3, 3]; rows c ≥ C and columns k ≥ K stay zero.
    /// Computed in Double (each value rounded once).
    static func transformWeights(_ w: Buffer, k: Int, c: Int) -> Buffer {
        let (kp, cp) = ((k + 7) / 8 * 8, (c + 7) / 8 * 8)
        let u = Buffer.bytes(36 * cp * kp * 4)
        let up = u.typed(Float.self)
        let wp = w.typed(Float.self)
        up.initialize(repeating: 0, count: 36 * cp * kp)
        /// G·(g0, g1, g2)ᵀ, G = [[1/4, 0, 0], [-1/6, -1/6, -1/6], [-1/6, 1/6, -1/6], [1/24, 1/12, 1/6], [1/24, -1/12, 1/6], [0, 0, 1]].
        @inline(__always) func gTimes(_ g0: Double, _ g1: Double, _ g2: Double) -> (
            Double, Double, Double, Double, Double, Double
        ) {
            (
                g0 / 4, -(g0 + g1 + g2) / 6, -(g0 - g1 + g2) / 6, g0 / 24 + g1 / 12 + g2 / 6,
                g0 / 24 - g1 / 12 + g2 / 6, g2
            )
        }
        // Input channels split over threads, output channels innermost: each of the 36 rows U[ξ][ci] is
        // written front to back (column order scattered every store across 36 × C rows).
        let threads = max(1, min(DNNLThreads.count, c))
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            for ci in stride(from: t, to: c, by: threads) {
                for ko in 0..<k {
                    let f = wp + (ko * c + ci) * 9
                    // G g: 6 rows × 3 columns, column by column.
                    let c0 = gTimes(Double(f[0]), Double(f[3]), Double(f[6]))
                    let c1 = gTimes(Double(f[1]), Double(f[4]), Double(f[7]))
                    let c2 = gTimes(Double(f[2]), Double(f[5]), Double(f[8]))
                    @inline(__always) func row(_ i: Int, _ r0: Double, _ r1: Double, _ r2: Double) {
                        let v = gTimes(r0, r1, r2) // (G g Gᵀ)[i][0..<6]
                        let base = up + ((i * 6) * cp + ci) * kp + ko
                        base[0] = Float(v.0)
                        base[cp * kp] = Float(v.1)
                        base[2 * cp * kp] = Float(v.2)
                        base[3 * cp * kp] = Float(v.3)
                        base[4 * cp * kp] = Float(v.4)
                        base[5 * cp * kp] = Float(v.5)
                    }
                    row(0, c0.0, c1.0, c2.0)
                    row(1, c0.1, c1.1, c2.1)
                    row(2, c0.2, c1.2, c2.2)
                    row(3, c0.3, c1.3, c2.3)
                    row(4, c0.4, c1.4, c2.4)
                    row(5, c0.5, c1.5, c2.5)
                }
            }
        }
        return u
    }

    /// Bᵀ·d for one column of six SIMD8 values.
    @inline(__always)
    static func inputColumn(
        _ d: inout (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)
    ) {
        let (d0, d1, d2, d3, d4, d5) = d
        let four: Float = 4
        let five: Float = 5
        let two: Float = 2
        d.0 = four * d0 - five * d2 + d4
        d.1 = -four * (d1 + d2) + d3 + d4
        d.2 = four * (d1 - d2) - d3 + d4
        d.3 = two * (d3 - d1) - d2 + d4
        d.4 = two * (d1 - d3) - d2 + d4
        d.5 = four * d1 - five * d3 + d5
    }

    /// Aᵀ·m for one column of six SIMD8 values: four outputs.
    @inline(__always)
    static func outputColumn(
        _ m0: SIMD8<Float>, _ m1: SIMD8<Float>, _ m2: SIMD8<Float>, _ m3: SIMD8<Float>, _ m4: SIMD8<Float>,
        _ m5: SIMD8<Float>
    ) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        let s12 = m1 + m2
        let d12 = m1 - m2
        let s34 = m3 + m4
        let d34 = m3 - m4
        let two: Float = 2
        let four: Float = 4
        let eight: Float = 8
        return (m0 + s12 + s34, d12 + two * d34, s12 + four * s34, d12 + eight * d34 + m5)
    }

    /// Runs `body(item, scratch)` for items 0..<count, strided over `threads` threads, each with
    /// `scratch` SIMD8 values of its own (a transform's 6×6 or 4×6 tile).
    @inline(__always)
    private static func forEachItem(
        _ count: Int, threads: Int, scratch: Int,
        _ body: (Int, UnsafeMutableBufferPointer<SIMD8<Float>>) -> Void
    ) {
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: scratch) { buffer in
                for item in stride(from: thread, to: count, by: threads) { body(item, buffer) }
            }
        }
    }

    /// The whole convolution: chunks of tiles, each input-transformed, multiplied and output-transformed.
    /// `chunkTiles`: tiles per chunk (default: what fits about 4 MB of V and M; tests set it small).
    static func winogradConvolution(
        _ x: Buffer, u: Buffer, bias: Buffer?, dst: Buffer, geometry g: ConvGeometryDNNL,
        accumulate: Bool, relu: Bool, chunkTiles: Int? = nil
    ) {
        let (n, c, h, w) = (g.src[0], g.src[1], g.src[2], g.src[3])
        let (k, oh, ow) = (g.dst[1], g.dst[2], g.dst[3])
        let (cp, kp) = ((c + 7) / 8 * 8, (k + 7) / 8 * 8)
        let (cb, kb) = (cp / 8, kp / 8)
        let (padTop, padLeft) = (Int(g.padL[0]), Int(g.padL[1]))
        let (th, tw) = ((oh + 3) / 4, (ow + 3) / 4)
        let tilesPerImage = th * tw
        let tiles = n * tilesPerImage
        // A chunk's V and M (36 × tiles × (Cp + Kp) floats) in about 4 MB.
        let chunk = max(1, min(tiles, chunkTiles ?? max(16, (4 << 20) / (36 * (cp + kp) * 4))))
        let v = Buffer.bytes(36 * chunk * cp * 4)
        let m = Buffer.bytes(36 * chunk * kp * 4)
        let vp = v.typed(Float.self)
        let mp = m.typed(Float.self)
        let up = u.typed(Float.self)
        let xp = x.typed(Float.self)
        let yp = dst.typed(Float.self)
        let bp = bias?.typed(Float.self)
        let threads = max(1, DNNLThreads.count)
        let zero = SIMD8<Float>(repeating: 0)

        @inline(__always) func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
            UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
        }
        @inline(__always) func store(_ value: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
            UnsafeMutableRawPointer(p).storeBytes(of: value, as: SIMD8<Float>.self)
        }

        var first = 0
        while first < tiles {
            let count = min(chunk, tiles - first)
            // Input transform: V[ξ][t][c] for the chunk's tiles, one (tile, channel block) per item.
            forEachItem(count * cb, threads: threads, scratch: 36) { item, d in
                let (local, block) = (item / cb, item % cb)
                let tile = first + local
                let (image, inImage) = (tile / tilesPerImage, tile % tilesPerImage)
                let (y0, x0) = ((inImage / tw) * 4 - padTop, (inImage % tw) * 4 - padLeft)
                let plane = xp + ((image * cb + block) * h * w) * 8
                // d: 6×6 SIMD8, rows then columns; zero outside the image.
                d.initialize(repeating: zero)
                for r in 0..<6 {
                    let yy = y0 + r
                    guard yy >= 0 && yy < h else { continue }
                    let row = plane + yy * w * 8
                    for s in 0..<6 {
                        let xx = x0 + s
                        if xx >= 0 && xx < w { d[r * 6 + s] = load(row + xx * 8) }
                    }
                }
                // Bᵀ d: columns; then (Bᵀ d) B: rows.
                for s in 0..<6 {
                    var col = (d[s], d[6 + s], d[12 + s], d[18 + s], d[24 + s], d[30 + s])
                    inputColumn(&col)
                    (d[s], d[6 + s], d[12 + s], d[18 + s], d[24 + s], d[30 + s]) = col
                }
                let out = vp + local * cp + block * 8
                for r in 0..<6 {
                    var row = (d[r * 6], d[r * 6 + 1], d[r * 6 + 2], d[r * 6 + 3], d[r * 6 + 4], d[r * 6 + 5])
                    inputColumn(&row)
                    let base = out + (r * 6) * chunk * cp
                    store(row.0, base)
                    store(row.1, base + chunk * cp)
                    store(row.2, base + 2 * chunk * cp)
                    store(row.3, base + 3 * chunk * cp)
                    store(row.4, base + 4 * chunk * cp)
                    store(row.5, base + 5 * chunk * cp)
                }
            }
            // M_ξ = V_ξ · U_ξ: [count × Cp] · [Cp × Kp].
            DNNLThreads.applyToCurrentThread()
            let nn = CChar(UInt8(ascii: "N"))
            for xi in 0..<36 {
                orTrap {
                    try check(
                        dnnl_sgemm(
                            nn, nn, Int64(count), Int64(kp), Int64(cp), 1, vp + xi * chunk * cp, Int64(cp),
                            up + xi * cp * kp, Int64(kp), 0, mp + xi * chunk * kp, Int64(kp)),
                        "Winograd product \(count)×\(cp)·\(cp)×\(kp)", "dnnl_sgemm")
                }
            }
            // Output transform: Aᵀ M A per (tile, output channel block), + bias, + residual, ReLU.
            forEachItem(count * kb, threads: threads, scratch: 24) { item, t in
                let (local, block) = (item / kb, item % kb)
                let tile = first + local
                let (image, inImage) = (tile / tilesPerImage, tile % tilesPerImage)
                let (y0, x0) = ((inImage / tw) * 4, (inImage % tw) * 4)
                let src = mp + local * kp + block * 8
                // t = Aᵀ M: 4×6
                for s in 0..<6 {
                    let p = src + s * chunk * kp
                    let col = outputColumn(
                        load(p), load(p + 6 * chunk * kp), load(p + 12 * chunk * kp),
                        load(p + 18 * chunk * kp), load(p + 24 * chunk * kp), load(p + 30 * chunk * kp))
                    (t[s], t[6 + s], t[12 + s], t[18 + s]) = col
                }
                let b = bp.map { load($0 + block * 8) } ?? zero
                let plane = yp + ((image * kb + block) * oh * ow) * 8
                for r in 0..<4 {
                    let yy = y0 + r
                    guard yy < oh else { break }
                    let o = outputColumn(t[r * 6], t[r * 6 + 1], t[r * 6 + 2], t[r * 6 + 3], t[r * 6 + 4], t[r * 6 + 5])
                    let row = plane + yy * ow * 8
                    @inline(__always) func write(_ value: SIMD8<Float>, _ s: Int) {
                        let q = row + (x0 + s) * 8
                        var y = value + b
                        if accumulate { y += load(q) }
                        if relu { y = y.replacing(with: zero, where: y .< zero) }
                        store(y, q)
                    }
                    let columns = min(4, ow - x0)
                    write(o.0, 0)
                    if columns > 1 { write(o.1, 1) }
                    if columns > 2 { write(o.2, 2) }
                    if columns > 3 { write(o.3, 3) }
                }
            }
            first += count
        }
        // Padding channels: U's columns k ≥ K and the bias there are zero, so they hold 0 (or the residual's 0).
        withExtendedLifetime((v, m)) {}
    }
}
