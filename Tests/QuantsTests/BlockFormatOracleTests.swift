import Foundation
import Quants
import TestSupport
import Testing

/// Our block bytes as llama.cpp's Python package `gguf` reads them, and gguf-py's own quantizers.
@Suite(.enabled(if: TestSupport.oraclesAvailable)) struct BlockFormatOracleTests {
    static let implemented = GGMLType.allCases.filter { $0.format != nil && $0 != .f32 }

    func ggufDequantize(_ type: GGMLType, _ bytes: [UInt8]) throws -> [Float] {
        let directory = TestSupport.scratchDirectory("gguf-\(type.name)")
        try Data(bytes).write(to: URL(fileURLWithPath: directory + "/in.bin"))
        _ = try TestSupport.oracle("gguf_blocks.py", ["dequantize", type.name, directory + "/in.bin", directory + "/out.f32"])
        let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/out.f32"))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    func ourDequantize(_ type: GGMLType, _ bytes: [UInt8], count: Int) -> [Float] {
        var values = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in values.withUnsafeMutableBufferPointer { type.format!.dequantizeRow(raw.baseAddress!, count: count, into: $0.baseAddress!) } }
        return values
    }

    /// Random bytes cover every scale bit pattern (gguf-py's own trick); values must be identical,
    /// NaN where gguf-py has NaN.
    @Test(arguments: implemented)
    func dequantizationOfRandomBytesMatchesGGUF(type: GGMLType) throws {
        var random = SplitMix64(seed: UInt64(type.rawValue) * 7919)
        let count = 512 * 8
        let bytes = (0..<type.rowBytes(count)!).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        let ours = ourDequantize(type, bytes, count: count)
        let theirs = try ggufDequantize(type, bytes)
        #expect(theirs.count == count)
        let mismatches = zip(ours, theirs).enumerated().filter { _, pair in
            !(pair.0.bitPattern == pair.1.bitPattern || (pair.0.isNaN && pair.1.isNaN))
        }
        #expect(mismatches.isEmpty, "\(type.name): \(mismatches.count) values differ, first at \(mismatches.first.map { "\($0.offset): ours \($0.element.0), gguf \($0.element.1)" } ?? "")")
    }

    /// The legacy formats and BF16 have quantizers in gguf-py; our bytes must equal theirs.
    @Test(arguments: [GGMLType.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .bf16])
    func quantizationMatchesGGUF(type: GGMLType) throws {
        var random = SplitMix64(seed: 99)
        var values = (0..<(512 * 16)).map { _ in random.heavyTailedSample() * 0.05 }
        for i in 0..<512 { values[3 * 512 + i] = 0 }  // an all-zero row
        values[5 * 512 + 17] = 1e4  // one spike
        let directory = TestSupport.scratchDirectory("ggufq-\(type.name)")
        try values.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: directory + "/in.f32")) }
        _ = try TestSupport.oracle("gguf_blocks.py", ["quantize", type.name, directory + "/in.f32", directory + "/out.bin"])
        let theirs = try Data(contentsOf: URL(fileURLWithPath: directory + "/out.bin"))
        var ours = [UInt8](repeating: 0, count: type.rowBytes(values.count)!)
        values.withUnsafeBufferPointer { x in
            ours.withUnsafeMutableBytes { out in
                for row in 0..<16 {
                    type.format!.quantizeRow(x.baseAddress! + 512 * row, count: 512, importance: nil, into: out.baseAddress! + row * type.rowBytes(512)!)
                }
            }
        }
        #expect(Array(theirs) == ours)
    }
}
