import Foundation
import QuantKernels
import Quants
import Testing

/// The legacy kernels exist once per instruction set (QuantKernels compiled for baseline and for
/// AVX2). Every build that runs on this CPU must write llama.cpp's bytes, whichever one
/// `MOEPACK_SIMD` or the CPU makes active, and agree with a line-by-line transcription of the C
/// reference quantizers on rows built to hit each edge of the vector code.
@Suite struct SIMDLevelTests {
    static let legacy: [GGMLType] = [.q8_0, .q4_0, .q5_0, .q4_1, .q5_1]
    /// The types whose unweighted quantizer is a kernel of its own (the legacy formats, F16, BF16), and
    /// those whose quantizer with and without importance weights is (legacy, k-quants, IQ4), from the tables.
    static let unweightedKernelTypes = GGMLType.allCases.filter { BlockKernels.baseline[$0]?.quantize != nil }
    static let weightedKernelTypes = GGMLType.allCases.filter { BlockKernels.baseline[$0]?.quantizeWeighted != nil }

    static func quantize(_ values: [Float], _ type: GGMLType, level: SIMDLevel) -> [UInt8] {
        let quantize = BlockKernels.forLevel(level)[type]!.quantize!
        var out = [UInt8](repeating: 0xEE, count: type.rowBytes(values.count)!)
        values.withUnsafeBufferPointer { x in out.withUnsafeMutableBytes { quantize(x.baseAddress!, values.count, $0.baseAddress!) } }
        return out
    }

    @Test(arguments: SIMDLevel.supported, unweightedKernelTypes)
    func everyLevelWritesLlamaCppBytes(level: SIMDLevel, type: GGMLType) throws {
        let inputs = try BlockFormatGoldenTests.floats("inputs.f32")
        let expected = try Data(contentsOf: BlockFormatGoldenTests.fixtures.appendingPathComponent("\(type.name).bin"))
        #expect(Self.quantize(inputs, type, level: level) == Array(expected), "\(type.name) at \(level)")
    }

    /// The quantizers with importance weights are built per level too (their searches gain from
    /// AVX2): llama.cpp's bytes with and without them.
    @Test(arguments: SIMDLevel.supported, weightedKernelTypes)
    func everyLevelWritesLlamaCppWeightedBytes(level: SIMDLevel, type: GGMLType) throws {
        for weighted in [false, true] { try checkWeighted(level: level, type: type, weighted: weighted) }
    }

    func checkWeighted(level: SIMDLevel, type: GGMLType, weighted: Bool) throws {
        let inputs = try BlockFormatGoldenTests.floats("inputs.f32")
        let importance = try BlockFormatGoldenTests.floats("importance.f32")
        let expected = try Data(contentsOf: BlockFormatGoldenTests.fixtures.appendingPathComponent("\(type.name)\(weighted ? ".imatrix" : "").bin"))
        let columns = BlockFormatGoldenTests.columns, rowBytes = type.rowBytes(columns)!
        var out = [UInt8](repeating: 0xEE, count: expected.count)
        let quantize = try #require(BlockKernels.forLevel(level)[type]?.quantizeWeighted)
        inputs.withUnsafeBufferPointer { x in
            importance.withUnsafeBufferPointer { w in
                out.withUnsafeMutableBytes { o in
                    for row in 0..<(inputs.count / columns) {
                        quantize(x.baseAddress! + row * columns, columns, weighted ? w.baseAddress! : nil, o.baseAddress! + row * rowBytes)
                    }
                }
            }
        }
        #expect(out == Array(expected), "\(type.name)\(weighted ? " (imatrix)" : "") at \(level)")
    }

    /// 32-weight blocks aimed at the vector code's special paths.
    static let edgeBlocks: [(String, [Float])] = {
        var blocks: [(String, [Float])] = []
        func block(_ name: String, _ f: (Int) -> Float) { blocks.append((name, (0..<32).map(f))) }
        block("zeros") { _ in 0 }
        block("negative zeros") { _ in -0.0 }
        block("-0 before +0, rest positive") { $0 == 3 ? -0.0 : ($0 == 9 ? 0 : Float($0) + 1) }
        block("+0 before -0, rest negative") { $0 == 3 ? 0 : ($0 == 9 ? -0.0 : -Float($0) - 1) }
        block("-0 then +0 as max, rest negative") { $0 == 30 ? -0.0 : ($0 == 31 ? 0 : -Float($0) - 1) }
        block("+amax before -amax") { $0 == 5 ? 2.5 : ($0 == 20 ? -2.5 : Float($0 % 5) * 0.25) }
        block("-amax before +amax") { $0 == 5 ? -2.5 : ($0 == 20 ? 2.5 : Float($0 % 5) * 0.25) }
        block("-amax in the last lane only") { $0 == 31 ? -7 : Float($0) * 0.125 }
        block("constant") { _ in 0.37 }
        block("negative constant") { _ in -0.37 }
        block("alternating") { $0 % 2 == 0 ? 1 : -1 }
        block("exact ties after scaling") { Float($0 - 16) * 0.5 + ($0 == 0 ? -127 : 0) }
        block("tiny: inverse scale overflows") { Float($0 % 7) * Float(bitPattern: 0x000A_E398) }  // 1e-39, a subnormal
        block("smallest subnormals") { Float($0 % 3) * Float.leastNonzeroMagnitude }
        block("huge range: d overflows") { $0 % 2 == 0 ? 3e38 : -3e38 }
        block("one spike") { $0 == 17 ? 1e4 : 0.001 * Float($0) }
        var random = SplitMix64(seed: 7)
        block("FP8-like repeats") { _ in Float8E4M3.decodeReference(Float8E4M3.encode(random.heavyTailedSample())) * 0.01 }
        return blocks
    }()

