import QuantKernels

// Decoding of the IQ1/IQ2/IQ3 lattice formats eight weights at a time, shared by their dequantizers
// and fused dot products. Each format's `walk` hands every group of 8 weights to a closure as signed
// grid levels (IQ1: levels + delta, exact in F32) and the group's F32 scale; the weights are
// scale · lanes. That is the C dequantizers' arithmetic: `db * grid[j] * (±1)` rounds like
// `db * (±grid[j])` (round-to-nearest is symmetric), and IQ1's `dl * (grid[j] + delta)` is the same
// expression. So the dequantized floats equal gguf-py's bit for bit (BlockFormatOracleTests).

/// Grid entries widened to float lanes once (immutable after initialization, shared read-only).
private func lanes(_ grid: [UInt64]) -> UnsafePointer<FloatLanes> {
    let table = UnsafeMutablePointer<FloatLanes>.allocate(capacity: grid.count)
    for (i, g) in grid.enumerated() {
        table[i] = FloatLanes(SIMD8<Int32>(truncatingIfNeeded: unsafeBitCast(g.littleEndian, to: SIMD8<Int8>.self)))
    }
    return UnsafePointer(table)
}

private func lanes(_ grid: [UInt32]) -> UnsafePointer<SIMD4<Float>> {
    let table = UnsafeMutablePointer<SIMD4<Float>>.allocate(capacity: grid.count)
    for (i, g) in grid.enumerated() {
        table[i] = SIMD4<Float>(SIMD4<Int32>(truncatingIfNeeded: unsafeBitCast(g.littleEndian, to: SIMD4<UInt8>.self)))
    }
    return UnsafePointer(table)
}

// IQ2/IQ3 levels are below 128, so reading them as signed bytes is exact; IQ1's are −1, 0, 1.
nonisolated(unsafe) private let iq2xxsLanes = lanes(iq2xxsGrid)
nonisolated(unsafe) private let iq2xsLanes = lanes(iq2xsGrid)
nonisolated(unsafe) private let iq2sLanes = lanes(iq2sGrid)
nonisolated(unsafe) private let iq1sLanes = lanes(iq1sGrid)
nonisolated(unsafe) private let iq3xxsLanes = lanes(iq3xxsGrid)
nonisolated(unsafe) private let iq3sLanes = lanes(iq3sGrid)

/// ±1 per bit of a sign byte (bit j set: lane j is −1).
nonisolated(unsafe) private let signLanes: UnsafePointer<FloatLanes> = {
    let table = UnsafeMutablePointer<FloatLanes>.allocate(capacity: 256)
    for s in 0..<256 {
        var v = FloatLanes(repeating: 1)
        for j in 0..<8 where (s >> j) & 1 != 0 { v[j] = -1 }
        table[s] = v
    }
    return UnsafePointer(table)
}()

/// Sign lanes of a 7-bit field plus its parity bit (`ksigns_iq2xs`).
@inline(__always)
private func paritySigns(_ s: UInt32) -> FloatLanes { signLanes[Int(iq2Signs(UInt8(truncatingIfNeeded: s & 127)))] }

