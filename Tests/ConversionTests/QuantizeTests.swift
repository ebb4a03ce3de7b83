import Conversion
import DeepSeekV3
import Foundation
import Quants
import SyntheticModels
import TensorFiles
import TestSupport
import Testing

@Suite struct QuantizeTests {
    func quantize(_ input: String, recipe: QuantRecipe.Mix, rules: [String] = [], threads: Int = 2) throws -> (String, GGUFConverter.Summary) {
        let output = TestSupport.scratchDirectory("gguf-\(recipe.rawValue)") + "/model.gguf"
        var options = GGUFConverter.Options()
        options.recipe = recipe
        options.rules = try rules.map { try QuantRecipe.Rule(parsing: $0) }
        options.threads = threads
        options.progress = .quiet
        let summary = try GGUFConverter(input: input, output: output, options: options).run()
        return (output, summary)
    }

    /// The deepseek2 layout, checked by gguf-py and an independent numpy rebuild of every tensor
    /// from the FP8 checkpoint (expert stacking, the k_b transpose, v_b), within each format's error.
    @Test(.enabled(if: TestSupport.oraclesAvailable), arguments: [QuantRecipe.Mix.q8_0, .q4_K_M])
    func ggufPyReadsTheRightTensors(recipe: QuantRecipe.Mix) throws {
        let (path, summary) = try quantize(Fixtures.tiny, recipe: recipe)
        let output = try TestSupport.oracle("check_gguf.py", [path, Fixtures.tiny])
        let json = try JSONSerialization.jsonObject(with: Data(output.utf8)) as! [String: Any]
        let fields = json["fields"] as! [String: String]
        let required: [String: String] = [
            "general.architecture": "STRING", "deepseek2.block_count": "UINT32", "deepseek2.attention.head_count_kv": "UINT32",
            "deepseek2.attention.key_length": "UINT32", "deepseek2.attention.value_length": "UINT32",
            "deepseek2.attention.key_length_mla": "UINT32", "deepseek2.attention.value_length_mla": "UINT32",
            "deepseek2.expert_group_count": "UINT32", "deepseek2.expert_group_used_count": "UINT32",
            "deepseek2.expert_gating_func": "UINT32", "deepseek2.expert_weights_scale": "FLOAT32",
            "deepseek2.expert_weights_norm": "BOOL", "deepseek2.leading_dense_block_count": "UINT32",
            "deepseek2.rope.scaling.yarn_log_multiplier": "FLOAT32", "deepseek2.attention.layer_norm_rms_epsilon": "FLOAT32",
            "tokenizer.ggml.pre": "STRING", "tokenizer.ggml.tokens": "ARRAY/STRING", "tokenizer.ggml.token_type": "ARRAY/INT32",
            "tokenizer.ggml.merges": "ARRAY/STRING", "tokenizer.ggml.bos_token_id": "UINT32", "general.alignment": "UINT32",
            "moepack.tensor_xxh3": "ARRAY/UINT64",
        ]
        for (key, type) in required { #expect(fields[key] == type, "\(key): \(fields[key] ?? "missing")") }
        let tensors = json["tensors"] as! [String: [String: Any]]
        #expect(tensors.count == summary.plan.tensors.count)
        let bounds: [String: Double] = ["F32": 0, "Q8_0": 0.01, "Q6_K": 0.03, "Q5_K": 0.06, "Q5_0": 0.07, "Q4_K": 0.12]
        for (name, info) in tensors {
            #expect(info["shape_ok"] as? Bool == true, "\(name) shape \(info["shape"]!)")
            let type = info["type"] as! String
            let error = try #require(info["relative_rmse"] as? Double, "\(name)")
            let bound = try #require(bounds[type], "\(type)")
            #expect(error <= bound, "\(name) (\(type)): relative RMSE \(error)")
        }
        #expect(tensors["blk.0.attn_k_b.weight"]?["shape"] as? [Int] == [64, 256, 4])
        #expect(tensors["blk.1.ffn_down_exps.weight"]?["shape"] as? [Int] == [256, 256, 8])
    }

    @Test func checksumsInTheHeaderMatchTheData() throws {
        let (path, _) = try quantize(Fixtures.tiny, recipe: .q4_K_M)
        let file = try GGUFFile(path: path)
        guard case .array(.uint64(let sums)) = try #require(file.value(GGUFConverter.checksumKey)) else {
            Issue.record("no checksum array")
            return
        }
        #expect(sums.count == file.tensors.count)
        for (tensor, sum) in zip(file.tensors, sums) { #expect(XXH3Hasher.hash(file.bytes(of: tensor)) == sum, "\(tensor.name)") }
        #expect(file.alignment == 4096 && file.tensors.allSatisfy { $0.offset % 4096 == 0 })
    }

    @Test func outputIsDeterministicAcrossThreadCounts() throws {
        let (a, _) = try quantize(Fixtures.tiny, recipe: .q4_K_M, threads: 1)
        let (b, _) = try quantize(Fixtures.tiny, recipe: .q4_K_M, threads: 3)
        #expect(try Data(contentsOf: URL(fileURLWithPath: a)) == Data(contentsOf: URL(fileURLWithPath: b)))
    }

    @Test func recipesFollowLlamaCppRulesAndUserRulesComeFirst() throws {
        let (_, summary) = try quantize(Fixtures.tiny, recipe: .q4_K_M, rules: ["ffn_.*_exps=IQ4_XS", "attn_q_b=Q8_0"])
        func type(_ name: String) -> (GGMLType, GGMLType?) {
            let t = summary.plan.tensors.first { $0.tensor.name == name }!
            return (t.type, t.requested)
        }
        #expect(type("blk.1.ffn_up_exps.weight").0 == .iq4_xs)
        #expect(type("blk.1.attn_q_b.weight").0 == .q8_0)
        #expect(type("output.weight").0 == .q6_K)
        #expect(type("blk.0.attn_norm.weight").0 == .f32 && type("blk.1.ffn_gate_inp.weight").0 == .f32)
        // attn_k_b rows are 64 wide (qk_nope_head_dim): Q4_K falls back to Q5_0 as in llama-quantize.
        #expect(type("blk.0.attn_k_b.weight") == (.q5_0, .q4_K))
        // use_more_bits(i, 3) = i < 0 || i >= 2 || i % 3 == 2: only layer 2 of 3 gets Q6_K for ffn_down.
        #expect(type("blk.0.ffn_down.weight").0 == .q4_K && type("blk.1.ffn_down_shexp.weight").0 == .q4_K)
        #expect(type("blk.2.ffn_down_shexp.weight").0 == .q6_K)
    }

    /// The real R1 config planned without weights: the file llama-quantize's Q4_K_M rules give.
    @Test func r1PlanFromConfigAlone() throws {
        let directory = TestSupport.scratchDirectory("r1plan")
        try FileManager.default.copyItem(
            atPath: Bundle.module.path(forResource: "deepseek-r1-config", ofType: "json", inDirectory: "Fixtures")!,
            toPath: directory + "/config.json")
        var options = GGUFConverter.Options()
        options.recipe = .q4_K_M
        let plan = try GGUFConverter(input: directory, output: "/dev/null", options: options).plan()
        #expect(plan.tensors.count == 1086)  // llama.cpp's MLA layout for V3/R1 without MTP
        #expect(plan.parameterCount == 671_026_419_200)
        #expect(plan.tensors.filter { $0.requested != nil }.count == 61)  // attn_k_b in every layer
        #expect(plan.tensors.filter { $0.type == .f32 }.count == 361 + 0)
        // --keep-mtp: llama.cpp's nextn block 61 (a full MoE block plus 6 nextn tensors), block_count 62.
        var withMTP = options
        withMTP.keepMTP = true
        let mtp = try GGUFConverter(input: directory, output: "/dev/null", options: withMTP).plan()
        #expect(mtp.tensors.count == 1086 + 18 + 6)
        #expect(mtp.layout.metadata.first { $0.key == "deepseek2.block_count" }?.value == .uint32(62))
        #expect(mtp.layout.metadata.first { $0.key == "deepseek2.nextn_predict_layers" }?.value == .uint32(1))
        #expect(mtp.tensors.contains { $0.tensor.name == "blk.61.nextn.eh_proj.weight" && $0.tensor.dimensions == [14336, 7168] })
        let q8 = try GGUFConverter(input: directory, output: "/dev/null", options: { var o = options; o.recipe = .q8_0; return o }()).plan()
        // Q8_0: 8.5 bits per weight except the F32 norms/router, plus alignment padding.
        #expect(abs(q8.bitsPerWeight - 8.5) < 0.01)
    }
}

@Suite struct QuantizeCommandTests {
    @Test func checkFindsTheFirstCorruptTensor() throws {
        let root = TestSupport.scratchDirectory("check")
        let path = root + "/tiny.gguf"
        let made = try TestSupport.moepack("quantize", Fixtures.tiny, path, "--recipe", "q8_0", "--quiet")
        #expect(made.status == 0, "\(made.stderr)")
        let good = try TestSupport.moepack("check", path)
        #expect(good.status == 0 && good.stdout.contains("52 of 52 tensors match their XXH3 checksums"))
        let file = try GGUFFile(path: path)
        let victim = file.tensors[7]
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[file.dataOffset + victim.offset + victim.byteCount / 2] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: path))
        let bad = try TestSupport.moepack("check", path)
        #expect(bad.status == 1)
        #expect(bad.stderr == "moepack: error: \(path): tensor '\(victim.name)' does not match its checksum (corrupt data)\n")
    }

    /// Regression (issue 16): lowering `tensor_count` by one header byte made `check` call the
    /// file valid and skip every checksum, because the checksum array no longer matched; renaming
    /// the checksum key did the same. A file with moepack's metadata must have matching checksums.
    @Test func checkRefusesAnEditedTensorCountOrAMissingChecksumArray() throws {
        let root = TestSupport.scratchDirectory("check-count")
        let path = root + "/tiny.gguf"
        let made = try TestSupport.moepack("quantize", Fixtures.tiny, path, "--recipe", "q8_0", "--quiet")
        #expect(made.status == 0, "\(made.stderr)")
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        var fewer = original
        fewer[8] -= 1  // tensor_count, u64 little-endian at offset 8
        try fewer.write(to: URL(fileURLWithPath: path))
        let edited = try TestSupport.moepack("check", path)
        #expect(edited.status == 1)
        #expect(edited.stdout.isEmpty)
        #expect(edited.stderr == "moepack: error: \(path): moepack.tensor_xxh3 has 52 checksums for 51 tensors (tensor_count edited or header damaged)\n")
        var renamed = original
        let key = Array("moepack.tensor_xxh3".utf8)
        let at = (0...(renamed.count - key.count)).first { i in renamed[i..<(i + key.count)].elementsEqual(key) }!
        renamed[at + key.count - 1] = UInt8(ascii: "4")
        try renamed.write(to: URL(fileURLWithPath: path))
        let missing = try TestSupport.moepack("check", path)
        #expect(missing.status == 1)
        #expect(missing.stderr == "moepack: error: \(path): has moepack metadata (moepack.version) but no moepack.tensor_xxh3 checksums; the header was edited or damaged\n")
    }

    @Test func recipeFileRulesApplyAfterTypeRules() throws {
        let root = TestSupport.scratchDirectory("recipe")
        try "# experts small\nffn_.*_exps=Q2_K\n\nattn_q_b=Q6_K\n".write(toFile: root + "/r.txt", atomically: true, encoding: .utf8)
        let plan = try TestSupport.moepack("quantize", Fixtures.tiny, root + "/x.gguf", "--dry-run", "--type", "ffn_up_exps=Q8_0", "--recipe-file", root + "/r.txt")
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("blk.1.ffn_up_exps.weight\t[256, 256, 8]\tQ8_0\t"))
        #expect(plan.stdout.contains("blk.1.ffn_gate_exps.weight\t[256, 256, 8]\tQ2_K\t"))
        #expect(plan.stdout.contains("blk.0.attn_q_b.weight\t[256, 384]\tQ6_K\t"))
        #expect(plan.stdout.contains("blk.0.attn_k_b.weight\t[64, 256, 4]\tQ5_0 (fallback from Q4_K)\t"))
        #expect(!FileManager.default.fileExists(atPath: root + "/x.gguf"))
        let bad = try TestSupport.moepack("quantize", Fixtures.tiny, root + "/y.gguf", "--type", "exps=Q9_9")
        #expect(bad.status == 1 && bad.stderr == "moepack: error: --type 'exps=Q9_9': unknown or unsupported type 'Q9_9'\n")
    }

    /// quantize reads rows with the reader `dequant` uses, which checks each FP8 scale grid once
    /// (F32, shape, finite, at most 2^100): a finite scale above 2^100 used to be multiplied in.
    @Test func aScaleAbove2To100StopsQuantize() throws {
        let input = try Fixtures.tinyCopy()
        let scale = "model.layers.0.self_attn.o_proj.weight_scale_inv"
        let checkpoint = try Checkpoint(directory: input)
        let shard = try #require(checkpoint.shard(of: scale))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: shard.path))
        try handle.seek(toOffset: UInt64(shard.fileRange(of: shard.info(scale)!).lowerBound + 4))
        handle.write(Data([0x00, 0x00, 0x00, 0x72]))  // 2^101, block [0, 1]
        try handle.close()
        let output = TestSupport.scratchDirectory("bigscale") + "/out.gguf"
        let result = try TestSupport.moepack("quantize", input, output, "--quiet")
        #expect(result.status == 1)
        #expect(result.stderr == "moepack: error: \(shard.path): tensor '\(scale)': scale \(Float(0x1p101)) at [0, 1] is not a finite scale below 2^100\n")
    }

    @Test func aNaNWeightStopsQuantizeWithFileAndTensorNamed() throws {
        let input = try Fixtures.tinyCopy()
        let tensor = "model.layers.2.mlp.experts.3.down_proj.weight"
        let checkpoint = try Checkpoint(directory: input)
        let shard = try #require(checkpoint.shard(of: tensor))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: shard.path))
        try handle.seek(toOffset: UInt64(shard.fileRange(of: shard.info(tensor)!).lowerBound + 5 * 256 + 9))
        handle.write(Data([0x7F]))
        try handle.close()
        let output = TestSupport.scratchDirectory("nanq") + "/out.gguf"
        let result = try TestSupport.moepack("quantize", input, output, "--quiet")
        #expect(result.status == 1)
        #expect(result.stderr == "moepack: error: \(shard.path): tensor '\(tensor)': NaN weight (FP8 code 0x7F) at [5, 9]\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: URL(fileURLWithPath: output).deletingLastPathComponent().path).isEmpty)
    }
}

