import QuantKernels

// The 3-bit lattice formats of ggml (`block_iq3_xxs`, `block_iq3_s`; `dequantize_row_iq3_*`,
// `quantize_row_iq3_xxs_impl`, `quantize_row_iq3_s_impl`, llama.cpp commit 0c1e570): groups of 4
// weights are one point of a D4-style grid (`iq3xxs_grid` 256 points, `iq3s_grid` 512) times signs.
// The quantizers are QuantKernels' IQ3Quantizer.swift, built per SIMD level. Layouts: formats/blocks.md.

/// IQ3_XXS: 256 weights, 98 bytes (3.0625 bpw): F16 `d`, 64 grid indices (one byte per 4 weights),
/// then per 32 weights a u32 of four 7-bit sign fields and a 4-bit scale at bits 28–31.
package enum IQ3_XXS: BlockFormat {
    package static let type = GGMLType.iq3_xxs

    /// The C loop transcribed (`dequantize_row_*`), scalar: the reference the lane decoder is tested against.
    package static func dequantizeRowReference(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        iq3xxsGrid.withUnsafeBufferPointer { grid in
            for i in 0..<(count / 256) {
                let b = y + 98 * i
                let qs = b.assumingMemoryBound(to: UInt8.self) + 2
                let d = fp16Value(loadUInt16(b, 0))
                for ib32 in 0..<8 {
                    let aux = b.loadUnaligned(fromByteOffset: 66 + 4 * ib32, as: UInt32.self).littleEndian
                    let db = d * (0.5 + Float(aux >> 28)) * 0.5
                    for l in 0..<4 {
                        let signs = iq2Signs(UInt8((aux >> (7 * UInt32(l))) & 127))
                        let g = UInt64(grid[Int(qs[8 * ib32 + 2 * l])]) | UInt64(grid[Int(qs[8 * ib32 + 2 * l + 1])]) << 32
                        writeGridRow(g, signs, db, x + 256 * i + 32 * ib32 + 8 * l)
                    }
                }
            }
        }
    }
}

/// IQ3_S: 256 weights, 110 bytes (3.4375 bpw): F16 `d`, 64 low bytes of 9-bit grid indices, 8 bytes of
/// index high bits (one per 4 weights), 32 sign bytes, 4 bytes of two 4-bit scales (one per 32 weights,
/// `d·(1 + 2s)`).
package enum IQ3_S: BlockFormat {
    package static let type = GGMLType.iq3_s

    /// The C loop transcribed (`dequantize_row_*`), scalar: the reference the lane decoder is tested against.
    package static func dequantizeRowReference(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        iq3sGrid.withUnsafeBufferPointer { grid in
            for i in 0..<(count / 256) {
                let b = (y + 110 * i).assumingMemoryBound(to: UInt8.self)
                let d = fp16Value(loadUInt16(UnsafeRawPointer(b), 0))
                let qs = b + 2, qh = b + 66, signs = b + 74, scales = b + 106
                for ib32 in 0..<8 {
                    let s = ib32 % 2 == 0 ? scales[ib32 / 2] & 0xF : scales[ib32 / 2] >> 4
                    let db = d * Float(1 + 2 * Int32(s))
                    let h = Int(qh[ib32])
                    for l in 0..<4 {
                        let i1 = Int(qs[8 * ib32 + 2 * l]) | ((h << (8 - 2 * l)) & 256)
                        let i2 = Int(qs[8 * ib32 + 2 * l + 1]) | ((h << (7 - 2 * l)) & 256)
                        let g = UInt64(grid[i1]) | UInt64(grid[i2]) << 32
                        writeGridRow(g, signs[4 * ib32 + l], db, x + 256 * i + 32 * ib32 + 8 * l)
                    }
                }
            }
        }
    }
}
