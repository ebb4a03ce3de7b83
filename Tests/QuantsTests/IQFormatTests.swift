import Foundation
import QuantKernels
import QuantKernels
import Quants
import Testing

/// The IQ1/IQ2/IQ3 lattice formats: lane decoder vs scalar transcription, fused dot products vs
/// dequantize-then-dot.
@Suite struct IQFormatTests {
    static let types: [GGMLType] = [.iq2_xxs, .iq2_xs, .iq2_s, .iq3_xxs, .iq3_s, .iq1_s, .iq1_m]

    static func reference(_ type: GGMLType) -> (UnsafeRawPointer, Int, UnsafeMutablePointer<Float>) -> Void {
        switch type {
        case .iq2_xxs: { IQ2_XXS.dequantizeRowReference($0, count: $1, into: $2) }
        case .iq2_xs: { IQ2_XS.dequantizeRowReference($0, count: $1, into: $2) }
        case .iq2_s: { IQ2_S.dequantizeRowReference($0, count: $1, into: $2) }
        case .iq3_xxs: { IQ3_XXS.dequantizeRowReference($0, count: $1, into: $2) }
        case .iq3_s: { IQ3_S.dequantizeRowReference($0, count: $1, into: $2) }
        case .iq1_s: { IQ1_S.dequantizeRowReference($0, count: $1, into: $2) }
        default: { IQ1_M.dequantizeRowReference($0, count: $1, into: $2) }
        }
    }

    /// Random bytes (every scale bit pattern, NaN and infinity included): the same floats.
    @Test(arguments: types)
    func laneDecoderEqualsScalarTranscription(type: GGMLType) {
        var random = SplitMix64(seed: 3 + UInt64(type.rawValue))
        let count = 256 * 64
        let bytes = (0..<type.rowBytes(count)!).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        var fast = [Float](repeating: 0, count: count), slow = fast
        bytes.withUnsafeBytes { b in
            fast.withUnsafeMutableBufferPointer { type.format!.dequantizeRow(b.baseAddress!, count: count, into: $0.baseAddress!) }
            slow.withUnsafeMutableBufferPointer { Self.reference(type)(b.baseAddress!, count, $0.baseAddress!) }
        }
        let differing = zip(fast, slow).filter { !($0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN)) }.count
        #expect(differing == 0, "\(type.name): \(differing) values differ")
    }

    /// Every SIMD build's lane decoder (baseline, AVX2) gives the reference floats; its dot products agree.
    @Test(arguments: types, SIMDLevel.supported)
    func everySIMDLevelDecodesTheSame(type: GGMLType, level: SIMDLevel) throws {
        let kernels = try #require(BlockKernels.forLevel(level)[type])
        let baseline = try #require(BlockKernels.baseline[type])
        var random = SplitMix64(seed: 5 + UInt64(type.rawValue))
        let count = 256 * 16
        let bytes = (0..<type.rowBytes(count)!).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        var fast = [Float](repeating: 0, count: count), slow = fast
        bytes.withUnsafeBytes { b in
            fast.withUnsafeMutableBufferPointer { kernels.dequantize!(b.baseAddress!, count, $0.baseAddress!) }
            slow.withUnsafeMutableBufferPointer { Self.reference(type)(b.baseAddress!, count, $0.baseAddress!) }
        }
        #expect(zip(fast, slow).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }, "\(type.name) at \(level)")
        // Dot products on finite rows: levels agree with each other to rounding.
        let x = (0..<count).map { _ in random.heavyTailedSample() * 0.03 }
        let v = (0..<count).map { _ in random.heavyTailedSample() }
        var row = [UInt8](repeating: 0, count: type.rowBytes(count)!)
        let ones = [Float](repeating: 1, count: count)
        x.withUnsafeBufferPointer { xp in ones.withUnsafeBufferPointer { w in row.withUnsafeMutableBytes { type.format!.quantizeRow(xp.baseAddress!, count: count, importance: w.baseAddress!, into: $0.baseAddress!) } } }
        let ours = row.withUnsafeBytes { b in v.withUnsafeBufferPointer { kernels.dot!(b.baseAddress!, $0.baseAddress!, count) } }
        let base = row.withUnsafeBytes { b in v.withUnsafeBufferPointer { baseline.dot!(b.baseAddress!, $0.baseAddress!, count) } }
        var w = [Float](repeating: 0, count: count)
        row.withUnsafeBytes { b in w.withUnsafeMutableBufferPointer { type.format!.dequantizeRow(b.baseAddress!, count: count, into: $0.baseAddress!) } }
        let magnitude = zip(w, v).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
        #expect(magnitude > 0 && abs(Double(ours) - Double(base)) <= 1e-5 * magnitude, "\(type.name) at \(level): \(ours) vs \(base)")
    }

    /// Fused dot product (F32 and BF16 vectors) vs the decoded row summed in Double.
    @Test(arguments: types)
    func dotProductAgreesWithDequantizeThenDot(type: GGMLType) throws {
        let format = try #require(type.dotProduct)
        var random = SplitMix64(seed: 11)
        for trial in 0..<12 {
            let count = 256 * (1 + trial % 5)
            let x = (0..<count).map { _ in random.heavyTailedSample() * 0.03 }
            let v = (0..<count).map { _ in random.heavyTailedSample() }
            let vBF16 = v.map { UInt16(truncatingIfNeeded: $0.bitPattern >> 16) }
            var bytes = [UInt8](repeating: 0, count: type.rowBytes(count)!)
            var w = [Float](repeating: 0, count: count)
            let importance = [Float](repeating: 1, count: count)
            x.withUnsafeBufferPointer { xp in
                importance.withUnsafeBufferPointer { ip in
                    bytes.withUnsafeMutableBytes { format.quantizeRow(xp.baseAddress!, count: count, importance: ip.baseAddress!, into: $0.baseAddress!) }
                }
            }
            bytes.withUnsafeBytes { b in w.withUnsafeMutableBufferPointer { format.dequantizeRow(b.baseAddress!, count: count, into: $0.baseAddress!) } }
            for bf16 in [false, true] {
                let vector = bf16 ? vBF16.map { Float(bitPattern: UInt32($0) << 16) } : v
                let reference = zip(w, vector).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                let magnitude = zip(w, vector).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
                let fast = bytes.withUnsafeBytes { b in
                    bf16
                        ? vBF16.withUnsafeBufferPointer { format.dot(b.baseAddress!, bf16: $0.baseAddress!, count: count) }
                        : v.withUnsafeBufferPointer { format.dot(b.baseAddress!, $0.baseAddress!, count: count) }
                }
                #expect(magnitude > 0)
                #expect(abs(Double(fast) - reference) <= 1e-5 * magnitude + 1e-30, "\(type.name) bf16 \(bf16), trial \(trial): \(fast) vs \(reference)")
            }
        }
    }
}