/// Optional job: llama.cpp itself loads and evaluates what `quantize` writes. Runs when
/// MOEPACK_LLAMA_PYTHON names a Python with llama-cpp-python (building it takes 15-25 minutes, so
/// it is not part of every CI run):
///     MOEPACK_LLAMA_PYTHON=/tmp/llama/bin/python swift test -c release --filter LlamaCppLoadTests
@Suite(.enabled(if: ProcessInfo.processInfo.environment["MOEPACK_LLAMA_PYTHON"] != nil))
struct LlamaCppLoadTests {
    @Test(arguments: [(QuantRecipe.Mix.q8_0, false), (.q4_K_M, false), (.q2_K, false), (.iq4_xs, false), (.q8_0, true)])
    func llamaCppLoadsAndEvaluates(recipe: QuantRecipe.Mix, keepMTP: Bool) throws {
        let python = ProcessInfo.processInfo.environment["MOEPACK_LLAMA_PYTHON"]!
        let path = TestSupport.scratchDirectory("llama-\(recipe.rawValue)") + "/model.gguf"
        var options = GGUFConverter.Options()
        options.recipe = recipe
        options.keepMTP = keepMTP
        options.progress = .quiet
        _ = try GGUFConverter(input: Fixtures.tiny, output: path, options: options).run()
        let text = "Hello world, the experts 12345 混合专家 <think>"
        let result = try TestSupport.run(python, [TestSupport.packageRoot + "/Tests/Oracles/llama_load.py", path, text])
        #expect(result.status == 0, "\(result.stderr.suffix(2000))")
        let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        #expect(json["finite"] as? Bool == true && json["n_vocab"] as? Int == 1024)
        // llama.cpp's tokenizer, built from the vocabulary we embedded, agrees with ours.
        let ours = try BPETokenizer(path: Fixtures.tiny).encode(text)
        #expect(json["tokens"] as? [Int] == ours)
    }
}

