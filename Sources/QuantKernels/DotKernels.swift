/// The element type of the vector a dot product reads: F32, or BF16 (activations kept in BF16
/// halve the bytes read per product).
public protocol DotVector {
    associatedtype Element
    /// Eight elements as float lanes.
    static func lanes(_ p: UnsafePointer<Element>) -> FloatLanes
}

public enum F32Vector: DotVector {
    @inlinable @inline(__always)
    public static func lanes(_ p: UnsafePointer<Float>) -> FloatLanes { UnsafeRawPointer(p).loadUnaligned(as: FloatLanes.self) }
}

/// BF16 elements (the top half of an F32, little-endian): widening is a 16-bit shift, exact.
public enum BF16Vector: DotVector {
    @inlinable @inline(__always)
    public static func lanes(_ p: UnsafePointer<UInt16>) -> FloatLanes {
        let bits = SIMD8<UInt32>(truncatingIfNeeded: UnsafeRawPointer(p).loadUnaligned(as: SIMD8<UInt16>.self)) &<< 16
        return unsafeBitCast(bits, to: FloatLanes.self)
    }
}

/// Dot products of one quantized row with an F32 or BF16 vector, without writing the dequantized row:
/// levels are widened to float lanes and multiplied with the vector in registers; each block's or
/// group's scale multiplies a lane vector, and the lanes are summed once per row.
///
/// The sums run in a different order than "dequantize, then dot", so results agree with it to
/// F32 rounding, not bit for bit.
public enum DotKernels {
    /// Q8_0 · v: Σ_blocks d · Σ_j q_j v_j.
    @inlinable @inline(__always)
    public static func q8_0<Half: HalfFloatConversion, Vector: DotVector>(
        _ y: UnsafeRawPointer, _ v: UnsafePointer<Vector.Element>, blocks: Int, half: Half.Type, vector: Vector.Type
    ) -> Float {
        var even = FloatLanes(), odd = FloatLanes()  // two accumulators: blocks alternate, halving the add chain
        for block in 0..<blocks {
            let b = y + 34 * block, vb = v + 32 * block
            @inline(__always) func levels(_ k: Int) -> FloatLanes {
                FloatLanes(IntLanes(truncatingIfNeeded: b.loadUnaligned(fromByteOffset: 2 + 8 * k, as: SIMD8<Int8>.self)))
            }
            let sum = (levels(0) * Vector.lanes(vb) + levels(1) * Vector.lanes(vb + 8)) + (levels(2) * Vector.lanes(vb + 16) + levels(3) * Vector.lanes(vb + 24))
            let scaled = Half.value(loadUInt16(b, 0)) * sum
            if block & 1 == 0 { even += scaled } else { odd += scaled }
        }
        return (even + odd).sum()
    }

    /// Q4_K · v: per 32-weight group, d·sc·Σ q v − dmin·m·Σ v.
    @inlinable @inline(__always)
    public static func q4_K<Half: HalfFloatConversion, Vector: DotVector>(
        _ y: UnsafeRawPointer, _ v: UnsafePointer<Vector.Element>, blocks: Int, half: Half.Type, vector: Vector.Type
    ) -> Float {
        var total = FloatLanes()
        for block in 0..<blocks {
            let b = y + 144 * block, vb = v + 256 * block
            let d = Half.value(loadUInt16(b, 0)), dmin = Half.value(loadUInt16(b, 2))
            for p in 0..<4 {
                let (sc1, m1) = scaleMinK4(2 * p, b + 4)
                let (sc2, m2) = scaleMinK4(2 * p + 1, b + 4)
                var low = FloatLanes(), high = FloatLanes(), sumLow = FloatLanes(), sumHigh = FloatLanes()
                for c in 0..<4 {
                    let q = byteLanes(b, 16 + 32 * p + 8 * c)
                    let vLow = Vector.lanes(vb + 64 * p + 8 * c), vHigh = Vector.lanes(vb + 64 * p + 32 + 8 * c)
                    low += FloatLanes(q & 0xF) * vLow
                    high += FloatLanes(q &>> 4) * vHigh
                    sumLow += vLow
                    sumHigh += vHigh
                }
                total += (d * Float(sc1)) * low - (dmin * Float(m1)) * sumLow
                total += (d * Float(sc2)) * high - (dmin * Float(m2)) * sumHigh
            }
        }
        return total.sum()
    }

    /// Q6_K · v: each block is decoded into 256 floats that stay in L1, then multiplied with v.
    /// (Multiplying the levels in registers, as for Q8_0 and Q4_K, made LLVM assemble Q6_K's
    /// split nibbles byte by byte: 3x slower than this.)
    @inlinable @inline(__always)
    public static func q6_K<Half: HalfFloatConversion, Vector: DotVector>(
        _ y: UnsafeRawPointer, _ v: UnsafePointer<Vector.Element>, blocks: Int, half: Half.Type, vector: Vector.Type
    ) -> Float {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 256) { scratch in
            let w = scratch.baseAddress!
            var even = FloatLanes(), odd = FloatLanes()
            for block in 0..<blocks {
                SuperBlockDequantizers.q6_K(y + 210 * block, blocks: 1, into: w, half: half)
                let vb = v + 256 * block
                for k in stride(from: 0, to: 256, by: 16) {
                    even += F32Vector.lanes(w + k) * Vector.lanes(vb + k)
                    odd += F32Vector.lanes(w + k + 8) * Vector.lanes(vb + k + 8)
                }
            }
            return (even + odd).sum()
        }
    }
}
