/// SplitMix64: tiny, fast, and good enough for test weights; the same seed gives the same stream
/// on every machine, which is what makes synthetic checkpoints reproducible to the byte.
package struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    package init(seed: UInt64) { state = seed }

    @inline(__always)
    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A seed derived from a parent seed and a string (FNV-1a, then mixed).
    package static func derive(_ seed: UInt64, _ label: String, _ index: Int = 0) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325 ^ seed
        for byte in label.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        var mixer = SplitMix64(seed: hash ^ UInt64(bitPattern: Int64(index)) &* 0x9E37_79B9_7F4A_7C15)
        return mixer.next()
    }

    /// A zero-mean, unit-variance bell-shaped sample from one 64-bit draw (sum of four 16-bit
    /// uniforms, Irwin-Hall), plus a heavy-tail factor drawn from the same bits' neighbour: about
    /// 3% of samples are 3x wider and 0.2% are 8x wider, so blocks have outliers as real weights do.
    @inline(__always)
    package mutating func heavyTailedSample() -> Float {
        let bits = next()
        let a = Float(bits & 0xFFFF), b = Float((bits >> 16) & 0xFFFF)
        let c = Float((bits >> 32) & 0xFFFF), d = Float((bits >> 48) & 0xFFFF)
        let bell = ((a + b + c + d) * (1 / 65536) - 2) * 1.7320508
        let tail = next() & 0x3FF
        let widen: Float = tail < 2 ? 8 : (tail < 33 ? 3 : 1)
        return bell * widen
    }

    /// Uniform in [0, 1).
    @inline(__always)
    package mutating func unit() -> Float { Float(next() >> 40) * 0x1p-24 }
}
