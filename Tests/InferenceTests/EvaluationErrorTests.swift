import Conversion
import Foundation
import Inference
import SyntheticModels
import TensorFiles
import TestSupport
import Testing

/// Each bad input of the engine, `perplexity` and `verify` is refused with one line that names it.
@Suite struct EvaluationErrorTests {
    static let root = TestSupport.scratchDirectory("evaluation-errors")

    /// A GGUF with the F32 file's metadata, edited, and no tensors: enough to reach the config checks.
    func metadataOnlyGGUF(_ name: String, edit: ([(key: String, value: GGUFValue)]) -> [(key: String, value: GGUFValue)]) throws -> String {
        let source = try GGUFFile(path: GGUFSourceTests.f32)
        let path = Self.root + "/\(name).gguf"
        try GGUFWriter.write(try GGUFLayout(metadata: edit(source.metadata), tensors: []), to: path, data: [])
        return path
    }

    func message(_ body: () throws -> Void) -> String {
        do { try body() } catch { return "\(error)" }
        return "no error"
    }

    @Test func aGGUFOfAnotherArchitectureIsRefused() throws {
        let path = try metadataOnlyGGUF("llama") { $0.map { $0.key == "general.architecture" ? ($0.key, .string("llama")) : $0 } }
        #expect(message { _ = try GGUFWeights(path: path) } == "\(path): tensor -: general.architecture is not deepseek2")
    }

    @Test func aGGUFWithoutSigmoidGatingIsRefused() throws {
        // Without the key llama.cpp would silently route with softmax.
        let path = try metadataOnlyGGUF("softmax") { $0.filter { $0.key != "deepseek2.expert_gating_func" } }
        let text = message { _ = try GGUFWeights(path: path) }
        #expect(text.hasPrefix("\(path): tensor -: deepseek2.expert_gating_func is 1 (softmax"))
        #expect(text.contains("must say 2 (sigmoid)"))
    }

    @Test func aGGUFMissingATensorNamesIt() throws {
        // The F32 file without its embedding (a header with no tensors at all now stops earlier,
        // at its block count).
        let source = try GGUFFile(path: GGUFSourceTests.f32)
        let kept = source.tensors.filter { $0.name != "token_embd.weight" }
        let path = Self.root + "/no-embedding.gguf"
        try GGUFWriter.write(
            try GGUFLayout(metadata: source.metadata, tensors: kept.map { .init(name: $0.name, dimensions: $0.dimensions, type: $0.type) }),
            to: path, data: kept.map { Array(source.bytes(of: $0)) })
        #expect(message { _ = try GGUFWeights(path: path) } == "\(path): tensor token_embd.weight: missing from the GGUF file")
    }

    @Test func aNaNWeightNamesFileAndTensor() throws {
        let directory = Self.root + "/nan"
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.copyItem(atPath: Fixtures.tiny, toPath: directory)
        let tensor = "model.layers.0.self_attn.q_a_proj.weight"
        let checkpoint = try Checkpoint(directory: Fixtures.tiny)
        let shard = checkpoint.shard(of: tensor)!, info = checkpoint.info(tensor)!
        let file = directory + "/" + fileName(shard.path)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        try handle.seek(toOffset: UInt64(shard.fileRange(of: info).lowerBound + 5))
        try handle.write(contentsOf: Data([0x7F]))  // E4M3 NaN at [0, 5]
        try handle.close()
        let text = directory + "/text.txt"
        try Data(SyntheticCorpus.text.utf8).write(to: URL(fileURLWithPath: text))
        let result = try TestSupport.run(TestSupport.moepackBinary, ["perplexity", directory, "--text", text, "--ctx", "64", "--chunks", "1", "--quiet"])
        #expect(result.status == 1)
        // The run's header line, then exactly one error line.
        #expect(result.stderr.split(separator: "\n").last == "moepack: error: \(file): tensor \(tensor): NaN weight (FP8 code 0x7F) at [0, 5]")
    }

