/// Eight-lane float and integer helpers for the block kernels.
///
/// Written for what LLVM turns into packed instructions on every x86-64 (SSE2) and arm64 and, in
/// QuantKernelsAVX2, into one 256-bit instruction each: elementwise arithmetic, bitwise masks,
/// bit casts, and per-lane loops whose body is a plain compare-and-select (that becomes
/// `maxps`/`minps`). Avoided on purpose: `pointwiseMax`/`min` (NaN-aware, scalarised),
/// `SIMD8<Int32>(_:rounding:)` (generic, not specialised), `replacing(with:where:)` (sign-extends
/// the mask first), unsigned lane compares (one lane at a time), and `~` of a compare mask in
/// blends (LLVM moved such lanes through general-purpose registers); each costs several times the
/// instructions here. Measure with `moepack bench quants` and `perf annotate` after any change.

public typealias FloatLanes = SIMD8<Float>
public typealias IntLanes = SIMD8<Int32>

/// 1.5·2^23: adding it puts round-half-even(x) in the low mantissa bits, for |x| <= 2^22.
@usableFromInline let roundingMagic: Float = 12_582_912

@inlinable @inline(__always)
func loadLanes(_ p: UnsafePointer<Float>) -> FloatLanes {
    UnsafeRawPointer(p).loadUnaligned(as: FloatLanes.self)
}

/// Eight bytes at `p + offset`, zero-extended to integer lanes.
@inlinable @inline(__always)
func byteLanes(_ p: UnsafeRawPointer, _ offset: Int) -> IntLanes {
    IntLanes(truncatingIfNeeded: p.loadUnaligned(fromByteOffset: offset, as: SIMD8<UInt8>.self))
}

