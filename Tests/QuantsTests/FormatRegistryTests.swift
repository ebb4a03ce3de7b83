import Foundation
import QuantKernels
import Quants
import Testing

/// The type registry (`GGMLType.format`) against the per-level kernel tables and the golden
/// fixtures: a format added in one place and forgotten in another fails here, by name.
@Suite struct FormatRegistryTests {
    /// Every type moepack writes except F32 (stored as it is, no kernels and no fixtures).
    static let registered = GGMLType.allCases.filter { $0.format != nil && $0 != .f32 }

    @Test(arguments: registered)
    func everyFormatHasGoldenFixtures(type: GGMLType) {
        for suffix in ["", ".imatrix"] {
            let file = BlockFormatGoldenTests.fixtures.appendingPathComponent("\(type.name)\(suffix).bin")
            #expect(FileManager.default.fileExists(atPath: file.path), "\(type.name) has no fixture \(file.lastPathComponent) (Tests/QuantsTests/Fixtures/PROVENANCE.md)")
        }
    }

    @Test(arguments: registered)
    func everyFormatHasRowKernelsAtEveryLevel(type: GGMLType) throws {
        let format = try #require(type.format)
        #expect(format.type == type, "GGMLType.format of \(type.name) is the format of \(format.type.name)")
        for level in SIMDLevel.supported {
            let kernels = try #require(BlockKernels.forLevel(level)[type], "\(type.name) is not in the \(level) table")
            #expect(kernels.dequantize != nil, "\(type.name) has no dequantize kernel at \(level)")
            // The levels are one source compiled twice: the same operations everywhere.
            let baseline = try #require(BlockKernels.baseline[type])
            let present = { (k: RowKernels) in
                [k.quantize != nil, k.quantizeWeighted != nil, k.dequantize != nil, k.dot != nil, k.dotBF16 != nil]
            }
            #expect(present(kernels) == present(baseline), "\(type.name): \(level) and baseline tables differ")
            #expect((kernels.dot != nil) == (kernels.dotBF16 != nil), "\(type.name): F32 and BF16 dot products go together")
        }
        #expect((type.dotProduct != nil) == (BlockKernels.active[type]?.dot != nil), "\(type.name): dotProduct vs the table")
    }

    /// No table holds kernels for a type the registry does not name (they would never run).
    @Test(arguments: SIMDLevel.supported)
    func everyTableEntryIsRegistered(level: SIMDLevel) {
        let tabled = GGMLType.allCases.filter { BlockKernels.forLevel(level)[$0] != nil }
        #expect(tabled == Self.registered, "\(level) table: \(tabled.map(\.name)) vs registry \(Self.registered.map(\.name))")
    }
}