@Suite struct QuantizeResumeTests {
    /// Killed mid-run (twice), a rerun of the same command verifies and keeps the finished tensors
    /// and produces exactly the bytes of an uninterrupted run.
    @Test func aKilledQuantizeResumesToIdenticalBytes() throws {
        let root = TestSupport.scratchDirectory("qresume")
        let reference = root + "/reference.gguf"
        let made = try TestSupport.moepack("quantize", Fixtures.small, reference, "--recipe", "q4_k_m", "--quiet", "--threads", "2")
        #expect(made.status == 0, "\(made.stderr)")
        let output = root + "/resumed.gguf"
        let journal = root + "/.resumed.gguf.moepack-journal"
        /// Tensors the journal records as written (its first line names the plan).
        func journalEntries() -> Int {
            ((try? String(contentsOfFile: journal, encoding: .utf8))?.split(separator: "\n").count ?? 1) - 1
        }
        var resumedSomething = false
        // Kill points are set by progress, not by wall time (which depends on the machine and on
        // how fast the quantizers are): after 3 new tensors, then after 3 more than the first run left.
        var killAt = 3
        for _ in 0..<2 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: TestSupport.moepackBinary)
            process.arguments = ["quantize", Fixtures.small, output, "--recipe", "q4_k_m", "--quiet", "--threads", "1", "--force"]
            try process.run()
            let deadline = Date().addingTimeInterval(60)
            while process.isRunning && journalEntries() < killAt && Date() < deadline { usleep(1000) }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(!FileManager.default.fileExists(atPath: output) || process.terminationStatus == 0)
            killAt = journalEntries() + 3
        }
        let rerun = try TestSupport.moepack("quantize", Fixtures.small, output, "--recipe", "q4_k_m", "--json", "--quiet", "--force")
        #expect(rerun.status == 0, "\(rerun.stderr)")
        if let json = try JSONSerialization.jsonObject(with: Data(rerun.stdout.utf8)) as? [String: Any] {
            resumedSomething = (json["resumed_tensors"] as? Int ?? 0) > 0
        }
        #expect(resumedSomething, "the rerun should have kept tensors from the killed runs")
        #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == Data(contentsOf: URL(fileURLWithPath: reference)))
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).sorted() == ["reference.gguf", "resumed.gguf"])
    }
}

