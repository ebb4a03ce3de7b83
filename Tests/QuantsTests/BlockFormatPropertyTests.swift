import Foundation
import Quants
import Testing

@Suite struct BlockFormatPropertyTests {
    static let implemented = GGMLType.allCases.filter { $0.format != nil }

    /// One definition of every size: the registry's geometry is what the kernels write.
    @Test(arguments: implemented)
    func geometryIsWhatTheKernelsWrite(type: GGMLType) {
        let (weights, bytes) = type.blockGeometry
        #expect(type.rowBytes(weights * 4) == bytes * 4)
        if weights > 1 { #expect(type.rowBytes(weights * 4 + 1) == nil) }
        // Bits per weight as llama.cpp documents them.
        let expected: [GGMLType: Double] = [
            .q4_0: 4.5, .q4_1: 5, .q5_0: 5.5, .q5_1: 6, .q8_0: 8.5, .q2_K: 2.625, .q3_K: 3.4375, .q4_K: 4.5,
            .q5_K: 5.5, .q6_K: 6.5625, .iq4_nl: 4.5, .iq4_xs: 4.25, .f16: 16, .bf16: 16, .f32: 32,
            .iq2_xxs: 2.0625, .iq2_xs: 2.3125, .iq2_s: 2.5625, .iq3_xxs: 3.0625, .iq3_s: 3.4375, .iq1_s: 1.5625, .iq1_m: 1.75,
        ]
        #expect(type.bitsPerWeight == expected[type])
        // Writing a row touches exactly its bytes: a canary after the row survives.
        var random = SplitMix64(seed: 1)
        let x = (0..<(weights * 3)).map { _ in random.heavyTailedSample() }
        var out = [UInt8](repeating: 0xA5, count: bytes * 3 + 8)
        x.withUnsafeBufferPointer { xp in out.withUnsafeMutableBytes { type.format!.quantizeRow(xp.baseAddress!, count: x.count, importance: nil, into: $0.baseAddress!) } }
        #expect(out.suffix(8).allSatisfy { $0 == 0xA5 })
    }

    @Test(arguments: implemented)
    func allZeroRowsStayZero(type: GGMLType) throws {
        let count = 512
        let zeros = [Float](repeating: 0, count: count)
        var bytes = [UInt8](repeating: 0xFF, count: type.rowBytes(count)!)
        var back = [Float](repeating: 1, count: count)
        try zeros.withUnsafeBufferPointer { x in try bytes.withUnsafeMutableBytes { try type.quantize(row: x, into: $0) } }
        try bytes.withUnsafeBytes { b in try back.withUnsafeMutableBufferPointer { try type.dequantize(row: b, count: count, into: $0) } }
        #expect(back.allSatisfy { $0 == 0 })
    }

    /// The worked examples of formats/blocks.md (bytes computed by gguf-py's quantizer).
    @Test func documentedGoldenBlocks() {
        let x = (0..<32).map { Float($0) - 15.5 }
        func hex(_ type: GGMLType) -> String {
            var out = [UInt8](repeating: 0, count: type.rowBytes(32)!)
            x.withUnsafeBufferPointer { xp in out.withUnsafeMutableBytes { type.format!.quantizeRow(xp.baseAddress!, count: 32, importance: nil, into: $0.baseAddress!) } }
            return out.map { String(format: "%02x", $0) }.joined(separator: " ")
        }
        #expect(hex(.q8_0) == "d0 2f 81 89 91 9a a2 aa b2 ba c3 cb d3 db e3 ec f4 fc 04 0c 14 1d 25 2d 35 3d 46 4e 56 5e 66 6f 77 7f")
        #expect(hex(.q4_0) == "c0 3f 80 91 91 a2 a2 b3 b3 c4 c4 d5 d5 e6 e6 f7 f7 f8")
    }

    @Test func nonFiniteInputIsRejectedWithItsColumn() {
        var row = [Float](repeating: 0.5, count: 256)
        row[77] = .nan
        var out = [UInt8](repeating: 0, count: GGMLType.q4_K.rowBytes(256)!)
        do {
            try row.withUnsafeBufferPointer { x in try out.withUnsafeMutableBytes { try GGMLType.q4_K.quantize(row: x, into: $0) } }
            Issue.record("expected an error")
        } catch {
            #expect("\(error)" == "NaN value at column 77; only finite weights can be quantized")
        }
        row[77] = -.infinity
        do {
            try row.withUnsafeBufferPointer { x in try out.withUnsafeMutableBytes { try GGMLType.q8_0.quantize(row: x, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<GGMLType.q8_0.rowBytes(256)!])) } }
            Issue.record("expected an error")
        } catch {
            #expect("\(error)" == "infinite value at column 77; only finite weights can be quantized")
        }
        do {
            try row.withUnsafeBufferPointer { x in try out.withUnsafeMutableBytes { try GGMLType.q4_K.quantize(row: UnsafeBufferPointer(rebasing: x[0..<128]), into: $0) } }
            Issue.record("expected an error")
        } catch {
            #expect("\(error)" == "a row of 128 weights is not a whole number of Q4_K blocks (256 weights each)")
        }
    }
}
