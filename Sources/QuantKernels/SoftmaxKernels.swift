#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Log-softmax's two row reductions over a vocabulary (129,280 tokens for R1), in f64: the log
/// of the sum of exponentials, and the KL-divergence terms of a position. With glibc's scalar
/// `exp` they were 41% of an evaluation on the trained dev checkpoint.
///
/// Eight f64 lanes are added lane-wise and then across lanes in a fixed order, so a row's result
/// does not depend on the thread that computes it. Swift never fuses a multiply and an add, so the
/// AVX2 build computes the same bits as the baseline one.
public enum SoftmaxKernels {
    public typealias DoubleLanes = SIMD8<Double>

    /// `log Σ exp(x)` of `count` f32 values: the maximum plus the log of `Σ exp(x − maximum)`.
    /// A NaN value is passed over by the maximum and makes the sum NaN, as in a scalar loop.
    @inlinable
    public static func logSumExp(_ x: UnsafePointer<Float>, count: Int) -> Double {
        var lanesMaximum = FloatLanes(repeating: -.infinity)
        var i = 0
        while i + 8 <= count {
            let v = loadLanes(x + i)
            for l in 0..<8 { lanesMaximum[l] = v[l] > lanesMaximum[l] ? v[l] : lanesMaximum[l] }
            i += 8
        }
        var maximum = -Double.infinity
        for l in 0..<8 where Double(lanesMaximum[l]) > maximum { maximum = Double(lanesMaximum[l]) }
        for j in i..<count where Double(x[j]) > maximum { maximum = Double(x[j]) }
        var sums = DoubleLanes(repeating: 0)
        i = 0
        while i + 8 <= count {
            sums += VectorExp.exp(DoubleLanes(loadLanes(x + i)) - maximum)
            i += 8
        }
        var sum = 0.0
        for l in 0..<8 { sum += sums[l] }
        for j in i..<count { sum += VectorExp.scalarExp(Double(x[j]) - maximum) }
        return maximum + log(sum)
    }

    /// `Σ exp(b) · (b − m)`: KL(base ‖ model) of one position from the base's f32 log-probs `b`
    /// and the model's log-probs `m` (f32 values held in f64).
    @inlinable
    public static func klDivergence(base b: UnsafePointer<Float>, model m: UnsafePointer<Double>, count: Int) -> Double {
        var sums = DoubleLanes(repeating: 0)
        var i = 0
        while i + 8 <= count {
            let lb = DoubleLanes(loadLanes(b + i))
            let lm = UnsafeRawPointer(m + i).loadUnaligned(as: DoubleLanes.self)
            sums += VectorExp.exp(lb) * (lb - lm)
            i += 8
        }
        var sum = 0.0
        for l in 0..<8 { sum += sums[l] }
        for j in i..<count { sum += VectorExp.scalarExp(Double(b[j])) * (Double(b[j]) - m[j]) }
        return sum
    }
}

/// `exp` of f64 lanes, within 2 ulp of the C library's.
///
/// Method (Cody–Waite reduction as in fdlibm's `e_exp.c`, without its table): `x = n·ln2 + r`
/// with `n = round(x/ln2)` and `|r| ≤ ln2/2`; `ln2` is split into a high part whose product with
/// any `|n| < 2^11` is exact and a low part. `exp(r)` is its Taylor series to `r^13/13!`
/// (truncation below 5e-18 relative on that interval) in Horner form, and `2^n` is built from its
/// bit pattern. Every operation has an SSE2 instruction.
///
/// Lanes outside `[-708, 709]` (where `2^n` would be subnormal or overflow) and NaN lanes take
/// the C library's `exp`, so they are defined exactly as it defines them.
///
/// Log-softmax rounds its outputs to f32 (a 2^-24 grid), so an ulp of f64 here moves its figures
/// only where a value lies within about 1e-16 of a rounding boundary.
public enum VectorExp {
    @inlinable @inline(__always)
    public static func exp(_ x: SIMD8<Double>) -> SIMD8<Double> {
        let inRange = (x .>= SIMD8<Double>(repeating: -708)) .& (x .<= SIMD8<Double>(repeating: 709))
        // Out-of-range and NaN lanes are computed from a harmless 0 and replaced at the end.
        let y = unsafeBitCast(unsafeBitCast(x, to: SIMD8<Int64>.self) & unsafeBitCast(inRange, to: SIMD8<Int64>.self), to: SIMD8<Double>.self)
        // Adding 1.5·2^52 rounds to an integer (to nearest, ties to even) and leaves n in the low
        // bits of the sum's pattern, from which 2^n is made below without a conversion.
        let roundingShift = SIMD8<Double>(repeating: 0x1.8p52)
        let shifted = y * 1.44269504088896338700e+00 + roundingShift
        let n = shifted - roundingShift
        let r = (y - n * 6.93147180369123816490e-01) - n * 1.90821492927058770002e-10
        var p = SIMD8<Double>(repeating: 1.6059043836821613e-10)  // 1/13!
        p = p * r + 2.08767569878681e-09
        p = p * r + 2.505210838544172e-08
        p = p * r + 2.755731922398589e-07
        p = p * r + 2.7557319223985893e-06
        p = p * r + 2.48015873015873e-05
        p = p * r + 0.0001984126984126984
        p = p * r + 0.001388888888888889
        p = p * r + 0.008333333333333333
        p = p * r + 0.041666666666666664
        p = p * r + 0.16666666666666666
        p = p * r + 0.5
        p = (p * r + 1) * r + 1
        // The low 12 bits of 1.5·2^52's pattern are 0, so (pattern + 1023) << 52 is 2^n's.
        let bits = unsafeBitCast(shifted, to: SIMD8<UInt64>.self)
        var result = p * unsafeBitCast((bits &+ 1023) &<< 52, to: SIMD8<Double>.self)
        if !all(inRange) {
            for lane in 0..<8 where !inRange[lane] { result[lane] = scalarExp(x[lane]) }
        }
        return result
    }

    @inlinable @inline(__always)
    public static func scalarExp(_ x: Double) -> Double {
        #if canImport(Glibc)
        Glibc.exp(x)
        #else
        Darwin.exp(x)
        #endif
    }
}