    @Test(arguments: legacy)
    func everyLevelMatchesTheCReferenceOnEdgeBlocks(type: GGMLType) throws {
        for (name, values) in Self.edgeBlocks {
            let expected = CReference.quantize(values, type)
            for level in SIMDLevel.supported {
                #expect(Self.quantize(values, type, level: level) == expected, "\(type.name), \(name), \(level)")
            }
        }
    }

    /// Every type with a dequantize kernel (the IQ1/IQ2/IQ3 lattices also in IQFormatTests).
    static let decodedTypes = GGMLType.allCases.filter { BlockKernels.baseline[$0]?.dequantize != nil }

    @Test func everyLevelConvertsF16Identically() {
        var random = SplitMix64(seed: 12)
        // Every F16 bit pattern (NaNs compared as NaN), and F32 values across the F16 range and beyond.
        let halves = (0...UInt16.max).map { $0 }
        let floats = (0..<65536).map { i -> Float in
            i % 5 == 0 ? Float(bitPattern: UInt32(truncatingIfNeeded: random.next()) & 0x8FFF_FFFF | 0x3000_0000)
                : random.heavyTailedSample() * [1e-7, 1e-3, 1, 1e3, 7e4][i % 5]
        }
        var decoded: [[Float]] = [], encoded: [[UInt16]] = []
        for level in SIMDLevel.supported {
            let f16 = BlockKernels.forLevel(level)[.f16]!
            var out = [Float](repeating: 0, count: halves.count)
            halves.withUnsafeBytes { h in out.withUnsafeMutableBufferPointer { f16.dequantize!(h.baseAddress!, halves.count, $0.baseAddress!) } }
            decoded.append(out)
            var bits = [UInt16](repeating: 0, count: floats.count)
            floats.withUnsafeBufferPointer { f in bits.withUnsafeMutableBytes { f16.quantize!(f.baseAddress!, floats.count, $0.baseAddress!) } }
            encoded.append(bits)
        }
        for other in decoded.dropFirst() {
            #expect(zip(decoded[0], other).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) })
        }
        #expect(Set(encoded).count == 1)
        // And F16 rows equal Swift's own Float16 conversion (IEEE round-to-nearest-even).
        #expect(encoded[0] == floats.map { Float16($0).bitPattern })
        // BF16 rows at every level equal the scalar definition, NaNs and infinities included.
        var specials = floats + [.nan, -.nan, .infinity, -.infinity, Float(bitPattern: 0x7F80_0001), Float(bitPattern: 0xFFC0_1234)]
        specials += [0x3F80_8000, 0x3F81_8000, 0x3F80_7FFF, 0x7F7F_FFFF].map { Float(bitPattern: $0) }  // ties, overflow to inf
        for level in SIMDLevel.supported {
            var bits = [UInt16](repeating: 0, count: specials.count)
            let bf16 = BlockKernels.forLevel(level)[.bf16]!
            specials.withUnsafeBufferPointer { f in bits.withUnsafeMutableBytes { bf16.quantize!(f.baseAddress!, specials.count, $0.baseAddress!) } }
            #expect(bits == specials.map(BFloat16.fromFloat), "BF16 at \(level)")
            // And back: every BF16 pattern widens exactly.
            let patterns = (0...UInt16.max).map { $0 }
            var widened = [Float](repeating: 0, count: patterns.count)
            patterns.withUnsafeBytes { b in widened.withUnsafeMutableBufferPointer { bf16.dequantize!(b.baseAddress!, patterns.count, $0.baseAddress!) } }
            #expect(widened.map(\.bitPattern) == patterns.map { BFloat16.toFloat($0).bitPattern }, "BF16 decode at \(level)")
        }
    }