extension LlamaCppLoadTests {
    /// llama.cpp's own quantizer, run on a BF16 GGUF of the same checkpoint, chooses the same type
    /// for every tensor as moepack's implementation of its mixes.
    @Test(arguments: [QuantRecipe.Mix.q4_K_M, .q2_K, .q5_K_M, .iq4_xs])
    func mixesChooseTheTypesLlamaQuantizeChooses(recipe: QuantRecipe.Mix) throws {
        let python = ProcessInfo.processInfo.environment["MOEPACK_LLAMA_PYTHON"]!
        let root = TestSupport.scratchDirectory("lq-\(recipe.rawValue)")
        var options = GGUFConverter.Options()
        options.recipe = .q8_0
        options.rules = [try QuantRecipe.Rule(parsing: ".*=BF16")]
        options.progress = .quiet
        // llama-quantize copies general.alignment but pads to 32, so its input must use 32.
        options.alignment = 32
        _ = try GGUFConverter(input: Fixtures.tiny, output: root + "/bf16.gguf", options: options).run()
        let result = try TestSupport.run(python, [
            TestSupport.packageRoot + "/Tests/Oracles/llama_quantize.py", root + "/bf16.gguf", root + "/lq.gguf", recipe.rawValue, "2",
        ])
        #expect(result.status == 0, "\(result.stderr.suffix(1500))")
        let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        let theirs = json["types"] as! [String: String]
        options.recipe = recipe
        options.rules = []
        let ours = try GGUFConverter(input: Fixtures.tiny, output: root + "/unused.gguf", options: options).plan()
        for planned in ours.tensors {
            #expect(theirs[planned.tensor.name] == planned.type.name, "\(planned.tensor.name): llama.cpp \(theirs[planned.tensor.name] ?? "missing"), moepack \(planned.type.name)")
        }
    }
}