@inlinable @inline(__always)
func magnitude(_ v: FloatLanes) -> FloatLanes {
    unsafeBitCast(unsafeBitCast(v, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: FloatLanes.self)
}

/// All ones where `mask` is true, zero elsewhere (a SIMDMask's storage).
@inlinable @inline(__always)
public func allOnes(_ mask: SIMDMask<IntLanes>) -> IntLanes { unsafeBitCast(mask, to: IntLanes.self) }

/// Round-half-even integer of `shifted − 1.5·2^23` read from its mantissa, as ggml's `nearest_int`.
/// Masking (not just subtracting the magic's bits) keeps what x86 C gets for an infinite or NaN
/// product (a tiny scale's inverse overflows): a level whose low byte is 0, like `cvttss2si`.
@inlinable @inline(__always)
func mantissaInteger(_ shifted: FloatLanes) -> IntLanes {
    (unsafeBitCast(shifted, to: IntLanes.self) & 0x007F_FFFF) &- 0x0040_0000
}

/// ggml's `nearest_int` of every lane (round half to even), |v| <= 2^22.
@inlinable @inline(__always)
func nearestIntegers(_ v: FloatLanes) -> IntLanes { mantissaInteger(v + FloatLanes(repeating: roundingMagic)) }

/// `a` in the lanes where `mask` is all ones, else `b` (an arithmetic blend: no `~` of a mask).
@inlinable @inline(__always)
func select(_ mask: IntLanes, _ a: FloatLanes, _ b: FloatLanes) -> FloatLanes {
    let bitsA = unsafeBitCast(a, to: IntLanes.self), bitsB = unsafeBitCast(b, to: IntLanes.self)
    return unsafeBitCast(bitsB ^ ((bitsA ^ bitsB) & mask), to: FloatLanes.self)
}

/// C `roundf` (half away from zero) of every lane, |v| <= 2^22: rounds |v| half-to-even with the
/// magic number, moves exact ties (|v| − even == 0.5, an exact difference) up, restores the sign.
@inlinable @inline(__always)
func roundedAwayFromZero(_ v: FloatLanes) -> IntLanes {
    let sign = unsafeBitCast(v, to: IntLanes.self) &>> 31
    let a = magnitude(v)
    let shifted = a + FloatLanes(repeating: roundingMagic)
    let tie = allOnes(a - (shifted - FloatLanes(repeating: roundingMagic)) .== 0.5)
    let rounded = mantissaInteger(shifted) &- tie
    return (rounded ^ sign) &- sign
}

/// C's `(int)v` of every lane for 0 <= v <= 2^22: the nearest integer, minus one where it lies above v.
@inlinable @inline(__always)
func truncatedNonNegative(_ v: FloatLanes) -> IntLanes {
    let shifted = v + FloatLanes(repeating: roundingMagic)
    let nearest = shifted - FloatLanes(repeating: roundingMagic)
    return mantissaInteger(shifted) &+ allOnes(nearest .> v)
}

/// min(a, limit) per lane, as masks (a per-lane select loop over integers is scalarised).
@inlinable @inline(__always)
func lanesMinimum(_ a: IntLanes, _ limit: Int32) -> IntLanes { lanesMinimum(a, IntLanes(repeating: limit)) }

@inlinable @inline(__always)
public func lanesMinimum(_ a: IntLanes, _ b: IntLanes) -> IntLanes { a &+ ((b &- a) & allOnes(a .> b)) }

@inlinable @inline(__always)
public func lanesMaximum(_ a: IntLanes, _ b: IntLanes) -> IntLanes { a &+ ((b &- a) & allOnes(b .> a)) }

@inlinable @inline(__always)
func lanesMinimum(_ a: SIMD4<Int32>, _ b: SIMD4<Int32>) -> SIMD4<Int32> {
    a &+ ((b &- a) & unsafeBitCast(a .> b, to: SIMD4<Int32>.self))
}

@inlinable @inline(__always)
func lanesMaximum(_ a: SIMD4<Int32>, _ b: SIMD4<Int32>) -> SIMD4<Int32> {
    a &+ ((b &- a) & unsafeBitCast(b .> a, to: SIMD4<Int32>.self))
}

/// |v| as bits: for non-negative floats the integer order of the bits is the float order, and
/// integer lanes have cheap max/min on every x86-64 (float selects on masks are lowered badly).
@inlinable @inline(__always)
func magnitudeBits(_ v: FloatLanes) -> IntLanes { unsafeBitCast(v, to: IntLanes.self) & 0x7FFF_FFFF }

/// Bits of the largest |x| of 32 floats. Order-free: max over non-negative, non-NaN values is associative.
@inlinable @inline(__always)
func largestMagnitudeBits32(_ x: UnsafePointer<Float>) -> Int32 {
    var m = magnitudeBits(loadLanes(x))
    for k in 1..<4 { m = lanesMaximum(m, magnitudeBits(loadLanes(x + 8 * k))) }
    let h = lanesMaximum(m.lowHalf, m.highHalf)
    let a = h[1] > h[0] ? h[1] : h[0]
    let b = h[3] > h[2] ? h[3] : h[2]
    return b > a ? b : a
}

/// Smallest and largest of 32 floats, lane-parallel. Which of two equal values wins is not the C
/// loop's (first occurrence), which only matters for ±0; callers check for a zero result.
@inlinable @inline(__always)
func extremes32Lanes(_ x: UnsafePointer<Float>) -> (min: Float, max: Float) {
    var low = loadLanes(x), high = low
    for k in 1..<4 {
        for i in 0..<8 {
            let v = x[8 * k + i]
            low[i] = v < low[i] ? v : low[i]
            high[i] = v > high[i] ? v : high[i]
        }
    }
    var lowHalf = low.lowHalf, highHalf = high.lowHalf
    for i in 0..<4 {
        lowHalf[i] = low[i + 4] < lowHalf[i] ? low[i + 4] : lowHalf[i]
        highHalf[i] = high[i + 4] > highHalf[i] ? high[i + 4] : highHalf[i]
    }
    var min = lowHalf[0], max = highHalf[0]
    for i in 1..<4 {
        min = lowHalf[i] < min ? lowHalf[i] : min
        max = highHalf[i] > max ? highHalf[i] : max
    }
    return (min, max)
}

@inlinable @inline(__always)
func horizontalMinimum(_ v: IntLanes) -> Int32 {
    let h = lanesMinimum(v.lowHalf, v.highHalf)
    let a = h[1] < h[0] ? h[1] : h[0]
    let b = h[3] < h[2] ? h[3] : h[2]
    return b < a ? b : a
}

/// One byte of a Q5 `qh` word: bit i set where bit 4 of `levels[i]` is. The eight bits are
/// gathered by one multiplication (byte i holding 0 or 1 moves to bit 56 + i); OR-ing shifted lanes
/// instead makes LLVM extract every lane into a general-purpose register.
@inlinable @inline(__always)
func highBitsByte(_ levels: IntLanes) -> UInt32 {
    let bytes = unsafeBitCast(SIMD8<UInt8>(truncatingIfNeeded: levels), to: UInt64.self)
    return UInt32(truncatingIfNeeded: (((bytes >> 4) & 0x0101_0101_0101_0101) &* 0x0102_0408_1020_4080) >> 56)
}