    @Test(arguments: decodedTypes)
    func everyLevelDecodesIdentically(type: GGMLType) throws {
        var random = SplitMix64(seed: 11)
        let bytes = (0..<(type.rowBytes(512)!)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        var decoded: [[UInt32]] = []
        for level in SIMDLevel.supported {
            let dequantize = try #require(BlockKernels.forLevel(level)[type]?.dequantize)
            var out = [Float](repeating: .nan, count: 512)
            bytes.withUnsafeBytes { b in out.withUnsafeMutableBufferPointer { dequantize(b.baseAddress!, 512, $0.baseAddress!) } }
            decoded.append(out.map(\.bitPattern))
        }
        #expect(Set(decoded).count == 1)
        // And the active level is what the format type calls.
        var viaFormat = [Float](repeating: .nan, count: 512)
        try bytes.withUnsafeBytes { b in
            try viaFormat.withUnsafeMutableBufferPointer { try type.dequantize(row: b, count: 512, into: $0) }
        }
        #expect(viaFormat.map(\.bitPattern) == decoded[SIMDLevel.supported.firstIndex(of: SIMDLevel.active)!])
    }
}

/// `quantize_row_q{8_0,4_0,5_0,4_1,5_1}_ref` from ggml-quants.c, transcribed loop for loop, with C's
/// float-to-int conversion as x86 performs it (`cvttss2si`: out-of-range and NaN give INT_MIN).
enum CReference {
    static func cInt(_ f: Float) -> Int32 { f.isFinite && abs(f) < 2_147_483_648 ? Int32(f) : Int32.min }
    static func half(_ f: Float) -> [UInt8] {
        let bits = Float16(f).bitPattern
        return [UInt8(bits & 0xFF), UInt8(bits >> 8)]
    }
    static func u32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    static func quantize(_ x: [Float], _ type: GGMLType) -> [UInt8] {
        var out: [UInt8] = []
        for block in stride(from: 0, to: x.count, by: 32) {
            let xb = Array(x[block..<(block + 32)])
            switch type {
            case .q8_0:
                var amax: Float = 0
                for v in xb { amax = max(amax, abs(v)) }
                let d = amax / 127
                let id: Float = d != 0 ? 1 / d : 0
                out += half(d)
                for v in xb { out.append(UInt8(truncatingIfNeeded: cInt(roundf(v * id)))) }
            case .q4_0, .q5_0:
                let bits = type == .q4_0 ? 4 : 5
                let top: Int32 = bits == 4 ? 15 : 31
                var amax: Float = 0, maxValue: Float = 0
                for v in xb where amax < abs(v) { amax = abs(v); maxValue = v }
                let d = maxValue / (bits == 4 ? -8 : -16)
                let id: Float = d != 0 ? 1 / d : 0
                out += half(d)
                var qh: UInt32 = 0, qs: [UInt8] = []
                for j in 0..<16 {
                    // C: MIN(top, (int8_t)(x·id + 8.5f)) for Q4_0, (int8_t)/MIN(31, ...) for Q5_0.
                    let x0 = Int8(truncatingIfNeeded: cInt(xb[j] * id + (bits == 4 ? 8.5 : 16.5)))
                    let x1 = Int8(truncatingIfNeeded: cInt(xb[j + 16] * id + (bits == 4 ? 8.5 : 16.5)))
                    let l0 = UInt8(truncatingIfNeeded: min(top, Int32(x0))), l1 = UInt8(truncatingIfNeeded: min(top, Int32(x1)))
                    qs.append((l0 & 0x0F) | ((l1 & 0x0F) << 4))
                    qh |= UInt32((l0 & 0x10) >> 4) << j
                    qh |= UInt32((l1 & 0x10) >> 4) << (j + 16)
                }
                if bits == 5 { out += u32(qh) }
                out += qs
            case .q4_1, .q5_1:
                let bits = type == .q4_1 ? 4 : 5
                var minValue = Float.greatestFiniteMagnitude, maxValue = -Float.greatestFiniteMagnitude
                for v in xb {
                    if v < minValue { minValue = v }
                    if v > maxValue { maxValue = v }
                }
                let d = (maxValue - minValue) / (bits == 4 ? 15 : 31)
                let id: Float = d != 0 ? 1 / d : 0
                out += half(d) + half(minValue)
                var qh: UInt32 = 0, qs: [UInt8] = []
                for j in 0..<16 {
                    let x0 = cInt((xb[j] - minValue) * id + 0.5), x1 = cInt((xb[j + 16] - minValue) * id + 0.5)
                    // Q4_1: MIN(15, (int8_t)...); Q5_1: (uint8_t)...
                    let l0 = bits == 4 ? UInt8(truncatingIfNeeded: min(15, Int32(Int8(truncatingIfNeeded: x0)))) : UInt8(truncatingIfNeeded: x0)
                    let l1 = bits == 4 ? UInt8(truncatingIfNeeded: min(15, Int32(Int8(truncatingIfNeeded: x1)))) : UInt8(truncatingIfNeeded: x1)
                    qs.append((l0 & 0x0F) | ((l1 & 0x0F) << 4))
                    qh |= UInt32((l0 & 0x10) >> 4) << j
                    qh |= UInt32((l1 & 0x10) >> 4) << (j + 16)
                }
                if bits == 5 { out += u32(qh) }
                out += qs
            default: fatalError("not a legacy type")
            }
        }
        return out
    }
}