extension QuantizeCommandTests {
    /// A full disk (a file-size limit here) fails with the output named and leaves nothing at the
    /// final path; the temporary file and journal stay for a rerun.
    @Test func aFullDiskFailsWithTheOutputNamed() throws {
        let root = TestSupport.scratchDirectory("qfull")
        let output = root + "/out.gguf"
        let result = try TestSupport.run("/bin/bash", ["-c", "ulimit -f 1024; exec \"$0\" quantize \"$1\" \"$2\" --quiet --recipe q8_0", TestSupport.moepackBinary, Fixtures.tiny, output])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("moepack: error: \(output): "))
        #expect(result.stderr.contains("(disk full or file size limit reached)"))
        #expect(!FileManager.default.fileExists(atPath: output))
    }
}

extension QuantizeCommandTests {
    @Test func badRecipeInputsAreOneLine() throws {
        let root = TestSupport.scratchDirectory("qbad")
        let regex = try TestSupport.moepack("quantize", Fixtures.tiny, root + "/a.gguf", "--type", "ffn_[=Q8_0", "--dry-run")
        #expect(regex.status == 1 && regex.stderr == "moepack: error: --type 'ffn_[=Q8_0': invalid regular expression\n")
        let missing = try TestSupport.moepack("quantize", Fixtures.tiny, root + "/a.gguf", "--recipe-file", root + "/nope.txt", "--dry-run")
        #expect(missing.status == 1 && missing.stderr == "moepack: error: \(root)/nope.txt: cannot read the recipe file\n")
        let alignment = try TestSupport.moepack("quantize", Fixtures.tiny, root + "/a.gguf", "--alignment", "48")
        #expect(alignment.status == 64 && alignment.stderr.contains("--alignment 48 is not a power of two"))
        let recipe = try TestSupport.moepack("quantize", Fixtures.tiny, root + "/a.gguf", "--recipe", "Q9_Z")
        #expect(recipe.status == 64 && recipe.stderr.contains("unknown recipe Q9_Z"))
        let exists = root + "/exists.gguf"
        try Data([1]).write(to: URL(fileURLWithPath: exists))
        let refused = try TestSupport.moepack("quantize", Fixtures.tiny, exists)
        #expect(refused.status == 64 && refused.stderr.contains("exists; pass --force to overwrite"))
    }
}