@inline(__always)
private func u32(_ b: UnsafeRawPointer, _ offset: Int) -> UInt32 {
    UInt32(littleEndian: b.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
}

/// The group walkers: `body(g, lanes, scale)` for the 32 groups of 8 of one 256-weight block at `b`.
enum IQWalk {
    @inline(__always)
    static func iq2_xxs(_ b: UnsafeRawPointer, _ body: (Int, FloatLanes, Float) -> Void) {
        let d = fp16Value(loadUInt16(b, 0))
        for ib32 in 0..<8 {
            let indices = u32(b, 2 + 8 * ib32), high = u32(b, 6 + 8 * ib32)
            let db = d * (0.5 + Float(high >> 28)) * 0.25
            for l in 0..<4 {
                body(4 * ib32 + l, iq2xxsLanes[Int((indices >> (8 * UInt32(l))) & 0xFF)] * paritySigns(high >> (7 * UInt32(l))), db)
            }
        }
    }

    @inline(__always)
    static func iq2_xs(_ b: UnsafeRawPointer, _ body: (Int, FloatLanes, Float) -> Void) {
        let d = fp16Value(loadUInt16(b, 0))
        for ib32 in 0..<8 {
            let sc = b.load(fromByteOffset: 66 + ib32, as: UInt8.self)
            let db0 = d * (0.5 + Float(sc & 0xF)) * 0.25, db1 = d * (0.5 + Float(sc >> 4)) * 0.25
            for l in 0..<4 {
                let q = loadUInt16(b, 2 + 2 * (4 * ib32 + l))
                body(4 * ib32 + l, iq2xsLanes[Int(q & 511)] * paritySigns(UInt32(q >> 9)), l < 2 ? db0 : db1)
            }
        }
    }

    @inline(__always)
    static func iq2_s(_ b: UnsafeRawPointer, _ body: (Int, FloatLanes, Float) -> Void) {
        let d = fp16Value(loadUInt16(b, 0))
        let bytes = b.assumingMemoryBound(to: UInt8.self)
        for ib32 in 0..<8 {
            let sc = bytes[74 + ib32], h = Int(bytes[66 + ib32])
            let db0 = d * (0.5 + Float(sc & 0xF)) * 0.25, db1 = d * (0.5 + Float(sc >> 4)) * 0.25
            for l in 0..<4 {
                let g = 4 * ib32 + l
                let index = Int(bytes[2 + g]) | ((h << (8 - 2 * l)) & 0x300)
                body(g, iq2sLanes[index] * signLanes[Int(bytes[34 + g])], l < 2 ? db0 : db1)
            }
        }
    }

    @inline(__always)
    static func iq3_xxs(_ b: UnsafeRawPointer, _ body: (Int, FloatLanes, Float) -> Void) {
        let d = fp16Value(loadUInt16(b, 0))
        let qs = b.assumingMemoryBound(to: UInt8.self) + 2
        for ib32 in 0..<8 {
            let aux = u32(b, 66 + 4 * ib32)
            let db = d * (0.5 + Float(aux >> 28)) * 0.5
            for l in 0..<4 {
                let g = 4 * ib32 + l
                let grid = FloatLanes(lowHalf: iq3xxsLanes[Int(qs[2 * g])], highHalf: iq3xxsLanes[Int(qs[2 * g + 1])])
                body(g, grid * paritySigns(aux >> (7 * UInt32(l))), db)
            }
        }
    }

    @inline(__always)
    static func iq3_s(_ b: UnsafeRawPointer, _ body: (Int, FloatLanes, Float) -> Void) {
        let d = fp16Value(loadUInt16(b, 0))
        let bytes = b.assumingMemoryBound(to: UInt8.self)
        for ib32 in 0..<8 {
            let sc = bytes[106 + ib32 / 2]
            let db = d * Float(1 + 2 * Int32(ib32 % 2 == 0 ? sc & 0xF : sc >> 4))
            let h = Int(bytes[66 + ib32])
            for l in 0..<4 {
                let g = 4 * ib32 + l
                let i1 = Int(bytes[2 + 2 * g]) | ((h << (8 - 2 * l)) & 256)
                let i2 = Int(bytes[3 + 2 * g]) | ((h << (7 - 2 * l)) & 256)
                body(g, FloatLanes(lowHalf: iq3sLanes[i1], highHalf: iq3sLanes[i2]) * signLanes[Int(bytes[74 + g])], db)
            }
        }
    }

    @inline(__always)
    static func iq1_s(_ b: UnsafeRawPointer, _ body: (Int, FloatLanes, Float) -> Void) {
        let d = fp16Value(loadUInt16(b, 0))
        let qs = b.assumingMemoryBound(to: UInt8.self) + 2
        for ib in 0..<8 {
            let qh = Int(loadUInt16(b, 34 + 2 * ib))
            let dl = d * Float(2 * ((qh >> 12) & 7) + 1)
            let delta = FloatLanes(repeating: qh & 0x8000 != 0 ? -iq1Delta : iq1Delta)
            for l in 0..<4 {
                body(4 * ib + l, iq1sLanes[Int(qs[4 * ib + l]) | (((qh >> (3 * l)) & 7) << 8)] + delta, dl)
            }
        }
    }

    @inline(__always)
    static func iq1_m(_ b: UnsafeRawPointer, _ body: (Int, FloatLanes, Float) -> Void) {
        let bytes = b.assumingMemoryBound(to: UInt8.self)
        let sc0 = Int(loadUInt16(b, 48)), sc1 = Int(loadUInt16(b, 50)), sc2 = Int(loadUInt16(b, 52)), sc3 = Int(loadUInt16(b, 54))
        let dBits = (sc0 >> 12) | ((sc1 >> 8) & 0x00F0) | ((sc2 >> 4) & 0x0F00) | (sc3 & 0xF000)
        let d = fp16Value(UInt16(dBits))
        for ib in 0..<8 {
            let s = ib < 4 ? (ib < 2 ? sc0 : sc1) : (ib < 6 ? sc2 : sc3)
            let dl1 = d * Float(2 * ((s >> (6 * (ib % 2))) & 7) + 1)
            let dl2 = d * Float(2 * ((s >> (6 * (ib % 2) + 3)) & 7) + 1)
            for l in 0..<4 {
                let h = Int(bytes[32 + 2 * ib + l / 2])
                let shift = l % 2 == 0 ? 8 : 4
                let index = Int(bytes[4 * ib + l]) | ((h << shift) & 0x700)
                let negative = h & (l % 2 == 0 ? 0x08 : 0x80) != 0
                body(4 * ib + l, iq1sLanes[index] + FloatLanes(repeating: negative ? -iq1Delta : iq1Delta), l < 2 ? dl1 : dl2)
            }
        }
    }
}

/// Dequantize and dot with the walkers, for any IQ lattice format.
enum IQRows {
    typealias Walk = (UnsafeRawPointer, (Int, FloatLanes, Float) -> Void) -> Void

    @inline(__always)
    static func dequantize(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>, blockBytes: Int, _ walk: Walk) {
        for block in 0..<(count / 256) {
            let out = UnsafeMutableRawPointer(x + 256 * block)
            walk(y + blockBytes * block) { g, lanes, scale in
                out.storeBytes(of: scale * lanes, toByteOffset: 32 * g, as: FloatLanes.self)
            }
        }
    }

    @inline(__always)
    static func dot<Vector: DotVector>(
        _ y: UnsafeRawPointer, _ v: UnsafePointer<Vector.Element>, count: Int, blockBytes: Int, vector: Vector.Type, _ walk: Walk
    ) -> Float {
        var even = FloatLanes(), odd = FloatLanes()
        for block in 0..<(count / 256) {
            let vb = v + 256 * block
            walk(y + blockBytes * block) { g, lanes, scale in
                let product = (scale * lanes) * Vector.lanes(vb + 8 * g)
                if g % 2 == 0 { even += product } else { odd += product }
            }
        }
        return (even + odd).sum()
    }
}

// MARK: - Fused dot products (the decoded weights times the vector, summed in lanes)

extension IQ2_XXS: DotProductFormat {
    public static func dot(_ blocks: UnsafeRawPointer, _ vector: UnsafePointer<Float>, count: Int) -> Float {
        IQRows.dot(blocks, vector, count: count, blockBytes: 66, vector: F32Vector.self, IQWalk.iq2_xxs)
    }
    public static func dot(_ blocks: UnsafeRawPointer, bf16 vector: UnsafePointer<UInt16>, count: Int) -> Float {
        IQRows.dot(blocks, vector, count: count, blockBytes: 66, vector: BF16Vector.self, IQWalk.iq2_xxs)
    }
}

extension IQ2_XS: DotProductFormat {
    public static func dot(_ blocks: UnsafeRawPointer, _ vector: UnsafePointer<Float>, count: Int) -> Float {
        IQRows.dot(blocks, vector, count: count, blockBytes: 74, vector: F32Vector.self, IQWalk.iq2_xs)
    }
    public static func dot(_ blocks: UnsafeRawPointer, bf16 vector: UnsafePointer<UInt16>, count: Int) -> Float {
        IQRows.dot(blocks, vector, count: count, blockBytes: 74, vector: BF16Vector.self, IQWalk.iq2_xs)
    }
}

extension IQ2_S: DotProductFormat {
    public static func dot(_ blocks: UnsafeRawPointer, _ vector: UnsafePointer<Float>, count: Int) -> Float {
        IQRows.dot(blocks, vector, count: count, blockBytes: 82, vector: F32Vector.self, IQWalk.iq2_s)
    }
    public static func dot(_ blocks: UnsafeRawPointer, bf16 vector: UnsafePointer<UInt16>, count: Int) -> Float {
        IQRows.dot(blocks, vector, count: count, blockBytes: 82, vector: BF16Vector.self, IQWalk.iq2_s)
    }
}

extension IQ3_XXS: DotProductFormat {
    public static func dot(_ blocks: UnsafeRawPointer, _ vector: UnsafePointer<Float>, count: Int) -> Float {
        IQRows.dot(blocks, vector, count: count, blockBytes: 98, vector: F32Vector.self, IQWalk.iq3_xxs)
    }
    public static func dot(_ blocks: UnsafeRawPointer, bf16 vector: UnsafePointer<UInt16>, count: Int) -> Float {
        IQRows.dot(blocks, vector, count: count, blockBytes: 98, vector: BF16Vector.self, IQWalk.iq3_xxs)
    }
}

extension IQ3_S: DotProductFormat {
    public static func dot(_ blocks: UnsafeRawPointer, _ vector: UnsafePointer<Float>, count: Int) -> Float {
        IQRows.dot(blocks, vector, count: count, blockBytes: 110, vector: F32Vector.self, IQWalk.iq3_s)
    }
    public static func dot(_ blocks: UnsafeRawPointer, bf16 vector: UnsafePointer<UInt16>, count: Int) -> Float {
        IQRows.dot(blocks, vector, count: count, blockBytes: 110, vector: BF16Vector.self, IQWalk.iq3_s)
    }
}

extension IQ1_S: DotProductFormat {
    public static func dot(_ blocks: UnsafeRawPointer, _ vector: UnsafePointer<Float>, count: Int) -> Float {
        IQRows.dot(blocks, vector, count: count, blockBytes: 50, vector: F32Vector.self, IQWalk.iq1_s)
    }
    public static func dot(_ blocks: UnsafeRawPointer, bf16 vector: UnsafePointer<UInt16>, count: Int) -> Float {
        IQRows.dot(blocks, vector, count: count, blockBytes: 50, vector: BF16Vector.self, IQWalk.iq1_s)
    }
}

extension IQ1_M: DotProductFormat {
    public static func dot(_ blocks: UnsafeRawPointer, _ vector: UnsafePointer<Float>, count: Int) -> Float {
        IQRows.dot(blocks, vector, count: count, blockBytes: 56, vector: F32Vector.self, IQWalk.iq1_m)
    }
    public static func dot(_ blocks: UnsafeRawPointer, bf16 vector: UnsafePointer<UInt16>, count: Int) -> Float {
        IQRows.dot(blocks, vector, count: count, blockBytes: 56, vector: BF16Vector.self, IQWalk.iq1_m)
    }
}

// MARK: - Dequantizers (eight lanes per step; bit-identical to the scalar references)

extension IQ2_XXS {
    public static func dequantizeRow(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        IQRows.dequantize(y, count: count, into: x, blockBytes: 66, IQWalk.iq2_xxs)
    }
}

extension IQ2_XS {
    public static func dequantizeRow(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        IQRows.dequantize(y, count: count, into: x, blockBytes: 74, IQWalk.iq2_xs)
    }
}

extension IQ2_S {
    public static func dequantizeRow(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        IQRows.dequantize(y, count: count, into: x, blockBytes: 82, IQWalk.iq2_s)
    }
}

extension IQ3_XXS {
    public static func dequantizeRow(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        IQRows.dequantize(y, count: count, into: x, blockBytes: 98, IQWalk.iq3_xxs)
    }
}

extension IQ3_S {
    public static func dequantizeRow(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        IQRows.dequantize(y, count: count, into: x, blockBytes: 110, IQWalk.iq3_s)
    }
}

extension IQ1_S {
    public static func dequantizeRow(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        IQRows.dequantize(y, count: count, into: x, blockBytes: 50, IQWalk.iq1_s)
    }
}

extension IQ1_M {
    public static func dequantizeRow(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        IQRows.dequantize(y, count: count, into: x, blockBytes: 56, IQWalk.iq1_m)
    }
}
