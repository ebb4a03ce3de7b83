import Foundation
import Quants
import Testing

@Suite struct FP8BlockDequantTests {
    /// The weight_dequant definition, element by element: fp8 -> f32, times the block's scale.
    static func naive(_ codes: [UInt8], rows: Int, columns: Int, scales: [Float], block: Int) -> [Float] {
        let gridColumns = (columns + block - 1) / block
        return (0..<(rows * columns)).map { index in
            let r = index / columns, c = index % columns
            return Float8E4M3.decodeReference(codes[index]) * scales[(r / block) * gridColumns + c / block]
        }
    }

    static func randomCase(rows: Int, columns: Int, block: Int, seed: UInt64) -> ([UInt8], [Float]) {
        var random = SplitMix64(seed: seed)
        let codes = (0..<(rows * columns)).map { _ -> UInt8 in
            var code = UInt8(truncatingIfNeeded: random.next())
            if Float8E4M3.isNaN(code) { code = 0x00 }
            return code
        }
        let grid = FP8BlockDequant.scaleGridShape(rows: rows, columns: columns, blockSize: block)
        let scales = (0..<(grid.rows * grid.columns)).map { _ in powf(2, random.unit() * 24 - 16) * (1 + random.unit()) }
        return (codes, scales)
    }

    func run(_ codes: [UInt8], rows: Int, columns: Int, scales: [Float], block: Int, type: DenseFloatType) -> ([UInt8], DequantProblem?) {
        var output = [UInt8](repeating: 0, count: rows * columns * type.byteWidth)
        let problem = codes.withUnsafeBufferPointer { codePointer in
            scales.withUnsafeBufferPointer { scalePointer in
                output.withUnsafeMutableBytes { out in
                    FP8BlockDequant.dequantize(
                        weight: codePointer.baseAddress!, columns: columns, rows: 0..<rows,
                        scales: scalePointer.baseAddress!, blockSize: block, encoding: .e4m3fn,
                        output: out.baseAddress!, outputType: type)
                }
            }
        }
        return (output, problem)
    }

    /// Ragged shapes: partial blocks on both axes, widths that are not multiples of the SIMD width.
    @Test(arguments: [(576, 300), (1, 1), (130, 129), (128, 128), (257, 17), (64, 1000)])
    func matchesTheDefinitionBitForBit(shape: (Int, Int)) {
        let (rows, columns) = shape
        let (codes, scales) = Self.randomCase(rows: rows, columns: columns, block: 128, seed: UInt64(rows * 7919 + columns))
        let expected = Self.naive(codes, rows: rows, columns: columns, scales: scales, block: 128)
        let (f32, p1) = run(codes, rows: rows, columns: columns, scales: scales, block: 128, type: .f32)
        #expect(p1 == nil)
        f32.withUnsafeBytes { bytes in
            let values = bytes.bindMemory(to: Float.self)
            #expect(values.elementsEqual(expected) { $0.bitPattern == $1.bitPattern })
        }
        let (bf16, p2) = run(codes, rows: rows, columns: columns, scales: scales, block: 128, type: .bf16)
        #expect(p2 == nil)
        bf16.withUnsafeBytes { bytes in
            #expect(bytes.bindMemory(to: UInt16.self).elementsEqual(expected.map(BFloat16.fromFloat)))
        }
        let (f16, p3) = run(codes, rows: rows, columns: columns, scales: scales.map { min($0, 100) }, block: 128, type: .f16)
        #expect(p3 == nil)
        let expected16 = Self.naive(codes, rows: rows, columns: columns, scales: scales.map { min($0, 100) }, block: 128)
        f16.withUnsafeBytes { bytes in
            #expect(bytes.bindMemory(to: UInt16.self).elementsEqual(expected16.map { Float16($0).bitPattern }))
        }
    }

    @Test func findsTheFirstNaNCode() {
        var (codes, scales) = Self.randomCase(rows: 200, columns: 300, block: 128, seed: 3)
        codes[150 * 300 + 37] = 0xFF
        codes[170 * 300 + 2] = 0x7F
        let (_, problem) = run(codes, rows: 200, columns: 300, scales: scales, block: 128, type: .bf16)
        #expect(problem == DequantProblem(row: 150, column: 37, kind: .nanCode(0xFF)))
        #expect(problem?.description == "NaN weight (FP8 code 0xFF) at [150, 37]")
    }

    @Test func reportsF16Overflow() {
        let codes: [UInt8] = [0x7E, 0x38]  // 448, 1.0
        let (_, problem) = run(codes, rows: 1, columns: 2, scales: [200], block: 128, type: .f16)
        #expect(problem?.row == 0 && problem?.column == 0)
        if case .overflow = problem?.kind {} else { Issue.record("expected overflow, got \(String(describing: problem))") }
    }

    @Test func resultsDoNotDependOnTheThreadCount() {
        let (codes, scales) = Self.randomCase(rows: 300, columns: 260, block: 128, seed: 5)
        var outputs: [[UInt8]] = []
        for threads in [1, 2, 7] {
            var output = [UInt8](repeating: 0, count: 300 * 260 * 2)
            output.withUnsafeMutableBytes { out in
                let destination = SendableMutableRawPointer(out.baseAddress!)
                codes.withUnsafeBufferPointer { c in
                    scales.withUnsafeBufferPointer { s in
                        let cp = SendableRawPointer(UnsafeRawPointer(c.baseAddress!))
                        let sp = SendableRawPointer(UnsafeRawPointer(s.baseAddress!))
                        parallelFor(300, threads: threads) { range in
                            _ = FP8BlockDequant.dequantize(
                                weight: cp.pointer.assumingMemoryBound(to: UInt8.self), columns: 260, rows: range,
                                scales: sp.pointer.assumingMemoryBound(to: Float.self), blockSize: 128, encoding: .e4m3fn,
                                output: destination.pointer + range.lowerBound * 260 * 2, outputType: .bf16)
                        }
                    }
                }
            }
            outputs.append(output)
        }
        #expect(outputs[0] == outputs[1] && outputs[1] == outputs[2])
    }
}
