// Tensors kept in oneDNN's layouts between primitives, and the reorders that convert them.

import Foundation
import StrataTensor
import _CDNNL

/// A tensor layout chosen by a oneDNN primitive (usually `nChw16c` on AVX-512 or `nChw8c` on
/// AVX2: channels in blocks of 16 or 8, padded with zeros). Tensors in it convert to row-major when Swift code reads them.
final class DNNLLayout: TensorLayout, @unchecked Sendable {
    let md: MemoryDesc
    init(_ md: MemoryDesc) { self.md = md }

    func rowMajor(_ physical: TensorStorage, shape: [Int]) -> TensorStorage {
        let dtype = md.dtype ?? .float32
        let out = BufferPool.storage(bytes: shape.reduce(1, *) * dtype.byteCount, dtype: dtype)
        Reorders.convert(physical, from: md, into: out, to: .plain(shape, md.raw.data_type))
        return out
    }

    func physical(fromRowMajor storage: TensorStorage, shape: [Int]) -> TensorStorage {
        Reorders.convert(storage, from: .plain(shape, md.raw.data_type), to: md)
    }

    func isSame(as other: any TensorLayout) -> Bool {
        guard let o = other as? DNNLLayout else { return false }
        return o === self || o.md == md
    }
}

/// Reorder primitives, cached by source and destination layout for the whole process.
enum Reorders {
    private struct Key: Hashable { let from: MemoryDescKey, to: MemoryDescKey }
    private static let lock = NSLock()
    nonisolated(unsafe) private static var cache: [Key: Primitive] = [:]

    static func primitive(from: MemoryDesc, to: MemoryDesc) -> Primitive {
        let key = Key(from: from.key, to: to.key)
        lock.lock()
        defer { lock.unlock() }
        if let hit = cache[key] { return hit }
        let p = orTrap { try Primitive(reorderFrom: from, to: to) }
        cache[key] = p
        return p
    }

    /// `buffer` (in layout `from`) in layout `to`: the same buffer when the layouts agree.
    static func convert(_ buffer: Buffer, from: MemoryDesc, to: MemoryDesc) -> Buffer {
        if from == to { return buffer }
        let out = Buffer.bytes(to.byteCount)
        // Not every reorder writes the padding of a padded layout; it must read as zeros.
        if PaddedChannelBlocks.convert(buffer, from: from, into: out, to: to) { return out } // writes the padding too
        to.zeroPadding(out)
        convert(buffer, from: from, into: out, to: to)
        return out
    }

    /// Converts `buffer` (layout `from`) into `destination` (layout `to`).
    static func convert(_ buffer: Buffer, from: MemoryDesc, into destination: Buffer, to: MemoryDesc) {
        if PaddedChannelBlocks.convert(buffer, from: from, into: destination, to: to) { return }
        let p = primitive(from: from, to: to)
        orTrap { try p.execute([.init(DNNL_ARG_FROM, from, buffer), .init(DNNL_ARG_TO, to, destination)]) }
    }
}

/// nChw16c / nChw8c with padding (channels not a multiple of the block) ↔ nchw, in Swift. oneDNN
/// 2.6 handles these with its generic `jit:uni` reorder at ~1.6 GB/s (DenseNet-BC's 12-channel
/// growth makes every concatenation padded); this plain transposition of channel blocks, split
/// over (image, block) pairs, runs at memory speed.
enum PaddedChannelBlocks {
    static func convert(_ buffer: Buffer, from: MemoryDesc, into destination: Buffer, to: MemoryDesc) -> Bool {
        let dims = from.dims
        guard dims.count == 4, to.dims == dims, from.raw.data_type == dnnl_f32, to.raw.data_type == dnnl_f32 else {
            return false
        }
        let plain = MemoryDesc.plain(dims)
        let toPlain: Bool
        let block: Int
        if let b = from.channelBlock, to == plain {
            (toPlain, block) = (true, b)
        } else if let b = to.channelBlock, from == plain {
            (toPlain, block) = (false, b)
        } else {
            return false
        }
        guard dims[1] % block != 0 else { return false }
        let (n, c, hw) = (dims[0], dims[1], dims[2] * dims[3])
        let blocks = (c + block - 1) / block
        let b = (toPlain ? buffer : destination).typed(Float.self)
        let p = (toPlain ? destination : buffer).typed(Float.self)
        let work = n * blocks
        let threads = max(1, min(DNNLThreads.count, work))
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            for item in stride(from: t, to: work, by: threads) {
                let (image, blockIndex) = (item / blocks, item % blocks)
                let src = b + item * hw * block
                let channels = min(block, c - blockIndex * block)
                let rows = p + (image * c + blockIndex * block) * hw
                if toPlain {
                    for ch in 0..<channels {
                        let row = rows + ch * hw
                        for i in 0..<hw { row[i] = src[i * block + ch] }
                    }
                } else {
                    for i in 0..<hw {
                        let cell = src + i * block
                        for ch in 0..<channels { cell[ch] = rows[ch * hw + i] }
                        for ch in channels..<block { cell[ch] = 0 }
                    }
                }
            }
        }
        return true
    }
}