/// The IQ mixes' rules that the tiny checkpoints cannot reach (R1's 61 layers, 256 experts).
@Suite struct LowBitMixTests {
    func plan(_ recipe: QuantRecipe.Mix, importance: Bool = true) throws -> [String: GGMLType] {
        let directory = TestSupport.scratchDirectory("r1-config")
        try FileManager.default.copyItem(
            atPath: TestSupport.packageRoot + "/Tests/DeepSeekV3Tests/Fixtures/deepseek-r1-config.json", toPath: directory + "/config.json")
        var options = GGUFConverter.Options()
        options.recipe = recipe
        if importance { options.importance = (ImportanceMatrix(), "-", "-") }
        let plan = try GGUFConverter(input: directory, output: directory + "/x.gguf", options: options).plan()
        return Dictionary(uniqueKeysWithValues: plan.tensors.map { ($0.tensor.name, $0.type) })
    }

    /// llama-quantize's order: by block number, then by name; the 2-bit mixes raise the first
    /// 61 / 8 = 7 ffn_down tensors in that order (3 dense layers, then exps and shexp of layers 3 and 4).
    @Test func veryLowBitMixesRaiseTheFirstFfnDownTensorsInLlamaQuantizeOrder() throws {
        #expect(QuantRecipe.llamaQuantizeOrder(["blk.10.a", "output.weight", "blk.2.b", "blk.2.a", "token_embd.weight"])
            == ["output.weight", "token_embd.weight", "blk.2.a", "blk.2.b", "blk.10.a"])
        let types = try plan(.iq2_xxs)
        let raised = types.filter { $0.key.contains("ffn_down") && $0.value == .q2_K }.keys.sorted()
        #expect(raised == ["blk.0.ffn_down.weight", "blk.1.ffn_down.weight", "blk.2.ffn_down.weight", "blk.3.ffn_down_exps.weight",
                           "blk.3.ffn_down_shexp.weight", "blk.4.ffn_down_exps.weight", "blk.4.ffn_down_shexp.weight"])
        #expect(types["blk.5.ffn_down_exps.weight"] == .iq2_xxs && types["blk.30.ffn_gate_exps.weight"] == .iq2_xxs)
        #expect(types["token_embd.weight"] == .q2_K && types["output.weight"] == .q5_K)
        #expect(types["blk.7.attn_k_b.weight"] == .iq4_nl)  // rows of 128: IQ types fall back to IQ4_NL
        let iq2m = try plan(.iq2_m)
        #expect(iq2m["blk.3.ffn_down_exps.weight"] == .iq3_s && iq2m["blk.9.ffn_down_exps.weight"] == .iq2_s && iq2m["blk.9.attn_output.weight"] == .iq3_s)
        let iq1s = try plan(.iq1_s)
        #expect(iq1s["blk.9.attn_output.weight"] == .iq2_xxs && iq1s["blk.9.ffn_up_exps.weight"] == .iq1_s)
        let iq3xs = try plan(.iq3_xs)
        #expect(iq3xs["blk.6.ffn_gate_exps.weight"] == .iq3_s && iq3xs["blk.7.ffn_gate_exps.weight"] == .iq3_xxs && iq3xs["blk.53.ffn_up_shexp.weight"] == .iq3_s)
        let iq3m = try plan(.iq3_m)
        #expect(iq3m["blk.6.ffn_down_exps.weight"] == .q4_K && iq3m["blk.8.ffn_down_exps.weight"] == .iq3_s && iq3m["output.weight"] == .q6_K)
        // has_imatrix changes IQ3_XXS's and IQ4_XS's ffn_down.
        #expect(try plan(.iq3_xxs)["blk.3.ffn_down_exps.weight"] == .iq3_xxs)
        #expect(try plan(.iq3_xxs, importance: false)["blk.3.ffn_down_exps.weight"] == .q4_K)
        #expect(try plan(.iq4_xs)["blk.3.ffn_down_exps.weight"] == .iq4_xs)
        #expect(try plan(.iq4_xs, importance: false)["blk.3.ffn_down_exps.weight"] == .q5_K)
    }

    /// Without an importance matrix, the types llama.cpp refuses are refused, naming a tensor.
    @Test func theLowestBitTypesNeedAnImportanceMatrix() throws {
        let output = TestSupport.scratchDirectory("needs-imatrix") + "/x.gguf"
        let result = try TestSupport.moepack("quantize", Fixtures.tiny, output, "--recipe", "IQ2_XXS", "--quiet")
        #expect(result.status == 1)
        #expect(result.stderr.contains("IQ2_XXS needs importance weights") && result.stderr.contains("blk."))
        #expect(!FileManager.default.fileExists(atPath: output))
        let dry = try TestSupport.moepack("quantize", Fixtures.tiny, output, "--recipe", "IQ1_S", "--dry-run")
        #expect(dry.status == 0 && dry.stdout.contains("need importance weights"))
    }

    /// llama-quantize checks each tensor: an importance matrix without the entry of a tensor an
    /// imatrix-only type is planned for is refused as no importance matrix is, naming the tensor.
    @Test func anImportanceMatrixMissingALowBitTensorIsRefused() throws {
        let root = TestSupport.scratchDirectory("partial-imatrix")
        let text = root + "/text.txt", full = root + "/full.gguf", partial = root + "/partial.gguf", output = root + "/x.gguf"
        try Data(SyntheticCorpus.text.utf8).write(to: URL(fileURLWithPath: text))
        let collected = try TestSupport.moepack("imatrix", Fixtures.tiny, "--text", text, "--ctx", "64", "--chunks", "2", "--quiet", "-o", full)
        #expect(collected.status == 0, "\(collected.stderr)")
        var matrix = try ImatrixFile.read(path: full).matrix
        let dropped = try #require(matrix.entries.keys.filter { $0.hasSuffix("ffn_up_exps.weight") }.sorted().first)
        matrix.entries[dropped] = nil
        try ImatrixFile.write(matrix, to: partial)
        let refused = try TestSupport.moepack("quantize", Fixtures.tiny, output, "--recipe", "IQ2_XXS", "--imatrix", partial, "--quiet")
        #expect(refused.status == 1)
        #expect(refused.stderr.contains(dropped) && refused.stderr.contains("IQ2_XXS needs importance weights") && refused.stderr.contains("has no entry"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output))
        // The MTP layer (--keep-mtp) is never in an imatrix: the error says so and how to type it.
        let mtp = try TestSupport.moepack("quantize", Fixtures.tiny, output, "--recipe", "IQ2_XXS", "--imatrix", full, "--keep-mtp", "--quiet")
        #expect(mtp.status == 1 && mtp.stderr.contains("MTP layer") && mtp.stderr.contains("--type") && !mtp.stderr.contains("quantized without"), "\(mtp.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output))
        // A type that does not need weights is written without them, with a warning naming the tensor.
        let q2k = try TestSupport.moepack("quantize", Fixtures.tiny, output, "--recipe", "Q2_K", "--imatrix", partial, "--quiet")
        #expect(q2k.status == 0 && q2k.stderr.contains("no entry") && q2k.stderr.contains("quantized without"), "\(q2k.stderr)")
    }
}

