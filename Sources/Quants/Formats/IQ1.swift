import QuantKernels

// The ternary formats of ggml (`block_iq1_s`, `block_iq1_m`; `dequantize_row_iq1_*`,
// `quantize_row_iq1_s_impl`, `quantize_row_iq1_m_impl`, llama.cpp commit 0c1e570): groups of 8 weights
// are one of 2048 points of {−1, 0, 1}⁸ (`iq1s_grid`) shifted by ±`IQ1S_DELTA` (0.125) and scaled by
// `d·(2s + 1)`. The quantizers (QuantKernels' IQ1Quantizer.swift, built per SIMD level) solve the
// 3-level split exactly over the sorted weights, then snap to the grid. Layouts: formats/blocks.md.

/// IQ1_S: 256 weights, 50 bytes (1.5625 bpw): F16 `d`, 32 low bytes of 11-bit grid indices, 8 u16 per
/// 32 weights: bits 0–11 the indices' high 3 bits (per group of 8), 12–14 the scale, 15 the delta's sign.
///
/// llama.cpp refuses to quantize it without importance weights; moepack then uses weights of 1.
package enum IQ1_S: BlockFormat {
    package static let type = GGMLType.iq1_s

    /// The C loop transcribed (`dequantize_row_*`), scalar: the reference the lane decoder is tested against.
    package static func dequantizeRowReference(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        iq1sGrid.withUnsafeBufferPointer { grid in
            for i in 0..<(count / 256) {
                let b = y + 50 * i
                let qs = b.assumingMemoryBound(to: UInt8.self) + 2
                let d = fp16Value(loadUInt16(b, 0))
                for ib in 0..<8 {
                    let qh = Int(loadUInt16(b, 34 + 2 * ib))
                    let dl = d * Float(2 * ((qh >> 12) & 7) + 1)
                    let delta = qh & 0x8000 != 0 ? -iq1Delta : iq1Delta
                    for l in 0..<4 {
                        let g = grid[Int(qs[4 * ib + l]) | (((qh >> (3 * l)) & 7) << 8)]
                        writeTernaryRow(g, dl, delta, x + 256 * i + 32 * ib + 8 * l)
                    }
                }
            }
        }
    }

}

/// IQ1_M: 256 weights, 56 bytes (1.75 bpw): 32 low bytes of grid indices, 16 bytes (per 16 weights:
/// two 3-bit index highs, each with a delta-sign bit at bit 3), 8 bytes = four u16 holding 3-bit
/// scales (one per 16 weights, bits 0–11) and, in their top nibbles, the F16 `d`.
package enum IQ1_M: BlockFormat {
    package static let type = GGMLType.iq1_m

    /// The C loop transcribed (`dequantize_row_*`), scalar: the reference the lane decoder is tested against.
    package static func dequantizeRowReference(_ y: UnsafeRawPointer, count: Int, into x: UnsafeMutablePointer<Float>) {
        iq1sGrid.withUnsafeBufferPointer { grid in
            for i in 0..<(count / 256) {
                let b = y + 56 * i
                let qs = b.assumingMemoryBound(to: UInt8.self), qh = qs + 32
                let sc = (0..<4).map { loadUInt16(b, 48 + 2 * $0) }
                let dBits = (sc[0] >> 12) | ((sc[1] >> 8) & 0x00F0) | ((sc[2] >> 4) & 0x0F00) | (sc[3] & 0xF000)
                let d = fp16Value(dBits)
                for ib in 0..<8 {
                    let s = Int(sc[ib / 2])
                    let dl1 = d * Float(2 * ((s >> (6 * (ib % 2))) & 7) + 1)
                    let dl2 = d * Float(2 * ((s >> (6 * (ib % 2) + 3)) & 7) + 1)
                    let h0 = Int(qh[2 * ib]), h1 = Int(qh[2 * ib + 1])
                    let index = [
                        Int(qs[4 * ib]) | ((h0 << 8) & 0x700), Int(qs[4 * ib + 1]) | ((h0 << 4) & 0x700),
                        Int(qs[4 * ib + 2]) | ((h1 << 8) & 0x700), Int(qs[4 * ib + 3]) | ((h1 << 4) & 0x700),
                    ]
                    let delta = [h0 & 0x08, h0 & 0x80, h1 & 0x08, h1 & 0x80].map { $0 != 0 ? -iq1Delta : iq1Delta }
                    for l in 0..<4 {
                        writeTernaryRow(grid[index[l]], l < 2 ? dl1 : dl2, delta[l], x + 256 * i + 32 * ib + 8 * l)
                    }
                }
            }
        }
    }
}

/// Eight weights `dl · (grid level + delta)`, as `dequantize_row_iq1_*` computes them.
@inline(__always)
func writeTernaryRow(_ g: UInt64, _ dl: Float, _ delta: Float, _ y: UnsafeMutablePointer<Float>) {
    for j in 0..<8 {
        let level = Float(Int8(truncatingIfNeeded: g >> (8 * UInt64(j))))
        y[j] = dl * (level + delta)
    }
}
