import Foundation
import QuantKernels
import Quants
import Testing

@Suite struct DotProductTests {
    /// Fast dot product vs the reference "dequantize, then sum in Double", within F32 rounding.
    @Test(arguments: [GGMLType.q8_0, .q4_K, .q6_K], SIMDLevel.supported)
    func agreesWithDequantizeThenDot(type: GGMLType, level: SIMDLevel) throws {
        #expect(type.dotProduct != nil)
        let kernel = try #require(BlockKernels.forLevel(level)[type]?.dot)
        var random = SplitMix64(seed: 5)
        for trial in 0..<20 {
            let count = 256 * (1 + trial % 5)
            let x = (0..<count).map { _ in random.heavyTailedSample() * 0.03 }
            let v = (0..<count).map { _ in random.heavyTailedSample() }
            var bytes = [UInt8](repeating: 0, count: type.rowBytes(count)!)
            var w = [Float](repeating: 0, count: count)
            x.withUnsafeBufferPointer { xp in bytes.withUnsafeMutableBytes { type.format!.quantizeRow(xp.baseAddress!, count: count, importance: nil, into: $0.baseAddress!) } }
            bytes.withUnsafeBytes { b in w.withUnsafeMutableBufferPointer { type.format!.dequantizeRow(b.baseAddress!, count: count, into: $0.baseAddress!) } }
            let reference = zip(w, v).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let magnitude = zip(w, v).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
            let fast = bytes.withUnsafeBytes { b in v.withUnsafeBufferPointer { kernel(b.baseAddress!, $0.baseAddress!, count) } }
            #expect(abs(Double(fast) - reference) <= 1e-5 * magnitude + 1e-30, "\(type.name) at \(level), trial \(trial): \(fast) vs \(reference)")
        }
    }

    /// With a BF16 vector: the same reference on the vector's BF16 values, at every SIMD level.
    @Test(arguments: [GGMLType.q8_0, .q4_K, .q6_K], SIMDLevel.supported)
    func bf16VectorAgreesWithDequantizeThenDot(type: GGMLType, level: SIMDLevel) throws {
        let kernel = try #require(BlockKernels.forLevel(level)[type]?.dotBF16)
        var random = SplitMix64(seed: 6)
        for trial in 0..<10 {
            let count = 256 * (1 + trial % 5)
            let x = (0..<count).map { _ in random.heavyTailedSample() * 0.03 }
            let v = (0..<count).map { _ in BFloat16.fromFloat(random.heavyTailedSample()) }
            var bytes = [UInt8](repeating: 0, count: type.rowBytes(count)!)
            var w = [Float](repeating: 0, count: count)
            x.withUnsafeBufferPointer { xp in bytes.withUnsafeMutableBytes { type.format!.quantizeRow(xp.baseAddress!, count: count, importance: nil, into: $0.baseAddress!) } }
            bytes.withUnsafeBytes { b in w.withUnsafeMutableBufferPointer { type.format!.dequantizeRow(b.baseAddress!, count: count, into: $0.baseAddress!) } }
            let values = v.map(BFloat16.toFloat)
            let reference = zip(w, values).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let magnitude = zip(w, values).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
            let fast = bytes.withUnsafeBytes { b in v.withUnsafeBufferPointer { kernel(b.baseAddress!, $0.baseAddress!, count) } }
            #expect(abs(Double(fast) - reference) <= 1e-5 * magnitude + 1e-30, "\(type.name) at \(level), trial \(trial): \(fast) vs \(reference)")
            let viaFormat = bytes.withUnsafeBytes { b in v.withUnsafeBufferPointer { type.dotProduct!.dot(b.baseAddress!, bf16: $0.baseAddress!, count: count) } }
            if level == SIMDLevel.active { #expect(viaFormat.bitPattern == fast.bitPattern) }
        }
    }
}