    /// The engine reads checkpoint rows with the reader `dequant` and `quantize` use, which checks
    /// each FP8 scale grid once: a NaN scale used to be multiplied in (NaN activations, no error)
    /// and a scale above 2^100 was accepted; both are now refused, naming the grid and the block.
    @Test(arguments: [("nan", [0x00, 0x00, 0xC0, 0x7F] as [UInt8]), ("\(Float(0x1p101))", [0x00, 0x00, 0x00, 0x72])])
    func aBadScaleIsRefusedByTheEngine(value: String, bytes: [UInt8]) throws {
        let directory = Self.root + "/scale-\(bytes[3])"
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.copyItem(atPath: Fixtures.tiny, toPath: directory)
        let tensor = "model.layers.0.self_attn.o_proj.weight", scale = tensor + "_scale_inv"
        let checkpoint = try Checkpoint(directory: directory)
        let shard = try #require(checkpoint.shard(of: scale)), info = try #require(checkpoint.info(scale))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: shard.path))
        try handle.seek(toOffset: UInt64(shard.fileRange(of: info).lowerBound + 4))  // block [0, 1]
        try handle.write(contentsOf: Data(bytes))
        try handle.close()
        let weights = try CheckpointWeights(directory: directory)
        let columns = try #require(checkpoint.info(tensor)).shape[1]
        var row = [Float](repeating: 0, count: columns)
        #expect(message { try row.withUnsafeMutableBufferPointer { try weights.read(tensor, rows: 0..<1, into: $0.baseAddress!) } }
            == "\(shard.path): tensor \(scale): scale \(value) at [0, 1] is not a finite scale below 2^100")
    }

    @Test func aBaseFileOfAnotherVocabularyIsRefused() throws {
        let tokens = Array(0..<200)
        let path = Self.root + "/other.base"
        let writer = try BaseLogitsWriter(
            path: path,
            header: BaseLogitsHeader(
                model: "other", context: 64, vocabulary: 999, firstChunk: 0, chunkCount: 0, positions: 31, bos: 0,
                tokenCount: tokens.count, tokensXXH3: TokenFingerprint.xxh3(tokens)),
            tokens: tokens)
        try writer.commit()
        let result = try TestSupport.run(TestSupport.moepackBinary, ["verify", "--base", path, "--quantized", GGUFSourceTests.f32, "--quiet"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("vocabulary 1024, the base's is 999"))
    }

    @Test func aFileThatIsNotABaseFileIsNamed() throws {
        let path = Self.root + "/not-a-base.bin"
        try Data("GGUF and more bytes than sixteen".utf8).write(to: URL(fileURLWithPath: path))
        #expect(message { _ = try BaseLogitsReader(path: path) } == "\(path): not a moepack base log-probabilities file (magic MPBASE02)")
    }

    @Test(arguments: [["--chunks", "5..2"], ["--chunks", "x"], ["--mem", "lots"], ["--chunks", "0"]])
    func malformedOptionsAreUsageErrors(arguments: [String]) throws {
        let result = try TestSupport.run(
            TestSupport.moepackBinary, ["perplexity", Fixtures.tiny, "--text", TestSupport.packageRoot + "/README.md", "--ctx", "64"] + arguments)
        #expect(result.status == 64)
        #expect(result.stderr.contains(arguments[0]))
    }

    // MARK: - Hostile input (issue 16)

    /// Regression: a GGUF's `yarn_beta_fast` 0 reached `Int(floor(NaN))` in YaRN; it now gives the
    /// config's own error. `block_count` 2³²−1 ran the engine into SIGSEGV; NaN or 2⁶⁴−1 in a size
    /// key trapped in `Int(_:)`.
    @Test func hostileGGUFMetadataIsRefusedBeforeTheEngineAllocates() throws {
        func replacing(_ key: String, _ value: GGUFValue) -> ([(key: String, value: GGUFValue)]) -> [(key: String, value: GGUFValue)] {
            { $0.map { $0.key == key ? ($0.key, value) : $0 } }
        }
        let beta = try metadataOnlyGGUF("beta0", edit: replacing("deepseek2.rope.scaling.yarn_beta_fast", .float32(0)))
        #expect(message { _ = try GGUFWeights(path: beta) } == "\(beta) (deepseek2 metadata): rope_scaling.beta_fast 0.0 must be finite (in f32) and > 0")
        let blocks = try metadataOnlyGGUF("blocks", edit: replacing("deepseek2.block_count", .uint32(.max)))
        #expect(message { _ = try GGUFWeights(path: blocks) } == "\(blocks) (deepseek2 metadata): num_hidden_layers 4294967295 outside 1...1024")
        // Within the config's bounds but more blocks than the file has tensors.
        let many = try metadataOnlyGGUF("many-blocks", edit: replacing("deepseek2.block_count", .uint32(1000)))
        #expect(message { _ = try GGUFWeights(path: many) } == "\(many): tensor -: deepseek2.block_count 1000 exceeds the file's 0 tensors")
        let nan = try metadataOnlyGGUF("nan-width", edit: replacing("deepseek2.embedding_length", .float32(.nan)))
        #expect(message { _ = try GGUFWeights(path: nan) } == "\(nan): tensor -: metadata key deepseek2.embedding_length is nan, not a whole number in range")
        let huge = try metadataOnlyGGUF("huge-width", edit: replacing("deepseek2.embedding_length", .uint64(.max)))
        #expect(message { _ = try GGUFWeights(path: huge) } == "\(huge): tensor -: metadata key deepseek2.embedding_length is 1.8446744073709552e+19, not a whole number in range")
        let theta = try metadataOnlyGGUF("theta", edit: replacing("deepseek2.rope.freq_base", .float32(-.infinity)))
        #expect(message { _ = try GGUFWeights(path: theta) } == "\(theta): tensor -: metadata key deepseek2.rope.freq_base is -inf, not a finite number")
    }

    static let baseTokens = (0..<300).map { ($0 * 7) % 50 }
    static let baseHeader = BaseLogitsHeader(
        model: "hostile test, 1 byte", context: 16, vocabulary: 64, firstChunk: 2, chunkCount: 4, positions: 7, bos: 0,
        tokenCount: baseTokens.count, tokensXXH3: TokenFingerprint.xxh3(baseTokens))

    static func logProbabilities(_ chunk: Int) -> Matrix {
        let m = Matrix(rows: 7, columns: 64)
        for i in 0..<m.count { m.pointer[i] = -Float((i * 31 + chunk * 17) % 97) / 8 - 0.01 }
        return m
    }

    /// A base file of `header` (chunks from `logProbabilities` when the header is sound).
    func baseFile(_ name: String, header: BaseLogitsHeader = Self.baseHeader, tokens: [Int] = Self.baseTokens, chunks: Int? = nil) throws -> String {
        let path = Self.root + "/\(name).base"
        let writer = try BaseLogitsWriter(path: path, header: header, tokens: tokens)
        for c in 0..<(chunks ?? max(0, min(header.chunkCount, 4))) { let m = Self.logProbabilities(header.firstChunk + c)
            try writer.append(UnsafeBufferPointer(start: m.pointer, count: m.count)) }
        try writer.commit()
        return path
    }

    /// Opens the file and reads every chunk, as `verify --base` over all stored chunks does.
    func readAll(_ path: String) throws -> [[Float]] {
        let reader = try BaseLogitsReader(path: path)
        return try (0..<reader.header.chunkCount).map { _ in try reader.next().logProbabilities }
    }

    /// `verify --base` over chunks the file does not hold, and a job with nothing to compare.
    @Test func aBaseFileRefusesChunksItDoesNotHold() throws {
        let path = try baseFile("range")
        let job = VerificationJob(models: [try GGUFWeights(path: GGUFSourceTests.f32)], options: .init(threads: 1, attention: .absorbed, memoryBudget: 1 << 30))
        #expect(message { _ = try job.run(baseFile: path, requested: { _ in 1..<4 }) } == "\(path): holds chunks 2..<6, not 1..<4")
        let empty = VerificationJob(models: [], options: .init(threads: 1, attention: .absorbed, memoryBudget: 1 << 30))
        #expect(message { _ = try empty.run(baseFile: path) } == "\(path): no model to compare with it")
    }

    @Test func aSoundBaseFileReadsBack() throws {
        let matrices = try readAll(try baseFile("sound"))
        #expect(matrices.count == 4)
        for (i, m) in matrices.enumerated() { #expect(m == Self.logProbabilities(2 + i).values) }
        // Seeking skips frames without decoding them.
        let reader = try BaseLogitsReader(path: try baseFile("sound"))
        try reader.seek(to: 4)
        #expect(try reader.next().chunk == 4)
    }

    /// Regression: only the token frame was checksummed; bit flips in chunk frames changed the
    /// figures (down to KLD inf/NaN and PPL 0). Every byte is covered now: flip one bit at every
    /// 97th byte (a different bit each time) and every flipped file is refused with one line.
    @Test func aFlippedBitAnywhereInABaseFileIsRefused() throws {
        let path = try baseFile("flips")
        let good = try Data(contentsOf: URL(fileURLWithPath: path))
        let damaged = Self.root + "/flipped.base"
        var tried = 0
        for offset in stride(from: 0, to: good.count, by: 97) {
            var bytes = good
            bytes[offset] ^= UInt8(1 << (tried % 8))
            try bytes.write(to: URL(fileURLWithPath: damaged))
            tried += 1
            do {
                _ = try readAll(damaged)
                Issue.record("flipping bit \(tried % 8) of byte \(offset) of \(good.count) went unnoticed")
            } catch {
                let text = "\(error)"
                #expect(text.hasPrefix(damaged + ": ") && !text.contains("\n"), "\(text)")
            }
        }
        #expect(tried >= 15)
    }

    /// Regression: a negative position count made `verify --base` allocate a one-element matrix and
    /// hand libzstd a negative-size buffer (heap overflow); other header fields reached allocation
    /// failures, overflow traps and invalid ranges. Each is refused before any allocation.
    @Test func hostileBaseHeaderFieldsAreNamed() throws {
        func error(_ name: String, chunks: Int = 0, tokens: [Int] = Self.baseTokens, _ edit: (inout BaseLogitsHeader) -> Void) throws -> String {
            var header = Self.baseHeader
            edit(&header)
            let path = try baseFile(name, header: header, tokens: tokens, chunks: chunks)
            return message { _ = try readAll(path) }.replacingOccurrences(of: path, with: "FILE")
        }
        #expect(try error("positions") { $0.positions = -1 } == "FILE: header field positions -1, expected 7 for context 16")
        #expect(try error("tokens") { $0.tokenCount = 1 << 50 }.hasPrefix("FILE: header field tokenCount 1125899906842624 is impossible for a file of"))
        #expect(try error("tokens-negative") { $0.tokenCount = -3 }.hasPrefix("FILE: header field tokenCount -3 is impossible"))
        #expect(try error("context") { $0.context = 0 } == "FILE: header field context 0 must be in 2...tokenCount (300)")
        #expect(try error("context-huge") { $0.context = Int.max } == "FILE: header field context 9223372036854775807 must be in 2...tokenCount (300)")
        #expect(try error("vocabulary") { $0.vocabulary = 1 << 40 } == "FILE: header field vocabulary 1099511627776 must be in 1...2147483647")
        #expect(try error("first") { $0.firstChunk = -1 } == "FILE: header field firstChunk -1 must be in 0...18")
        #expect(try error("count") { $0.chunkCount = Int.max }.hasPrefix("FILE: header field chunkCount 9223372036854775807"))
        #expect(try error("bos") { $0.bos = 64 } == "FILE: header field bos 64 outside the vocabulary 0..<64")
        #expect(try error("missing-chunks", chunks: 2) { _ in } == "FILE: chunk 4 is truncated (file ends at byte \(try Data(contentsOf: URL(fileURLWithPath: Self.root + "/missing-chunks.base")).count))")
        #expect(try error("ids", chunks: 4, tokens: Self.baseTokens.map { $0 + 20 }) { $0.tokensXXH3 = TokenFingerprint.xxh3(Self.baseTokens.map { $0 + 20 }) }
            == "FILE: token 7 has id 69, outside the vocabulary 0..<64")
        // A frame length that claims more than the file, with the rest intact.
        let path = try baseFile("length")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        bytes[24 + headerLength + 7] = 0x80  // the token frame's length: 2^63 + n
        try bytes.write(to: URL(fileURLWithPath: path))
        let length = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[24 + headerLength + $1]) << (8 * $1) }
        #expect(message { _ = try readAll(path) } == "\(path): token frame: frame length \(length) exceeds the file")
    }

    @Test func aVersionOneBaseFileIsRefusedWithAClearMessage() throws {
        let path = Self.root + "/v1.base"
        try Data("MPBASE01".utf8 + [UInt8](repeating: 0, count: 40)).write(to: URL(fileURLWithPath: path))
        #expect(message { _ = try BaseLogitsReader(path: path) }
            == "\(path): base log-probabilities format MPBASE01 is not supported (this moepack reads MPBASE02, with a checksum on every frame); save the base again with verify --save-base")
    }

    @Test func verifyRefusesAHostileBaseFileOnOneLine() throws {
        var header = Self.baseHeader
        header.positions = -1
        let path = try baseFile("cli-positions", header: header, chunks: 0)
        let result = try TestSupport.run(TestSupport.moepackBinary, ["verify", "--base", path, "--quantized", GGUFSourceTests.f32, "--quiet"])
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr == "moepack: error: \(path): header field positions -1, expected 7 for context 16\n")
    }

    // MARK: Result slices

    static func results(ranges: [[Int]], runs: Int = 1, count: Int = 7) -> EvaluationResults {
        let fingerprint = EvaluationResults.fingerprint(
            tokens: baseTokens, context: 16, attention: "absorbed", base: nil, models: (0..<runs).map { "model \($0)" }, precision: .f32)
        var results = EvaluationResults(fingerprint: fingerprint, range: 0..<1, scores: [])
        results.chunkRanges = ranges
        let chunks = ranges.flatMap { $0.count == 2 && $0[0] < $0[1] ? Array($0[0]..<$0[1]) : [] }
        results.runs = (0..<runs).map { r in
            let scores = chunks.map { ChunkScore(chunk: $0, count: count, nll: 1.5 * Double(count), nll2: 2.25 * Double(count)) }
            return EvaluationResults.Run(model: "model \(r)", scores: scores, report: EvaluationReport(scores: scores))
        }
        return results
    }

    func decodeError(_ results: EvaluationResults) -> String {
        message { _ = try EvaluationResults.decode(try results.encoded(), file: "part.json") }
    }

    /// Regression: a one-element chunk range, a different number of runs across files, and a huge
    /// score count trapped in `merge-results`; each is now one line naming the file and field.
    @Test func malformedResultSlicesAreRefused() throws {
        #expect(message { _ = try EvaluationResults.decode(try Self.results(ranges: [[0, 3]]).encoded(), file: "part.json") } == "no error")
        #expect(decodeError(Self.results(ranges: [[3]])) == "part.json: chunkRanges entry [3] is not a sorted, disjoint [start, end) inside the text's 18 chunks")
        #expect(decodeError(Self.results(ranges: [[4, 2]])) == "part.json: chunkRanges entry [4, 2] is not a sorted, disjoint [start, end) inside the text's 18 chunks")
        #expect(decodeError(Self.results(ranges: [[0, 19]])) == "part.json: chunkRanges entry [0, 19] is not a sorted, disjoint [start, end) inside the text's 18 chunks")
        #expect(decodeError(Self.results(ranges: [[0, 1]], count: Int.max)) == "part.json: run 'model 0', chunk 0: count 9223372036854775807 outside 0...7")
        var extraRun = Self.results(ranges: [[0, 2]], runs: 2)
        extraRun.fingerprint.models = ["model 0"]
        #expect(decodeError(extraRun) == "part.json: runs has 2 entries but the fingerprint names 1 models")
        var gap = Self.results(ranges: [[0, 2]])
        gap.runs[0].scores.removeLast()
        #expect(decodeError(gap) == "part.json: run 'model 0' has 1 scores for 2 chunks")
        // Unvalidated parts given to merge directly: different numbers of runs, a one-element range.
        let one = Self.results(ranges: [[0, 2]]), two = Self.results(ranges: [[2, 4]], runs: 2)
        var sameFingerprint = two
        sameFingerprint.fingerprint = one.fingerprint
        #expect(message { _ = try EvaluationResults.merge([("a.json", one), ("b.json", sameFingerprint)]) } == "b.json: runs has 2 entries, a.json has 1")
        var short = Self.results(ranges: [[2, 4]])
        short.chunkRanges = [[2]]
        #expect(message { _ = try EvaluationResults.merge([("a.json", one), ("b.json", short)]) } == "b.json: chunkRanges entry [2] is not a pair [start, end) with start < end")
    }

    /// Found by the Results fuzz target: a stored report whose KLD percentiles lack "median" (or a
    /// verify slice that scored no token) trapped on a force-unwrap when printed. Reports are now
    /// recomputed from the checked scores on reading, and printing never unwraps.
    @Test func aSliceWithoutPercentilesPrintsInsteadOfTrapping() throws {
        var results = Self.results(ranges: [[0, 1]], count: 0)
        results.runs[0].scores[0].kld = []
        results.runs[0].scores[0].deltaP = []
        results.runs[0].scores[0].baseNLL = 0
        results.runs[0].scores[0].baseNLL2 = 0
        results.runs[0].scores[0].sameTop = 0
        results.runs[0].report = EvaluationReport(scores: results.runs[0].scores)
        results.runs[0].report.kldPercentiles = ["max": 1]
        results.fingerprint.base = "base"
        let decoded = try EvaluationResults.decode(try results.encoded(), file: "part.json")
        #expect(decoded.runs[0].report.kldPercentiles == [:])
        let lines = decoded.runs[0].report.lines(model: "m", base: "base")
        #expect(lines.contains("  KLD median nan  p99 nan  max nan"))
    }

    @Test func anEditedOrOldResultSliceIsRefused() throws {
        let good = try Self.results(ranges: [[0, 3]]).encoded()
        var text = String(decoding: good, as: UTF8.self)
        text = text.replacingOccurrences(of: "\"nll\" : 10.5", with: "\"nll\" : 10.4")
        #expect(text != String(decoding: good, as: UTF8.self))
        #expect(message { _ = try EvaluationResults.decode(Data(text.utf8), file: "part.json") } == "part.json: contents do not match contentsXXH3 (corrupt or edited file)")
        let old = String(decoding: good, as: UTF8.self).replacingOccurrences(of: "\"version\" : 2", with: "\"version\" : 1")
        #expect(message { _ = try EvaluationResults.decode(Data(old.utf8), file: "part.json") }
            == "part.json: results version 1 is not supported (this moepack reads version 2, with a checksum); run the slice again")
        var unsigned = try JSONSerialization.jsonObject(with: good) as! [String: Any]
        unsigned.removeValue(forKey: "contentsXXH3")
        #expect(message { _ = try EvaluationResults.decode(try JSONSerialization.data(withJSONObject: unsigned), file: "part.json") } == "part.json: no contentsXXH3 checksum")
    }
}
