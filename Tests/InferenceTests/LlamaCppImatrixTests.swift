import Conversion
import DeepSeekV3
import Foundation
import Inference
import Quants
import SyntheticModels
import TensorFiles
import TestSupport
import Testing

/// Optional job: moepack's importance matrix against llama.cpp's own tools, built from the source
/// llama-cpp-python's sdist vendors (see README "Tests"):
///     MOEPACK_LLAMA_TOOLS=/tmp/llama-tools/bin MOEPACK_LLAMA_PYTHON=/tmp/llama/bin/python \
///         swift test -c release --filter LlamaCppImatrixTests
/// - moepack's imatrix of an F32 GGUF equals llama-imatrix's of the same GGUF on the same text and
///   chunks, entry by entry (counts exactly, sums to float tolerance);
/// - llama-quantize accepts moepack's file, and its tensors equal moepack quantize --imatrix's bytes
///   from the FP8 checkpoint the F32 GGUF was made from; llama.cpp loads the result.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["MOEPACK_LLAMA_TOOLS"] != nil))
struct LlamaCppImatrixTests {
    static let root = TestSupport.scratchDirectory("llama-imatrix")
    static var tools: String { ProcessInfo.processInfo.environment["MOEPACK_LLAMA_TOOLS"]! }
    static let text: String = {
        let path = root + "/text.txt"
        try! Data(SyntheticCorpus.text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }()
    /// The tiny checkpoint as an F32 GGUF, 32-byte aligned (llama-quantize pads to 32).
    static let f32: String = {
        let path = root + "/f32.gguf"
        var options = GGUFConverter.Options()
        options.rules = [try! QuantRecipe.Rule(parsing: ".*=F32")]
        options.alignment = 32
        options.progress = .quiet
        _ = try! GGUFConverter(input: Fixtures.tiny, output: path, options: options).run()
        return path
    }()

    static func llamaImatrix(_ model: String, output: String, context: Int, chunks: Int) throws {
        let result = try TestSupport.run(tools + "/llama-imatrix", [
            "-m", model, "-f", text, "-c", "\(context)", "-b", "\(context)", "--chunks", "\(chunks)", "-o", output, "-t", "2",
            // F32 KV cache and no flash attention: by default llama.cpp keeps the cache in F16 and its CPU
            // flash attention rounds through F16, which moves attn_v_b/attn_output inputs by ~5e-4.
            "--no-ppl", "-ctk", "f32", "-ctv", "f32", "-fa", "off",
        ])
        #expect(result.status == 0, "llama-imatrix: \(result.stderr.suffix(2000))")
    }

    @Test func sameEntriesAsLlamaImatrix() throws {
        let theirs = Self.root + "/llama.imatrix.gguf", ours = Self.root + "/moepack.imatrix.gguf"
        try Self.llamaImatrix(Self.f32, output: theirs, context: 64, chunks: 4)
        let result = try TestSupport.run(TestSupport.moepackBinary, ["imatrix", Self.f32, "--text", Self.text, "--ctx", "64", "--chunks", "4", "--quiet", "-o", ours])
        #expect(result.status == 0, "\(result.stderr)")
        let a = try ImatrixFile.read(path: ours).matrix, b = try ImatrixFile.read(path: theirs).matrix
        #expect(Set(a.entries.keys) == Set(b.entries.keys))
        #expect(a.chunkCount == b.chunkCount && a.chunkSize == b.chunkSize)
        for (name, mine) in a.entries {
            guard let other = b.entries[name] else { continue }
            // Counts: equal per expert; a 3-D dense weight may carry one count per head in older
            // llama.cpp builds, each equal to the single count moepack keeps.
            if mine.matrices == other.matrices {
                #expect(mine.counts == other.counts, "\(name) counts")
            } else {
                #expect(mine.matrices == 1 && Set(other.counts) == [mine.counts[0]], "\(name) counts \(mine.counts) vs \(other.counts)")
            }
        }
        let agreement = ImatrixComparison(a, against: b)
        #expect(agreement.unmatched.isEmpty, "entries of other shapes: \(agreement.unmatched)")
        print("llama-imatrix vs moepack on \(Self.f32): \(agreement.entries) entries, \(agreement.values) values, relative difference median \(agreement.median), p99 \(agreement.p99), worst \(agreement.worst) at \(agreement.worstAt)")
        // Two f32 engines with different summation orders through 3 layers: float-level agreement
        // (measured: median 1.9e-7, p99 1.2e-6, worst 2.8e-6).
        #expect(agreement.worst < 1e-5)
        #expect(agreement.p99 < 3e-6)
    }

    @Test func llamaQuantizeTakesMoepacksFileAndWritesTheSameBytes() throws {
        let imatrix = Self.root + "/for-quantize.imatrix.gguf"
        var result = try TestSupport.run(TestSupport.moepackBinary, ["imatrix", Fixtures.tiny, "--text", Self.text, "--ctx", "64", "--chunks", "4", "--quiet", "-o", imatrix])
        #expect(result.status == 0, "\(result.stderr)")
        for recipe in ["Q4_K_M", "Q3_K_M", "Q2_K", "IQ4_XS", "IQ3_M", "IQ3_XXS", "IQ2_M", "IQ2_XXS", "IQ1_M", "IQ1_S"] {
            let theirs = Self.root + "/llama-\(recipe).gguf", ours = Self.root + "/moepack-\(recipe).gguf"
            result = try TestSupport.run(Self.tools + "/llama-quantize", ["--imatrix", imatrix, Self.f32, theirs, recipe, "2"])
            #expect(result.status == 0, "llama-quantize: \(result.stderr.suffix(2000))")
            result = try TestSupport.run(TestSupport.moepackBinary, [
                "quantize", Fixtures.tiny, ours, "--recipe", recipe, "--imatrix", imatrix, "--cold-experts", "ones", "--quiet", "--force",
            ])
            #expect(result.status == 0, "\(result.stderr)")
            let l = try GGUFFile(path: theirs), m = try GGUFFile(path: ours)
            #expect(l.value("quantize.imatrix.file") == .string(imatrix))
            var same = 0
            for tensor in m.tensors {
                let other = try #require(l.tensor(tensor.name), "\(tensor.name) missing in llama-quantize's file")
                #expect(other.type == tensor.type, "\(tensor.name): \(other.type.name) vs \(tensor.type.name)")
                if Array(l.bytes(of: other)) == Array(m.bytes(of: tensor)) { same += 1 } else { Issue.record("\(recipe) \(tensor.name): bytes differ") }
            }
            print("llama-quantize --imatrix vs moepack quantize --imatrix, \(recipe): \(same)/\(m.tensors.count) tensors byte-identical")
            // llama.cpp loads and evaluates its own requantization of moepack's imatrix.
            if let python = ProcessInfo.processInfo.environment["MOEPACK_LLAMA_PYTHON"] {
                let load = try TestSupport.run(python, [TestSupport.packageRoot + "/Tests/Oracles/llama_load.py", theirs, "Hello world"])
                #expect(load.status == 0 && load.stdout.contains("\"finite\": true"), "\(load.stderr.suffix(1500))")
            }
        }
    }

    /// llama-quantize, given an importance matrix, chooses the same type for every tensor of the
    /// IQ1/IQ2/IQ3 mixes as moepack's implementation of them (the tiny checkpoint has 8 experts,
    /// so llama.cpp's 8-expert rules are exercised too).
    @Test(arguments: ["IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ3_XXS", "IQ3_XS", "IQ3_S", "IQ3_M", "IQ4_XS"])
    func lowBitMixesChooseLlamaQuantizesTypes(recipe: String) throws {
        let imatrix = Self.root + "/mix.imatrix.gguf"
        if !FileManager.default.fileExists(atPath: imatrix) {
            let made = try TestSupport.run(TestSupport.moepackBinary, ["imatrix", Fixtures.tiny, "--text", Self.text, "--ctx", "64", "--chunks", "4", "--quiet", "-o", imatrix])
            #expect(made.status == 0, "\(made.stderr)")
        }
        let theirs = Self.root + "/types-\(recipe).gguf"
        let result = try TestSupport.run(Self.tools + "/llama-quantize", ["--imatrix", imatrix, Self.f32, theirs, recipe, "2"])
        #expect(result.status == 0, "llama-quantize: \(result.stderr.suffix(2000))")
        let file = try GGUFFile(path: theirs)
        var options = GGUFConverter.Options()
        options.recipe = try #require(QuantRecipe.Mix(argument: recipe))
        options.importance = (try ImatrixFile.read(path: imatrix).matrix, imatrix, "-")
        let ours = try GGUFConverter(input: Fixtures.tiny, output: Self.root + "/unused.gguf", options: options).plan()
        for planned in ours.tensors {
            let other = file.tensor(planned.tensor.name)
            #expect(other?.type == planned.type, "\(recipe) \(planned.tensor.name): llama.cpp \(other?.type.name ?? "missing"), moepack \(planned.type.name)")
        }
    }
}
