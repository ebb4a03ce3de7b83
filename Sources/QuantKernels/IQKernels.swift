// Decoding of the IQ1/IQ2/IQ3 lattice formats eight weights at a time, shared by their dequantizers
// and fused dot products, compiled for baseline CPUs here and again for AVX2 in QuantKernelsAVX2.
// Each walker hands every group of 8 weights of a 256-weight block to a closure as signed grid
// levels (IQ1: levels + delta, exact in F32) and the group's F32 scale; the weights are
// scale · lanes. That is the C dequantizers' arithmetic: `db * grid[j] * (±1)` rounds like
// `db * (±grid[j])` (round-to-nearest is symmetric), and IQ1's `dl * (grid[j] + delta)` is the same
// expression. So the floats equal gguf-py's bit for bit (BlockFormatOracleTests). Layouts:
// formats/blocks.md; the scalar transcriptions of the C loops are Quants' `dequantizeRowReference`.

/// `ksigns_iq2xs[s]`: the 7 stored sign bits plus their parity as bit 7.
@inlinable @inline(__always)
public func iq2Signs(_ s: UInt8) -> UInt8 { s | UInt8(s.nonzeroBitCount & 1) << 7 }

/// IQ1's `IQ1S_DELTA` (also IQ1_M's).
@inlinable public var iq1Delta: Float { 0.125 }

/// Grid entries widened to float lanes once (immutable after initialization, shared read-only).
func lanes(_ grid: [UInt64]) -> UnsafePointer<FloatLanes> {
    let table = UnsafeMutablePointer<FloatLanes>.allocate(capacity: grid.count)
    for (i, g) in grid.enumerated() {
        table[i] = FloatLanes(SIMD8<Int32>(truncatingIfNeeded: unsafeBitCast(g.littleEndian, to: SIMD8<Int8>.self)))
    }
    return UnsafePointer(table)
}

func lanes(_ grid: [UInt32]) -> UnsafePointer<SIMD4<Float>> {
    let table = UnsafeMutablePointer<SIMD4<Float>>.allocate(capacity: grid.count)
    for (i, g) in grid.enumerated() {
        table[i] = SIMD4<Float>(SIMD4<Int32>(truncatingIfNeeded: unsafeBitCast(g.littleEndian, to: SIMD4<UInt8>.self)))
    }
    return UnsafePointer(table)
}

// IQ2/IQ3 levels are below 128, so reading them as signed bytes is exact; IQ1's are −1, 0, 1.
@usableFromInline nonisolated(unsafe) let iq2xxsLanes = lanes(iq2xxsGrid)
@usableFromInline nonisolated(unsafe) let iq2xsLanes = lanes(iq2xsGrid)
@usableFromInline nonisolated(unsafe) let iq2sLanes = lanes(iq2sGrid)
@usableFromInline nonisolated(unsafe) let iq1sLanes = lanes(iq1sGrid)
@usableFromInline nonisolated(unsafe) let iq3xxsLanes = lanes(iq3xxsGrid)
@usableFromInline nonisolated(unsafe) let iq3sLanes = lanes(iq3sGrid)

/// ±1 per bit of a sign byte (bit j set: lane j is −1).
@usableFromInline nonisolated(unsafe) let signLanes: UnsafePointer<FloatLanes> = {
    let table = UnsafeMutablePointer<FloatLanes>.allocate(capacity: 256)
    for s in 0..<256 {
        var v = FloatLanes(repeating: 1)
        for j in 0..<8 where (s >> j) & 1 != 0 { v[j] = -1 }
        table[s] = v
    }
    return UnsafePointer(table)
}()

/// Sign lanes of a 7-bit field plus its parity bit (`ksigns_iq2xs`).
@inlinable @inline(__always)
func paritySigns(_ s: UInt32, _ signs: UnsafePointer<FloatLanes>) -> FloatLanes {
    signs[Int(iq2Signs(UInt8(truncatingIfNeeded: s & 127)))]
}

