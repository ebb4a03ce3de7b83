import Foundation
import Quants
import TestSupport
import Testing

/// The IQ1/IQ2/IQ3 quantizers against llama.cpp's `ggml_quantize_chunk` on many random rows (more
/// paths than the golden fixtures reach: off-grid neighbours, sign-parity flips, zero groups inside
/// a block, tiny and huge scales). Needs a Python with llama-cpp-python:
///
///     MOEPACK_LLAMA_PYTHON=/tmp/llama/bin/python swift test -c release --filter IQLlamaCppParityTests
@Suite(.enabled(if: ProcessInfo.processInfo.environment["MOEPACK_LLAMA_PYTHON"] != nil))
struct IQLlamaCppParityTests {
    static let types: [GGMLType] = [.iq2_xxs, .iq2_xs, .iq2_s, .iq3_xxs, .iq3_s, .iq1_s, .iq1_m]

    /// Rows of assorted shapes: heavy-tailed, Gaussian-like, sparse (whole zero groups), one-signed,
    /// repeated values (as FP8-dequantized weights have), tiny and large magnitudes.
    static func rows(columns: Int, count: Int, seed: UInt64) -> [Float] {
        var random = SplitMix64(seed: seed)
        var x = [Float](repeating: 0, count: columns * count)
        for r in 0..<count {
            let scale: Float = [1e-6, 1e-3, 0.02, 1, 300][r % 5]
            for c in 0..<columns {
                var v = random.heavyTailedSample() * scale
                switch r % 7 {
                case 1: if (c / 16) % 3 == 1 { v = 0 }
                case 2: v = abs(v)
                case 3: v = (v / scale * 4).rounded() / 4 * scale
                case 4: if c % 8 == 0 { v = -v * 3 }
                case 5: if (c / 32) % 2 == 0 { v = 0 }
                default: break
                }
                x[r * columns + c] = v
            }
        }
        return x
    }

    /// `llamaCppRequiresImportance` is `ggml_quantize_requires_imatrix` for every type id.
    @Test func importanceRequirementMatchesGGML() throws {
        let python = ProcessInfo.processInfo.environment["MOEPACK_LLAMA_PYTHON"]!
        let script = """
            import ctypes, os, llama_cpp
            lib = ctypes.CDLL(os.path.join(os.path.dirname(llama_cpp.__file__), "lib", "libggml-base.so"))
            lib.ggml_quantize_requires_imatrix.restype = ctypes.c_bool
            print(" ".join(str(t) for t in range(40) if lib.ggml_quantize_requires_imatrix(t)))
            """
        let result = try TestSupport.run(python, ["-c", script])
        #expect(result.status == 0, "\(result.stderr.suffix(2000))")
        let theirs = result.stdout.split(separator: " ").compactMap { UInt32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        #expect(theirs == GGMLType.allCases.filter(\.llamaCppRequiresImportance).map(\.rawValue))
    }

    @Test(arguments: types, [false, true])
    func bytesEqualLlamaCpp(type: GGMLType, weighted: Bool) throws {
        let python = ProcessInfo.processInfo.environment["MOEPACK_LLAMA_PYTHON"]!
        let columns = 1024, count = 70
        let x = Self.rows(columns: columns, count: count, seed: 17 + UInt64(type.rawValue))
        var random = SplitMix64(seed: 99)
        let importance = (0..<columns).map { _ in Float(random.next() % 1000) / 250 + 0.001 }
        let weights: [Float]? = weighted ? importance : type.llamaCppRequiresImportance ? [Float](repeating: 1, count: columns) : nil
        let directory = TestSupport.scratchDirectory("iq-parity-\(type.name)-\(weighted)")
        try x.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: directory + "/in.f32")) }
        if let weights { try weights.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: directory + "/imp.f32")) } }
        let result = try TestSupport.run(python, [
            TestSupport.packageRoot + "/Tests/Oracles/ggml_quantize_rows.py", "\(type.rawValue)", "\(columns)", directory + "/in.f32",
            weights == nil ? "-" : directory + "/imp.f32", directory + "/out.bin",
        ])
        #expect(result.status == 0, "\(result.stderr.suffix(2000))")
        let theirs = try Data(contentsOf: URL(fileURLWithPath: directory + "/out.bin"))
        let rowBytes = type.rowBytes(columns)!
        var ours = [UInt8](repeating: 0, count: rowBytes * count)
        x.withUnsafeBufferPointer { xp in
            importance.withUnsafeBufferPointer { w in
                ours.withUnsafeMutableBytes { out in
                    for r in 0..<count {
                        type.format!.quantizeRow(
                            xp.baseAddress! + r * columns, count: columns, importance: weighted ? w.baseAddress! : nil,
                            into: out.baseAddress! + r * rowBytes)
                    }
                }
            }
        }
        #expect(theirs.count == ours.count)
        let differing = (0..<count).filter { r in Array(theirs[(r * rowBytes)..<((r + 1) * rowBytes)]) != Array(ours[(r * rowBytes)..<((r + 1) * rowBytes)]) }
        #expect(differing.isEmpty, "\(type.name)\(weighted ? " (imatrix)" : ""): rows \(differing) differ")
    }
}