extension LowBitMixTests {
    /// The shipped dynamic R1 recipes plan files within 3% of the published ones they are modelled on.
    @Test(arguments: [("r1-dynamic-1.58bit", 131.0), ("r1-dynamic-1.73bit", 158), ("r1-dynamic-2.22bit", 183), ("r1-dynamic-2.51bit", 212)])
    func dynamicRecipesLandNearThePublishedSizes(recipe: String, publishedGiB: Double) throws {
        let directory = TestSupport.scratchDirectory("r1-dynamic")
        try FileManager.default.copyItem(
            atPath: TestSupport.packageRoot + "/Tests/DeepSeekV3Tests/Fixtures/deepseek-r1-config.json", toPath: directory + "/config.json")
        var options = GGUFConverter.Options()
        let config = try DeepSeekV3Config.load(path: directory + "/config.json")
        let lines = try QuantRecipe.ruleLines(fromFile: TestSupport.packageRoot + "/formats/recipes/\(recipe).txt")
        options.rules = try QuantRecipe.rules(lines, config: config)
        options.importance = (ImportanceMatrix(), "-", "-")
        let plan = try GGUFConverter(input: directory, output: directory + "/x.gguf", options: options).plan()
        let gib = Double(plan.layout.fileSize) / 1_073_741_824
        #expect(abs(gib / publishedGiB - 1) < 0.03, "\(recipe): \(gib) GiB planned, \(publishedGiB) GiB published")
        // Routed experts at the recipe's low-bit types; attention, shared experts, dense layers at 4-6 bits.
        let types = Dictionary(uniqueKeysWithValues: plan.tensors.map { ($0.tensor.name, $0.type) })
        #expect(types["blk.30.attn_q_b.weight"] == .q6_K && types["blk.30.ffn_up_shexp.weight"] == .q6_K && types["blk.1.ffn_down.weight"] == .q6_K)
        #expect(types["token_embd.weight"] == .q4_K && types["output.weight"] == .q6_K)
        #expect(types["blk.30.ffn_gate_exps.weight"]!.bitsPerWeight < 2.7)
        // {dense} is R1's layers 0-2 and {moe:3} its layers 3-5: the first MoE layers' down is raised.
        #expect(types["blk.2.ffn_gate.weight"] == .q6_K)
        #expect(types["blk.5.ffn_down_exps.weight"]!.bitsPerWeight > types["blk.6.ffn_down_exps.weight"]!.bitsPerWeight)
    }

