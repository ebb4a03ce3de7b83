import AVX512Kernels
import Conversion
import DeepSeekV3
import Foundation
import Inference
import Quants
import SyntheticModels
import TestSupport
import TensorFiles
import Testing

/// `--precision bf16`: the C kernels against the definition of BF16 rounding and of the product,
/// and the engine's mode (deterministic, really BF16, close to f32). Skipped on CPUs without
/// AVX-512 BF16, where the mode refuses to run (tested below).
@Suite(.enabled(if: Precision.bf16.isSupported, "the CPU has no AVX-512 BF16"))
struct BF16PrecisionTests {
    /// The definition: round to nearest even (PyTorch's `.to(torch.bfloat16)`, `BFloat16.fromFloat`),
    /// NaN quieted; the instruction treats subnormal inputs as zero (VCVTNE2PS2BF16 is DAZ).
    static func reference(_ value: Float) -> UInt16 {
        if value.isSubnormal { return value.sign == .minus ? 0x8000 : 0 }
        return BFloat16.fromFloat(value)
    }

    /// Values that exercise every rounding case: ties to even both ways, carries into the exponent,
    /// overflow to infinity, NaN, zeros, subnormals, and random floats of every magnitude.
    static let awkwardValues: [Float] = {
        var bits: [UInt32] = [
            0x3F80_8000, 0x3F81_8000, 0x3F80_7FFF, 0x3F80_8001, 0x3F7F_FFFF, 0x7F7F_FFFF, 0xFF7F_FFFF, 0x7F80_0000,
            0xFF80_0000, 0x7FC0_0001, 0x7F80_0001, 0xFFC1_2345, 0, 0x8000_0000, 0x0000_0001, 0x807F_FFFF, 0x0080_0000, 0x0080_8000,
        ]
        var random = SplitMix64(seed: 11)
        while bits.count < 4096 { bits.append(UInt32(truncatingIfNeeded: random.next())) }
        return bits.map(Float.init(bitPattern:))
    }()

