import Foundation
import Quants
import TestSupport
import Testing

@Suite struct Float8Tests {
    /// Each E4M3FN code's value written out from the format definition with Double arithmetic
    /// (an implementation independent of both Swift decoders).
    static func e4m3FromDefinition(_ code: Int) -> Double {
        let sign: Double = code & 0x80 != 0 ? -1 : 1
        let exponent = (code >> 3) & 0xF, mantissa = Double(code & 7)
        if exponent == 15 && mantissa == 7 { return .nan }
        if exponent == 0 { return sign * mantissa / 8 * pow(2, -6) }
        return sign * (1 + mantissa / 8) * pow(2, Double(exponent - 7))
    }

    @Test func allE4M3CodesMatchTheDefinition() {
        for code in 0...255 {
            let expected = Self.e4m3FromDefinition(code)
            let reference = Float8E4M3.decodeReference(UInt8(code))
            if expected.isNaN {
                #expect(reference.isNaN && Float8E4M3.isNaN(UInt8(code)), "code \(code)")
                continue
            }
            #expect(Double(reference) == expected, "code \(code)")
            #expect(reference.sign == (code & 0x80 != 0 ? .minus : .plus), "sign of code \(code)")
            // The fast bit-twiddling decoder used by the kernel is exact for every non-NaN code.
            #expect(Float8E4M3.decodeFast(UInt8(code)).bitPattern == reference.bitPattern, "fast decode of \(code)")
        }
        #expect(Float8E4M3.decodeReference(0x7E) == 448)
        #expect(Float8E4M3.decodeReference(0x01) == 0x1p-9)  // smallest subnormal
        #expect(Float8E4M3.decodeReference(0x08) == 0x1p-6)  // smallest normal
    }

    @Test func allE5M2CodesMatchTheDefinition() {
        for code in 0...255 {
            let fast = Float8E5M2.decode(UInt8(code))
            let reference = Float8E5M2.decodeReference(UInt8(code))
            if reference.isNaN {
                #expect(fast.isNaN && Float8E5M2.isNaN(UInt8(code)), "code \(code)")
            } else {
                #expect(fast == reference, "code \(code)")
            }
        }
        #expect(Float8E5M2.decode(0x7B) == 57344)
        #expect(Float8E5M2.decode(0x7C) == .infinity && Float8E5M2.isInfinite(0x7C))
        #expect(Float8E5M2.decode(0x01) == 0x1p-16)
    }

    @Test(.enabled(if: TestSupport.oraclesAvailable))
    func allCodesMatchMLDtypes() throws {
        let output = try TestSupport.oracle("fp8_codes.py", ["decode"])
        let oracle = try JSONDecoder().decode([String: [UInt32]].self, from: Data(output.utf8))
        for code in 0...255 {
            let e4m3 = Float(bitPattern: oracle["e4m3fn"]![code])
            let ours = Float8E4M3.decodeReference(UInt8(code))
            #expect(e4m3.isNaN ? ours.isNaN : ours.bitPattern == e4m3.bitPattern, "e4m3 code \(code)")
            let e5m2 = Float(bitPattern: oracle["e5m2"]![code])
            let ours5 = Float8E5M2.decode(UInt8(code))
            #expect(e5m2.isNaN ? ours5.isNaN : ours5.bitPattern == e5m2.bitPattern, "e5m2 code \(code)")
        }
    }

    @Test func encodeInvertsDecodeForEveryFiniteCode() {
        for code in 0...255 where !Float8E4M3.isNaN(UInt8(code)) {
            let value = Float8E4M3.decodeReference(UInt8(code))
            let back = Float8E4M3.encode(value)
            // -0 and +0 are distinct codes and both round-trip.
            #expect(back == UInt8(code), "code \(code) value \(value)")
        }
        #expect(Float8E4M3.encode(1e9) == 0x7E)  // saturates
        #expect(Float8E4M3.encode(-1e9) == 0xFE)
        #expect(Float8E4M3.encode(.nan) == 0x7F)
    }

    @Test func encodeRoundsHalfToEven() {
        // 1.0625 is halfway between 1.0 (0x38) and 1.125 (0x39): ties go to the even mantissa.
        #expect(Float8E4M3.encode(1.0625) == 0x38)
        // 1.1875 is halfway between 1.125 (0x39) and 1.25 (0x3A): even is 0x3A.
        #expect(Float8E4M3.encode(1.1875) == 0x3A)
        // Subnormal tie: 1.5 * 2^-9 lies between 1 and 2 steps; even is 2.
        #expect(Float8E4M3.encode(1.5 * 0x1p-9) == 0x02)
        #expect(Float8E4M3.encode(0.5 * 0x1p-9) == 0x00)
    }

    @Test(.enabled(if: TestSupport.oraclesAvailable))
    func encodeMatchesMLDtypesOnRandomValues() throws {
        var random = SplitMix64(seed: 7)
        var values: [Float] = []
        for _ in 0..<4096 {
            // log-uniform magnitudes across the whole E4M3 range, both signs
            let exponent = Float(random.unit()) * 20 - 12
            values.append((random.unit() < 0.5 ? -1 : 1) * powf(2, exponent) * (1 + random.unit()) / 2)
        }
        values = values.map { min(max($0, -440), 440) }
        let path = TestSupport.scratchDirectory("fp8enc") + "/values.f32"
        try values.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: path)) }
        let hex = try TestSupport.oracle("fp8_codes.py", ["encode", path]).trimmingCharacters(in: .whitespacesAndNewlines)
        let ours = values.map { String(format: "%02x", Float8E4M3.encode($0)) }.joined()
        #expect(ours == hex)
    }
}

@Suite struct BFloat16Tests {
    @Test func roundsToNearestEven() {
        // 1 + 2^-8 is exactly halfway between BF16 1.0 and 1 + 2^-7: ties to even (1.0).
        #expect(BFloat16.fromFloat(1 + 0x1p-8) == 0x3F80)
        // 1 + 3·2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even): rounds up.
        #expect(BFloat16.fromFloat(1 + 3 * 0x1p-8) == 0x3F82)
        // Just above halfway rounds up.
        #expect(BFloat16.fromFloat(1 + 0x1p-8 + 0x1p-20) == 0x3F81)
        #expect(BFloat16.fromFloat(-2.5) == 0xC020)
        #expect(BFloat16.fromFloat(.infinity) == 0x7F80)
        #expect(BFloat16.toFloat(BFloat16.fromFloat(.nan)).isNaN)
        // The largest finite F32 rounds to infinity in BF16, as IEEE RNE requires.
        #expect(BFloat16.fromFloat(.greatestFiniteMagnitude) == 0x7F80)
    }

    @Test func agreesWithDoublePrecisionRoundingOnRandomValues() {
        var random = SplitMix64(seed: 11)
        for _ in 0..<100_000 {
            let value = Float(bitPattern: UInt32(truncatingIfNeeded: random.next()) & 0x7EFF_FFFF)
            // Independent rounding: pick the nearer of the two BF16 neighbours in Double.
            let down = Float(bitPattern: value.bitPattern & 0xFFFF_0000)
            let up = Float(bitPattern: (value.bitPattern & 0xFFFF_0000) &+ 0x10000)
            let dDown = Double(value) - Double(down), dUp = Double(up) - Double(value)
            let expected: Float =
                dDown < dUp ? down : dUp < dDown ? up : ((down.bitPattern >> 16) & 1 == 0 ? down : up)
            #expect(BFloat16.toFloat(BFloat16.fromFloat(value)) == expected)
        }
    }
}
