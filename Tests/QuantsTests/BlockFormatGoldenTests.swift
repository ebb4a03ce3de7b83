import Foundation
import Quants
import Testing

/// moepack's quantizers against bytes produced by llama.cpp's `ggml_quantize_chunk` (see
/// Fixtures/PROVENANCE.md): every format must match bit for bit, with and without importance weights.
@Suite struct BlockFormatGoldenTests {
    static let columns = 512
    static let fixtures = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")

    static func floats(_ name: String) throws -> [Float] {
        let data = try Data(contentsOf: fixtures.appendingPathComponent(name))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    /// Every type moepack implements (`GGMLType.format`) except F32, which is stored as it is: a
    /// format added without fixtures fails here. IQ2_XXS, IQ2_XS and IQ1_S have no unweighted
    /// quantizer in llama.cpp (it asserts importance weights): their unweighted fixtures were made
    /// with all-ones weights, which moepack substitutes.
    static let goldenTypes = GGMLType.allCases.filter { $0.format != nil && $0 != .f32 }

    @Test(arguments: goldenTypes, [false, true])
    func matchesLlamaCpp(type: GGMLType, weighted: Bool) throws {
        let format = try #require(type.format)
        let inputs = try Self.floats("inputs.f32")
        let importance = try Self.floats("importance.f32")
        let expected = try Data(contentsOf: Self.fixtures.appendingPathComponent("\(type.name)\(weighted ? ".imatrix" : "").bin"))
        let rowBytes = try #require(type.rowBytes(Self.columns))
        let rows = inputs.count / Self.columns
        #expect(expected.count == rowBytes * rows)
        var produced = [UInt8](repeating: 0xEE, count: rowBytes * rows)
        inputs.withUnsafeBufferPointer { x in
            importance.withUnsafeBufferPointer { w in
                produced.withUnsafeMutableBytes { out in
                    for row in 0..<rows {
                        format.quantizeRow(
                            x.baseAddress! + row * Self.columns, count: Self.columns,
                            importance: weighted ? w.baseAddress! : nil, into: out.baseAddress! + row * rowBytes)
                    }
                }
            }
        }
        for row in 0..<rows {
            let range = (row * rowBytes)..<((row + 1) * rowBytes)
            if Array(expected[range]) != Array(produced[range]) {
                let first = range.first { expected[$0] != produced[$0] }!
                Issue.record("\(type.name)\(weighted ? " (imatrix)" : ""): row \(row) differs first at byte \(first - range.lowerBound) (block \((first - range.lowerBound) / type.blockGeometry.bytes)): expected \(expected[first]), got \(produced[first])")
            }
        }
    }
}