    @Test(arguments: [1, 2, 31, 32, 33, 47, 64, 4096])
    func rowsRoundAsTheDefinitionSays(columns: Int) {
        let values = Array(Self.awkwardValues.prefix(columns * Swift.max(1, 4096 / columns)))
        let rows = values.count / columns
        let pairs = (columns + 1) / 2
        var words = [UInt32](repeating: 0xDEAD_BEEF, count: rows * pairs + 1)
        values.withUnsafeBufferPointer { v in moepack_bf16_pack_rows(v.baseAddress!, rows, columns, columns, &words) }
        for r in 0..<rows {
            for c in 0..<columns {
                let word = words[r * pairs + c / 2]
                let half = UInt16(truncatingIfNeeded: c % 2 == 0 ? word : word >> 16)
                #expect(half == Self.reference(values[r * columns + c]), "row \(r) column \(c): \(values[r * columns + c].bitPattern)")
            }
            if columns % 2 == 1 { #expect(words[r * pairs + pairs - 1] >> 16 == 0, "odd row's padding") }
        }
        #expect(words[rows * pairs] == 0xDEAD_BEEF, "wrote past the rows")
    }

    /// Panel layout: row 32j+i's pair p at word (j·pairs + p)·32 + i, padding rows zero.
    @Test(arguments: [(1, 2), (32, 8), (33, 7), (70, 65)])
    func panelsHoldTheRowsInterleaved(rows: Int, columns: Int) {
        var random = SplitMix64(seed: 5)
        let values = (0..<(rows * columns)).map { _ in Float.random(in: -2...2, using: &random) }
        let pairs = (columns + 1) / 2, panels = (rows + 31) / 32
        var rowWords = [UInt32](repeating: 0, count: rows * pairs)
        var panelWords = [UInt32](repeating: 0xDEAD_BEEF, count: panels * 32 * pairs)
        values.withUnsafeBufferPointer { v in
            moepack_bf16_pack_rows(v.baseAddress!, rows, columns, columns, &rowWords)
            moepack_bf16_pack_panels(v.baseAddress!, rows, columns, columns, &panelWords)
        }
        for j in 0..<panels {
            for p in 0..<pairs {
                for i in 0..<32 {
                    let r = j * 32 + i
                    #expect(panelWords[(j * pairs + p) * 32 + i] == (r < rows ? rowWords[r * pairs + p] : 0))
                }
            }
        }
    }

    /// The panels of a transpose, packed without writing it, are the panels of the transposed matrix.
    @Test(arguments: [(1, 1), (2, 32), (7, 33), (64, 70), (65, 512)])
    func transposedPanelsAreThePanelsOfTheTranspose(rows: Int, columns: Int) {
        var random = SplitMix64(seed: 9)
        let values = (0..<(rows * columns)).map { _ in Float.random(in: -3...3, using: &random) }
        var transposed = [Float](repeating: 0, count: rows * columns)
        for r in 0..<rows { for c in 0..<columns { transposed[c * rows + r] = values[r * columns + c] } }
        let count = (columns + 31) / 32 * 32 * ((rows + 1) / 2)
        var expected = [UInt32](repeating: 0xDEAD_BEEF, count: count), direct = [UInt32](repeating: 0xFEED_F00D, count: count)
        transposed.withUnsafeBufferPointer { moepack_bf16_pack_panels($0.baseAddress!, columns, rows, rows, &expected) }
        values.withUnsafeBufferPointer { moepack_bf16_pack_transposed_panels($0.baseAddress!, rows, columns, columns, &direct) }
        #expect(direct == expected)
    }

    /// Products against f64 sums of the rounded operands, and each output the same bits whatever
    /// rows of x and which panels a call covers (what makes the engine's results independent of
    /// batches and threads).
    @Test(arguments: [(1, 1, 1), (5, 33, 7), (8, 32, 256), (19, 100, 257), (64, 70, 130)])
    func productsAreF32SumsOfBF16Products(m: Int, n: Int, k: Int) {
        var random = SplitMix64(seed: UInt64(m * 1000 + n * 10 + k))
        let x = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &random) }
        let w = (0..<(n * k)).map { _ in Float.random(in: -1...1, using: &random) }
        let pairs = (k + 1) / 2
        var xWords = [UInt32](repeating: 0, count: m * pairs)
        var wWords = [UInt32](repeating: 0, count: (n + 31) / 32 * 32 * pairs)
        x.withUnsafeBufferPointer { moepack_bf16_pack_rows($0.baseAddress!, m, k, k, &xWords) }
        w.withUnsafeBufferPointer { moepack_bf16_pack_panels($0.baseAddress!, n, k, k, &wWords) }
        var y = [Float](repeating: .nan, count: m * n)
        moepack_bf16_multiply(m, n, k, xWords, wWords, &y, n)
        let rounded = { (v: Float) in BFloat16.toFloat(Self.reference(v)) }
        for i in 0..<m {
            for j in 0..<n {
                var exact = 0.0, magnitude = 0.0
                for c in 0..<k {
                    let product = Double(rounded(x[i * k + c])) * Double(rounded(w[j * k + c]))
                    exact += product
                    magnitude += abs(product)
                }
                // f32 accumulation of k/2 pair sums: a few ulp of the sum of magnitudes per step.
                #expect(abs(Double(y[i * n + j]) - exact) <= Double(k) * 1.2e-7 * magnitude + 1e-30, "y[\(i)][\(j)]")
            }
        }
        // One row of x at a time, and the panels from the second on, give the same bits.
        for i in 0..<m {
            var row = [Float](repeating: .nan, count: n)
            xWords.withUnsafeBufferPointer { xs in moepack_bf16_multiply(1, n, k, xs.baseAddress! + i * pairs, wWords, &row, n) }
            #expect(row.map(\.bitPattern) == y[(i * n)..<(i * n + n)].map(\.bitPattern), "row \(i)")
        }
        if n > 32 {
            var tail = [Float](repeating: .nan, count: m * (n - 32))
            wWords.withUnsafeBufferPointer { ws in moepack_bf16_multiply(m, n - 32, k, xWords, ws.baseAddress! + 32 * pairs, &tail, n - 32) }
            for i in 0..<m { #expect(tail[(i * (n - 32))..<((i + 1) * (n - 32))].map(\.bitPattern) == y[(i * n + 32)..<(i * n + n)].map(\.bitPattern)) }
        }
    }

    static let chunks = Fixtures.chunks(count: 3, length: 40, vocabulary: Fixtures.tinyWeights.config.vocabSize, seed: 7)
    static func bits(_ matrices: [Matrix]) -> [[UInt32]] { matrices.map { $0.values.map(\.bitPattern) } }

    @Test func bf16LogitsDoNotDependOnThreadsOrBatches() throws {
        let one = try DeepSeekV3Model(source: Fixtures.tinyWeights, threads: 1, precision: .bf16)
        let two = try DeepSeekV3Model(source: Fixtures.tinyWeights, threads: 2, precision: .bf16)
        let five = try DeepSeekV3Model(source: Fixtures.tinyWeights, threads: 5, precision: .bf16)
        let batched = try two.logits(chunks: Self.chunks, positions: 0..<40)
        #expect(Self.bits(try one.logits(chunks: Self.chunks, positions: 0..<40)) == Self.bits(batched))
        #expect(Self.bits(try five.logits(chunks: Self.chunks, positions: 0..<40)) == Self.bits(batched))
        var single: [Matrix] = []
        for chunk in Self.chunks { single += try two.logits(chunks: [chunk], positions: 0..<40) }
        #expect(Self.bits(single) == Self.bits(batched))
    }

