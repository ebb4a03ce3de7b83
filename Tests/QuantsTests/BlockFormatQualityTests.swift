import Foundation
import Quants
import Testing

/// Round-trip error per format and input class, against the figures llama.cpp's own quantizer
/// reaches on the same rows (Fixtures/rmse-reference.json, written by
/// `Tests/Oracles/make_block_goldens.py`, see PROVENANCE.md).
@Suite struct BlockFormatQualityTests {
    struct Reference: Decodable {
        var classes: [String: [Int]]
        var rmse: [String: [String: Double]]
    }

    static let reference: Reference = {
        let url = BlockFormatGoldenTests.fixtures.appendingPathComponent("rmse-reference.json")
        return try! JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }()

    static func rmse(_ type: GGMLType, weighted: Bool) throws -> [String: Double] {
        let inputs = try BlockFormatGoldenTests.floats("inputs.f32")
        let importance = try BlockFormatGoldenTests.floats("importance.f32")
        let columns = BlockFormatGoldenTests.columns
        var result: [String: Double] = [:]
        for (name, rows) in reference.classes {
            var sum = 0.0
            for row in rows {
                var bytes = [UInt8](repeating: 0, count: type.rowBytes(columns)!)
                var back = [Float](repeating: 0, count: columns)
                try inputs.withUnsafeBufferPointer { x in
                    let slice = UnsafeBufferPointer(rebasing: x[(row * columns)..<((row + 1) * columns)])
                    try importance.withUnsafeBufferPointer { w in
                        try bytes.withUnsafeMutableBytes { try type.quantize(row: slice, importance: weighted ? w : nil, into: $0) }
                    }
                    try bytes.withUnsafeBytes { b in try back.withUnsafeMutableBufferPointer { try type.dequantize(row: b, count: columns, into: $0) } }
                    for i in 0..<columns {
                        let error = Double(back[i]) - Double(slice[i])
                        sum += error * error
                    }
                }
            }
            result[name] = (sum / Double(rows.count * columns)).squareRoot()
        }
        return result
    }

    @Test(arguments: BlockFormatGoldenTests.goldenTypes, [false, true])
    func errorDoesNotExceedLlamaCpp(type: GGMLType, weighted: Bool) throws {
        let ours = try Self.rmse(type, weighted: weighted)
        let theirs = try #require(Self.reference.rmse[type.name + (weighted ? ".imatrix" : "")])
        for (name, reference) in theirs {
            let value = try #require(ours[name])
            #expect(value <= reference * (1 + 1e-9), "\(type.name) \(name): RMSE \(value) vs llama.cpp \(reference)")
        }
    }

    /// More bits, less error, on the classes that look like weights (the outlier and edge-case
    /// rows are excluded: a single huge value dominates them).
    @Test func errorFallsWithBitsPerWeight() throws {
        let ladders: [[GGMLType]] = [[.q2_K, .q3_K, .iq4_xs, .q5_K, .q6_K, .q8_0], [.q3_K, .q4_K, .q5_K], [.q4_0, .q5_0, .q8_0], [.q4_1, .q5_1, .q8_0]]
        for ladder in ladders {
            let errors = try ladder.map { try Self.rmse($0, weighted: false) }
            for name in ["cos", "gaussian", "student_t", "fp8_dequantized"] {
                let column = errors.map { $0[name]! }
                #expect(zip(column, column.dropFirst()).allSatisfy { $0 > $1 }, "\(ladder.map(\.name)) on \(name): \(column)")
            }
        }
    }
}