    /// Layer sets in rules follow the config, not R1's numbers.
    @Test func layerSetsInRulesFollowTheConfig() throws {
        let r1 = try DeepSeekV3Config.parse(Data(DeepSeekV3Config.deepSeekR1JSON.utf8))
        #expect(try QuantRecipe.expandingLayerSets("blk\\.{dense}\\.=Q6_K", config: r1) == "blk\\.(0|1|2)\\.=Q6_K")
        #expect(try QuantRecipe.expandingLayerSets("blk\\.{moe:3}\\.ffn_down_exps=Q3_K", config: r1) == "blk\\.(3|4|5)\\.ffn_down_exps=Q3_K")
        #expect(try QuantRecipe.expandingLayerSets("blk\\.[0-9]{2}\\.=Q4_K", config: r1) == "blk\\.[0-9]{2}\\.=Q4_K")  // a regex count stays
        let dev = try DeepSeekV3Config.load(path: Fixtures.tiny + "/config.json")
        let moe = (0..<dev.numHiddenLayers).filter(dev.isMoELayer), dense = (0..<dev.numHiddenLayers).filter { !dev.isMoELayer($0) }
        let rules = try QuantRecipe.rules(["blk\\.{dense}\\.=Q8_0", "blk\\.{moe:1}\\.=Q6_K", "blk\\.{moe}\\.=Q4_K"], config: dev)
        for layer in dense { #expect(rules.first { $0.matches("blk.\(layer).attn_q_a.weight") }?.type == .q8_0) }
        #expect(rules.first { $0.matches("blk.\(moe[0]).attn_q_a.weight") }?.type == .q6_K)
        for layer in moe.dropFirst() { #expect(rules.first { $0.matches("blk.\(layer).attn_q_a.weight") }?.type == .q4_K) }
        var noDense = r1
        noDense.firstKDenseReplace = 0
        #expect(try !QuantRecipe.rules(["blk\\.{dense}\\.=Q8_0"], config: noDense)[0].matches("blk.0.attn_q_a.weight"))
        #expect(throws: QuantRecipe.RecipeError.self) { try QuantRecipe.expandingLayerSets("blk\\.{first}\\.=Q8_0", config: r1) }
    }
}
