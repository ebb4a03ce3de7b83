import Conversion
import Foundation
import Inference
import TensorFiles
import Testing
import TestSupport

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
        let path = try metadataOnlyGGUF("empty") { $0 }
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

    @Test func aBaseFileOfAnotherVocabularyIsRefused() throws {
        let tokens = Array(0..<200)
        let path = Self.root + "/other.base"
        let writer = try BaseLogitsWriter(
            path: path,
            header: BaseLogitsHeader(
                model: "other", context: 64, vocabulary: 999, firstChunk: 0, chunkCount: 0, positions: 31, bos: 0,
                tokenCount: tokens.count, tokensXXH3: TokenChunks.fingerprint(tokens)),
            tokens: tokens)
        try writer.commit()
        let result = try TestSupport.run(TestSupport.moepackBinary, ["verify", "--base", path, "--quantized", GGUFSourceTests.f32, "--quiet"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("vocabulary 1024, the base's is 999"))
    }

    @Test func aFileThatIsNotABaseFileIsNamed() throws {
        let path = Self.root + "/not-a-base.bin"
        try Data("GGUF and more bytes than sixteen".utf8).write(to: URL(fileURLWithPath: path))
        #expect(message { _ = try BaseLogitsReader(path: path) } == "\(path): not a moepack base log-probabilities file (magic MPBASE01)")
    }

    @Test(arguments: [["--chunks", "5..2"], ["--chunks", "x"], ["--mem", "lots"], ["--chunks", "0"]])
    func malformedOptionsAreUsageErrors(arguments: [String]) throws {
        let result = try TestSupport.run(
            TestSupport.moepackBinary, ["perplexity", Fixtures.tiny, "--text", TestSupport.packageRoot + "/README.md", "--ctx", "64"] + arguments)
        #expect(result.status == 64)
        #expect(result.stderr.contains(arguments[0]))
    }
}
