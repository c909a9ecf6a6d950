// Tensors kept in oneDNN's layouts between primitives, and the reorders that convert them.

import _CDNNL
import Foundation
import StrataTensor

/// A tensor layout chosen by a oneDNN primitive (usually `nChw16c`: channels in blocks of 16,
/// padded with zeros). Tensors in it convert to row-major when Swift code reads them.
final class DNNLLayout: TensorLayout, @unchecked Sendable {
    let md: MemoryDesc
    init(_ md: MemoryDesc) { self.md = md }

    func rowMajor(_ physical: TensorStorage, shape: [Int]) -> TensorStorage {
        let out = BufferPool.storage(bytes: shape.reduce(1, *) * 4)
        Reorders.convert(physical, from: md, into: out, to: .plain(shape))
        return out
    }

    func physical(fromRowMajor storage: TensorStorage, shape: [Int]) -> TensorStorage {
        Reorders.convert(storage, from: .plain(shape), to: md)
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
        lock.lock(); defer { lock.unlock() }
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
        if to.isPadded { out.pointer.initializeMemory(as: UInt8.self, repeating: 0, count: to.byteCount) }
        convert(buffer, from: from, into: out, to: to)
        return out
    }

    /// Converts `buffer` (layout `from`) into `destination` (layout `to`).
    static func convert(_ buffer: Buffer, from: MemoryDesc, into destination: Buffer, to: MemoryDesc) {
        let p = primitive(from: from, to: to)
        orTrap { try p.execute([.init(DNNL_ARG_FROM, from, buffer), .init(DNNL_ARG_TO, to, destination)]) }
    }
}