@inlinable @inline(__always)
func u32(_ b: UnsafeRawPointer, _ offset: Int) -> UInt32 {
    UInt32(littleEndian: b.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
}

/// The group walkers: `body(g, lanes, scale)` for the 32 groups of 8 of one 256-weight block at `b`.
public enum IQWalk {
    @inlinable @inline(__always)
    public static func iq2_xxs<Half: HalfFloatConversion>(_ b: UnsafeRawPointer, half: Half.Type, _ body: (Int, FloatLanes, Float) -> Void) {
        let grid = iq2xxsLanes, signs = signLanes  // one global access per block, not per group
        let d = Half.value(loadUInt16(b, 0))
        for ib32 in 0..<8 {
            let indices = u32(b, 2 + 8 * ib32), high = u32(b, 6 + 8 * ib32)
            let db = d * (0.5 + Float(high >> 28)) * 0.25
            for l in 0..<4 {
                body(4 * ib32 + l, grid[Int((indices >> (8 * UInt32(l))) & 0xFF)] * paritySigns(high >> (7 * UInt32(l)), signs), db)
            }
        }
    }

    @inlinable @inline(__always)
    public static func iq2_xs<Half: HalfFloatConversion>(_ b: UnsafeRawPointer, half: Half.Type, _ body: (Int, FloatLanes, Float) -> Void) {
        let grid = iq2xsLanes, signs = signLanes  // one global access per block, not per group
        let d = Half.value(loadUInt16(b, 0))
        for ib32 in 0..<8 {
            let sc = b.load(fromByteOffset: 66 + ib32, as: UInt8.self)
            let db0 = d * (0.5 + Float(sc & 0xF)) * 0.25, db1 = d * (0.5 + Float(sc >> 4)) * 0.25
            for l in 0..<4 {
                let q = loadUInt16(b, 2 + 2 * (4 * ib32 + l))
                body(4 * ib32 + l, grid[Int(q & 511)] * paritySigns(UInt32(q >> 9), signs), l < 2 ? db0 : db1)
            }
        }
    }

    @inlinable @inline(__always)
    public static func iq2_s<Half: HalfFloatConversion>(_ b: UnsafeRawPointer, half: Half.Type, _ body: (Int, FloatLanes, Float) -> Void) {
        let grid = iq2sLanes, signs = signLanes  // one global access per block, not per group
        let d = Half.value(loadUInt16(b, 0))
        let bytes = b.assumingMemoryBound(to: UInt8.self)
        for ib32 in 0..<8 {
            let sc = bytes[74 + ib32], h = Int(bytes[66 + ib32])
            let db0 = d * (0.5 + Float(sc & 0xF)) * 0.25, db1 = d * (0.5 + Float(sc >> 4)) * 0.25
            for l in 0..<4 {
                let g = 4 * ib32 + l
                let index = Int(bytes[2 + g]) | ((h << (8 - 2 * l)) & 0x300)
                body(g, grid[index] * signs[Int(bytes[34 + g])], l < 2 ? db0 : db1)
            }
        }
    }

    @inlinable @inline(__always)
    public static func iq3_xxs<Half: HalfFloatConversion>(_ b: UnsafeRawPointer, half: Half.Type, _ body: (Int, FloatLanes, Float) -> Void) {
        let grid = iq3xxsLanes, signs = signLanes  // one global access per block, not per group
        let d = Half.value(loadUInt16(b, 0))
        let qs = b.assumingMemoryBound(to: UInt8.self) + 2
        for ib32 in 0..<8 {
            let aux = u32(b, 66 + 4 * ib32)
            let db = d * (0.5 + Float(aux >> 28)) * 0.5
            for l in 0..<4 {
                let g = 4 * ib32 + l
                let point = FloatLanes(lowHalf: grid[Int(qs[2 * g])], highHalf: grid[Int(qs[2 * g + 1])])
                body(g, point * paritySigns(aux >> (7 * UInt32(l)), signs), db)
            }
        }
    }

    @inlinable @inline(__always)
    public static func iq3_s<Half: HalfFloatConversion>(_ b: UnsafeRawPointer, half: Half.Type, _ body: (Int, FloatLanes, Float) -> Void) {
        let grid = iq3sLanes, signs = signLanes  // one global access per block, not per group
        let d = Half.value(loadUInt16(b, 0))
        let bytes = b.assumingMemoryBound(to: UInt8.self)
        for ib32 in 0..<8 {
            let sc = bytes[106 + ib32 / 2]
            let db = d * Float(1 + 2 * Int32(ib32 % 2 == 0 ? sc & 0xF : sc >> 4))
            let h = Int(bytes[66 + ib32])
            for l in 0..<4 {
                let g = 4 * ib32 + l
                let i1 = Int(bytes[2 + 2 * g]) | ((h << (8 - 2 * l)) & 256)
                let i2 = Int(bytes[3 + 2 * g]) | ((h << (7 - 2 * l)) & 256)
                body(g, FloatLanes(lowHalf: grid[i1], highHalf: grid[i2]) * signs[Int(bytes[74 + g])], db)
            }
        }
    }

    @inlinable @inline(__always)
    public static func iq1_s<Half: HalfFloatConversion>(_ b: UnsafeRawPointer, half: Half.Type, _ body: (Int, FloatLanes, Float) -> Void) {
        let grid = iq1sLanes  // one global access per block, not per group
        let d = Half.value(loadUInt16(b, 0))
        let qs = b.assumingMemoryBound(to: UInt8.self) + 2
        for ib in 0..<8 {
            let qh = Int(loadUInt16(b, 34 + 2 * ib))
            let dl = d * Float(2 * ((qh >> 12) & 7) + 1)
            let delta = FloatLanes(repeating: qh & 0x8000 != 0 ? -iq1Delta : iq1Delta)
            for l in 0..<4 {
                body(4 * ib + l, grid[Int(qs[4 * ib + l]) | (((qh >> (3 * l)) & 7) << 8)] + delta, dl)
            }
        }
    }

    @inlinable @inline(__always)
    public static func iq1_m<Half: HalfFloatConversion>(_ b: UnsafeRawPointer, half: Half.Type, _ body: (Int, FloatLanes, Float) -> Void) {
        let grid = iq1sLanes  // one global access per block, not per group
        let bytes = b.assumingMemoryBound(to: UInt8.self)
        let sc0 = Int(loadUInt16(b, 48)), sc1 = Int(loadUInt16(b, 50)), sc2 = Int(loadUInt16(b, 52)), sc3 = Int(loadUInt16(b, 54))
        let dBits = (sc0 >> 12) | ((sc1 >> 8) & 0x00F0) | ((sc2 >> 4) & 0x0F00) | (sc3 & 0xF000)
        let d = Half.value(UInt16(dBits))
        for ib in 0..<8 {
            let s = ib < 4 ? (ib < 2 ? sc0 : sc1) : (ib < 6 ? sc2 : sc3)
            let dl1 = d * Float(2 * ((s >> (6 * (ib % 2))) & 7) + 1)
            let dl2 = d * Float(2 * ((s >> (6 * (ib % 2) + 3)) & 7) + 1)
            for l in 0..<4 {
                let h = Int(bytes[32 + 2 * ib + l / 2])
                let shift = l % 2 == 0 ? 8 : 4
                let index = Int(bytes[4 * ib + l]) | ((h << shift) & 0x700)
                // The delta's sign bit (bit 3 or 7 of h) moved into the float's sign: a select between
                // ±delta lanes compiled to a branch per 8 weights, taken at random (IQ1_M decoded at a
                // quarter of IQ1_S's rate).
                let sign = UInt32(truncatingIfNeeded: l % 2 == 0 ? (h & 0x08) << 28 : (h & 0x80) << 24)
                let delta = Float(bitPattern: iq1Delta.bitPattern | sign)
                body(4 * ib + l, grid[index] + FloatLanes(repeating: delta), l < 2 ? dl1 : dl2)
            }
        }
    }
}

/// Dequantize and dot with the walkers, for any IQ lattice format.
public enum IQRows {
    public typealias Walk = (UnsafeRawPointer, (Int, FloatLanes, Float) -> Void) -> Void

    @inlinable @inline(__always)
    public static func dequantize(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>, blockBytes: Int, _ walk: Walk) {
        for block in 0..<(count / 256) {
            let out = UnsafeMutableRawPointer(x + 256 * block)
            walk(y + blockBytes * block) { g, lanes, scale in
                out.storeBytes(of: scale * lanes, toByteOffset: 32 * g, as: FloatLanes.self)
            }
        }
    }

    @inlinable @inline(__always)
    public static func dot<Vector: DotVector>(
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


/// The seven lattice formats, for the row kernels below (Quants maps its `GGMLType`s onto these).
public enum IQLattice: Sendable, CaseIterable {
    case iq2_xxs, iq2_xs, iq2_s, iq3_xxs, iq3_s, iq1_s, iq1_m

    public var blockBytes: Int {
        switch self {
        case .iq2_xxs: 66
        case .iq2_xs: 74
        case .iq2_s: 82
        case .iq3_xxs: 98
        case .iq3_s: 110
        case .iq1_s: 50
        case .iq1_m: 56
        }
    }
}

extension IQRows {
    /// Decodes `blocks` 256-weight blocks of `lattice` (one switch per row, not per block).
    @inlinable @inline(__always)
    public static func dequantize<Half: HalfFloatConversion>(
        _ lattice: IQLattice, _ y: UnsafeRawPointer, blocks: Int, into x: UnsafeMutablePointer<Float>, half: Half.Type
    ) {
        let count = 256 * blocks, bytes = lattice.blockBytes
        switch lattice {
        case .iq2_xxs: dequantize(y, count: count, into: x, blockBytes: bytes) { IQWalk.iq2_xxs($0, half: Half.self, $1) }
        case .iq2_xs: dequantize(y, count: count, into: x, blockBytes: bytes) { IQWalk.iq2_xs($0, half: Half.self, $1) }
        case .iq2_s: dequantize(y, count: count, into: x, blockBytes: bytes) { IQWalk.iq2_s($0, half: Half.self, $1) }
        case .iq3_xxs: dequantize(y, count: count, into: x, blockBytes: bytes) { IQWalk.iq3_xxs($0, half: Half.self, $1) }
        case .iq3_s: dequantize(y, count: count, into: x, blockBytes: bytes) { IQWalk.iq3_s($0, half: Half.self, $1) }
        case .iq1_s: dequantize(y, count: count, into: x, blockBytes: bytes) { IQWalk.iq1_s($0, half: Half.self, $1) }
        case .iq1_m: dequantize(y, count: count, into: x, blockBytes: bytes) { IQWalk.iq1_m($0, half: Half.self, $1) }
        }
    }

    /// Σ w·v over `blocks` blocks of `lattice` and an F32 or BF16 vector.
    @inlinable @inline(__always)
    public static func dot<Half: HalfFloatConversion, Vector: DotVector>(
        _ lattice: IQLattice, _ y: UnsafeRawPointer, _ v: UnsafePointer<Vector.Element>, blocks: Int, half: Half.Type, vector: Vector.Type
    ) -> Float {
        let count = 256 * blocks, bytes = lattice.blockBytes
        switch lattice {
        case .iq2_xxs: return dot(y, v, count: count, blockBytes: bytes, vector: Vector.self) { IQWalk.iq2_xxs($0, half: Half.self, $1) }
        case .iq2_xs: return dot(y, v, count: count, blockBytes: bytes, vector: Vector.self) { IQWalk.iq2_xs($0, half: Half.self, $1) }
        case .iq2_s: return dot(y, v, count: count, blockBytes: bytes, vector: Vector.self) { IQWalk.iq2_s($0, half: Half.self, $1) }
        case .iq3_xxs: return dot(y, v, count: count, blockBytes: bytes, vector: Vector.self) { IQWalk.iq3_xxs($0, half: Half.self, $1) }
        case .iq3_s: return dot(y, v, count: count, blockBytes: bytes, vector: Vector.self) { IQWalk.iq3_s($0, half: Half.self, $1) }
        case .iq1_s: return dot(y, v, count: count, blockBytes: bytes, vector: Vector.self) { IQWalk.iq1_s($0, half: Half.self, $1) }
        case .iq1_m: return dot(y, v, count: count, blockBytes: bytes, vector: Vector.self) { IQWalk.iq1_m($0, half: Half.self, $1) }
        }
    }
}