    /// The mode really rounds: most logits differ from f32's (what it costs is measured on the
    /// trained checkpoint, `BF16DevModelTests`).
    @Test func bf16ChangesTheLogits() throws {
        let f32 = try DeepSeekV3Model(source: Fixtures.tinyWeights, threads: 2).logits(chunks: Self.chunks, positions: 0..<40)
        let bf16 = try DeepSeekV3Model(source: Fixtures.tinyWeights, threads: 2, precision: .bf16).logits(chunks: Self.chunks, positions: 0..<40)
        let changed = zip(f32, bf16).reduce(0) { $0 + zip($1.0.values, $1.1.values).filter { $0 != $1 }.count }
        #expect(changed * 2 > f32.reduce(0) { $0 + $1.count }, "\(changed) logits changed")
        #expect(bf16.allSatisfy { $0.values.allSatisfy(\.isFinite) })
    }

    /// `--precision bf16` is recorded in the results' fingerprint (an f32 slice will not merge
    /// with it), and f32 results keep the fingerprint they had.
    @Test func resultsRecordThePrecision() throws {
        let root = TestSupport.scratchDirectory("bf16-results")
        let text = root + "/text.txt"
        try Data(SyntheticCorpus.text.utf8).write(to: URL(fileURLWithPath: text))
        let bf16 = root + "/bf16.json", f32 = root + "/f32.json"
        for (precision, path) in [("bf16", bf16), ("f32", f32)] {
            let result = try TestSupport.run(
                TestSupport.moepackBinary, ["perplexity", Fixtures.tiny, "--text", text, "--ctx", "64", "--chunks", "2", "--precision", precision, "--quiet", "--results", path])
            #expect(result.status == 0, "\(result.stderr)")
        }
        let decode = { (path: String) in try EvaluationResults.decode(Data(contentsOf: URL(fileURLWithPath: path)), file: path) }
        #expect(try decode(bf16).fingerprint.precision == Precision.bf16.fingerprintTag)
        #expect(try decode(f32).fingerprint.precision == nil)
        #expect(try !String(decoding: Data(contentsOf: URL(fileURLWithPath: f32)), as: UTF8.self).contains("precision"))
    }
}

/// What `--precision bf16` costs on the trained dev checkpoint: the mean KL divergence of its
/// next-token distributions from the f32 original's, on 4 held-out chunks, is far below a Q8_0
/// file's: a tenth at most (measured: 3e-6 against 2.1e-4 here, 9e-6 against 1.6e-4 over 12 chunks).
@Suite(.enabled(if: Precision.bf16.isSupported && TestSupport.devModelAvailable, "needs AVX-512 BF16 and ../shared/devmodel"))
struct BF16DevModelTests {
    @Test func bf16CostsFarLessThanQ8_0() throws {
        let (checkpoint, textPath) = try #require(TestSupport.devModel)
        let weights = try CheckpointWeights(directory: checkpoint)
        let tokenizer = try BPETokenizer(path: checkpoint)
        let chunks = TokenChunks(text: [UInt8](try Data(contentsOf: URL(fileURLWithPath: textPath))), tokenizer: tokenizer, context: 512)
        let held = (0..<4).map(chunks.chunk)
        var converter = GGUFConverter.Options()
        converter.threads = 2
        converter.progress = .quiet
        converter.recipe = .q8_0
        let q8 = TestSupport.scratchDirectory("bf16-dev") + "/q8.gguf"
        _ = try GGUFConverter(input: checkpoint, output: q8, options: converter).run()

        let base = try DeepSeekV3Model(source: weights, threads: 2).logits(chunks: held, positions: chunks.positions).map { Scoring.baseLogProbabilities($0) }
        func meanKLD(_ model: DeepSeekV3Model) throws -> Double {
            Fixtures.meanKLD(base: base, logits: try model.logits(chunks: held, positions: chunks.positions), targets: chunks.targets)
        }
        let bf16 = try meanKLD(DeepSeekV3Model(source: weights, threads: 2, precision: .bf16))
        let q8KLD = try meanKLD(DeepSeekV3Model(source: GGUFWeights(path: q8), threads: 2))
        #expect(bf16 > 0 && bf16 * 10 < q8KLD, "mean KLD: bf16 \(bf16), Q8_0 \(q8KLD)")
    }
}

/// On a CPU without AVX-512 BF16 the mode refuses with one line naming what is missing.
@Suite(.enabled(if: !Precision.bf16.isSupported, "the CPU has AVX-512 BF16"))
struct BF16UnsupportedTests {
    @Test func bf16IsRefusedWithAClearError() {
        #expect {
            _ = try DeepSeekV3Model(source: Fixtures.tinyWeights, threads: 1, precision: .bf16)
        } throws: { String(describing: $0).contains("AVX-512 BF16") }
    }
}
