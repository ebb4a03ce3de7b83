import QuantKernels

/// Dot products of a quantized row with an F32 vector, without materializing the dequantized row:
/// each block's integer levels are multiplied with the vector and its scales applied once per
/// group. The verification engine's matrix-vector products use these.
///
/// Sums are accumulated in a different order than "dequantize, then dot", so results agree with
/// it to rounding (tested with a relative tolerance), not bit for bit.
public protocol DotProductFormat: BlockFormat {
    /// Σ w_i · v_i over `count` weights of the row at `blocks`.
    static func dot(_ blocks: UnsafeRawPointer, _ vector: UnsafePointer<Float>, count: Int) -> Float
}

extension GGMLType {
    /// The dot-product kernel for this type, when moepack has one.
    public var dotProduct: (any DotProductFormat.Type)? { format as? any DotProductFormat.Type }
}

@inline(__always)
private func load16(_ v: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(v).loadUnaligned(as: SIMD16<Float>.self)
}

/// 16 unsigned 4-bit or 8-bit levels as floats.
@inline(__always)
private func floats(_ bytes: SIMD16<UInt8>) -> SIMD16<Float> {
    SIMD16<Float>(SIMD16<Int32>(truncatingIfNeeded: bytes))
}

extension Q8_0: DotProductFormat {
    public static func dot(_ blocks: UnsafeRawPointer, _ vector: UnsafePointer<Float>, count: Int) -> Float {
        // One vector accumulator; the horizontal sum happens once per row, not once per block.
        var accumulator = SIMD16<Float>()
        for block in 0..<(count / 32) {
            let b = blocks + block * 34
            let v = vector + block * 32
            let q0 = SIMD16<Float>(SIMD16<Int32>(truncatingIfNeeded: b.loadUnaligned(fromByteOffset: 2, as: SIMD16<Int8>.self)))
            let q1 = SIMD16<Float>(SIMD16<Int32>(truncatingIfNeeded: b.loadUnaligned(fromByteOffset: 18, as: SIMD16<Int8>.self)))
            accumulator += SIMD16<Float>(repeating: fp16Value(loadUInt16(b, 0))) * (q0 * load16(v) + q1 * load16(v + 16))
        }
        return accumulator.sum()
    }
}

extension Q4_K: DotProductFormat {
    public static func dot(_ blocks: UnsafeRawPointer, _ vector: UnsafePointer<Float>, count: Int) -> Float {
        var total: Float = 0
        for block in 0..<(count / 256) {
            let b = blocks + block * 144
            let v = vector + block * 256
            let d = fp16Value(loadUInt16(b, 0)), dmin = fp16Value(loadUInt16(b, 2))
            for p in 0..<4 {
                let (sc1, m1) = scaleMinK4(2 * p, b + 4)
                let (sc2, m2) = scaleMinK4(2 * p + 1, b + 4)
                var low = SIMD16<Float>(), high = SIMD16<Float>(), sumLow = SIMD16<Float>(), sumHigh = SIMD16<Float>()
                for half in 0..<2 {
                    let q = b.loadUnaligned(fromByteOffset: 16 + 32 * p + 16 * half, as: SIMD16<UInt8>.self)
                    let vLow = load16(v + 64 * p + 16 * half), vHigh = load16(v + 64 * p + 32 + 16 * half)
                    low += floats(q & 0x0F) * vLow
                    high += floats(q &>> 4) * vHigh
                    sumLow += vLow
                    sumHigh += vHigh
                }
                total += d * (Float(sc1) * low.sum() + Float(sc2) * high.sum())
                total -= dmin * (Float(m1) * sumLow.sum() + Float(m2) * sumHigh.sum())
            }
        }
        return total
    }
}

extension Q6_K: DotProductFormat {
    public static func dot(_ blocks: UnsafeRawPointer, _ vector: UnsafePointer<Float>, count: Int) -> Float {
        var total: Float = 0
        for block in 0..<(count / 256) {
            let b = blocks + block * 210
            let v = vector + block * 256
            let d = fp16Value(loadUInt16(b, 208))
            var blockSum: Float = 0
            for h in 0..<2 {
                for half in 0..<2 {
                    // Lanes l = 16·half ... 16·half + 15 of the 32 in this half; group = half.
                    let ql0 = b.loadUnaligned(fromByteOffset: 64 * h + 16 * half, as: SIMD16<UInt8>.self)
                    let ql1 = b.loadUnaligned(fromByteOffset: 64 * h + 32 + 16 * half, as: SIMD16<UInt8>.self)
                    let qh = b.loadUnaligned(fromByteOffset: 128 + 32 * h + 16 * half, as: SIMD16<UInt8>.self)
                    let q1 = floats((ql0 & 0x0F) | ((qh & 3) &<< 4)) - 32
                    let q2 = floats((ql1 & 0x0F) | (((qh &>> 2) & 3) &<< 4)) - 32
                    let q3 = floats((ql0 &>> 4) | (((qh &>> 4) & 3) &<< 4)) - 32
                    let q4 = floats((ql1 &>> 4) | (((qh &>> 6) & 3) &<< 4)) - 32
                    let base = v + 128 * h + 16 * half
                    let scales = b + 192 + 8 * h + half
                    func scale(_ k: Int) -> Float { Float(scales.load(fromByteOffset: 2 * k, as: Int8.self)) }
                    blockSum += scale(0) * (q1 * load16(base)).sum() + scale(1) * (q2 * load16(base + 32)).sum()
                        + scale(2) * (q3 * load16(base + 64)).sum() + scale(3) * (q4 * load16(base + 96)).sum()
                }
            }
            total += d * blockSum
        }
        return total
    }
}
