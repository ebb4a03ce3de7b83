import QuantKernels

// The 2-bit lattice formats of ggml (ggml-common.h `block_iq2_xxs`, `block_iq2_xs`, `block_iq2_s`;
// ggml-quants.c `dequantize_row_iq2_*`, `quantize_row_iq2_*_impl`, llama.cpp commit 0c1e570). Weights
// come in groups of 8 that are one point of an E8-style grid of levels {8, 25, 43} (`iq2*_grid`) times
// signs, scaled by `d·(0.5 + s)·0.25` per 32 (IQ2_XXS) or 16 (IQ2_XS, IQ2_S) weights. The quantizers
// are QuantKernels' IQ2Quantizer.swift, built per SIMD level. Layouts: formats/blocks.md.

/// IQ2_XXS: 256 weights, 66 bytes (2.0625 bpw): F16 `d`, then per 32 weights two u32: four 8-bit grid
/// indices, and four 7-bit sign fields (bit 7 of each sign byte is the parity) plus a 4-bit scale at bits 28–31.
///
/// llama.cpp refuses to quantize it without importance weights; moepack then uses weights of 1.
package enum IQ2_XXS: BlockFormat {
    package static let type = GGMLType.iq2_xxs

    /// The C loop transcribed (`dequantize_row_*`), scalar: the reference the lane decoder is tested against.
    package static func dequantizeRowReference(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        iq2xxsGrid.withUnsafeBufferPointer { grid in
            for i in 0..<(count / 256) {
                let b = y + 66 * i
                let d = fp16Value(loadUInt16(b, 0))
                for ib32 in 0..<8 {
                    let indices = b.loadUnaligned(fromByteOffset: 2 + 8 * ib32, as: UInt32.self).littleEndian
                    let high = b.loadUnaligned(fromByteOffset: 6 + 8 * ib32, as: UInt32.self).littleEndian
                    let db = d * (0.5 + Float(high >> 28)) * 0.25
                    for l in 0..<4 {
                        let g = grid[Int((indices >> (8 * UInt32(l))) & 0xFF)]
                        let signs = iq2Signs(UInt8((high >> (7 * UInt32(l))) & 127))
                        writeGridRow(g, signs, db, x + 256 * i + 32 * ib32 + 8 * l)
                    }
                }
            }
        }
    }
}

/// IQ2_XS: 256 weights, 74 bytes (2.3125 bpw): F16 `d`, 32 u16 (9-bit grid index, 7-bit signs),
/// 8 bytes of two 4-bit scales (one per 16 weights).
///
/// llama.cpp refuses to quantize it without importance weights; moepack then uses weights of 1.
package enum IQ2_XS: BlockFormat {
    package static let type = GGMLType.iq2_xs

    /// The C loop transcribed (`dequantize_row_*`), scalar: the reference the lane decoder is tested against.
    package static func dequantizeRowReference(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        iq2xsGrid.withUnsafeBufferPointer { grid in
            for i in 0..<(count / 256) {
                let b = y + 74 * i
                let d = fp16Value(loadUInt16(b, 0))
                for ib32 in 0..<8 {
                    let sc = b.load(fromByteOffset: 66 + ib32, as: UInt8.self)
                    let db0 = d * (0.5 + Float(sc & 0xF)) * 0.25
                    let db1 = d * (0.5 + Float(sc >> 4)) * 0.25
                    for l in 0..<4 {
                        let q = loadUInt16(b, 2 + 2 * (4 * ib32 + l))
                        writeGridRow(grid[Int(q & 511)], iq2Signs(UInt8(q >> 9)), l < 2 ? db0 : db1, x + 256 * i + 32 * ib32 + 8 * l)
                    }
                }
            }
        }
    }
}

/// IQ2_S: 256 weights, 82 bytes (2.5625 bpw): F16 `d`, 32 low bytes of 10-bit grid indices, 32 sign
/// bytes, 8 bytes of index high bits (2 per group of 8), 8 bytes of two 4-bit scales.
package enum IQ2_S: BlockFormat {
    package static let type = GGMLType.iq2_s

    /// The C loop transcribed (`dequantize_row_*`), scalar: the reference the lane decoder is tested against.
    package static func dequantizeRowReference(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        iq2sGrid.withUnsafeBufferPointer { grid in
            for i in 0..<(count / 256) {
                let b = (y + 82 * i).assumingMemoryBound(to: UInt8.self)
                let d = fp16Value(loadUInt16(UnsafeRawPointer(b), 0))
                let qs = b + 2, signs = b + 34, qh = b + 66, scales = b + 74
                for ib32 in 0..<8 {
                    let db0 = d * (0.5 + Float(scales[ib32] & 0xF)) * 0.25
                    let db1 = d * (0.5 + Float(scales[ib32] >> 4)) * 0.25
                    for l in 0..<4 {
                        let index = Int(qs[4 * ib32 + l]) | ((Int(qh[ib32]) << (8 - 2 * l)) & 0x300)
                        writeGridRow(grid[index], signs[4 * ib32 + l], l < 2 ? db0 : db1, x + 256 * i + 32 * ib32 + 8 * l)
                    }
                }
            }
        }
    }
}

/// Eight weights `db · grid byte · (±1)`, as `dequantize_row_iq2_*` computes them.
@inline(__always)
func writeGridRow(_ g: UInt64, _ signs: UInt8, _ db: Float, _ y: UnsafeMutablePointer<Float>) {
    for j in 0..<8 {
        let level = Float(UInt8(truncatingIfNeeded: g >> (8 * UInt64(j))))
        y[j] = db * level * ((signs >> UInt8(j)) & 1 != 0 ? -1 : 1)
    }
}
