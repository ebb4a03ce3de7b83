import Conversion
import DeepSeekV3
import Foundation
import Inference
import Quants
import SyntheticModels
import TensorFiles
import TestSupport
import Testing

/// `moepack imatrix` and its files: the statistics against an independent numpy reference, the
/// GGUF file against gguf-py, slices and resume bit for bit, the legacy `.dat` format, bad files.
@Suite(.serialized) struct ImatrixTests {
    static let root = TestSupport.scratchDirectory("imatrix")
    static let text: String = {
        let path = root + "/text.txt"
        try! Data(SyntheticCorpus.text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }()

    func run(_ arguments: String...) throws -> TestSupport.RunResult {
        let result = try TestSupport.run(TestSupport.moepackBinary, arguments)
        #expect(result.status == 0, "\(arguments.joined(separator: " ")): \(result.stderr)")
        return result
    }

    func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    /// Every entry and count of the engine's collection equals llama-imatrix's semantics computed on
    /// the float64 reference forward pass (reference_imatrix.py).
    @Test(.enabled(if: TestSupport.oraclesAvailable)) func statisticsMatchTheNumpyReference() throws {
        let weights = Fixtures.tinyWeights
        let chunks = Fixtures.chunks(count: 2, length: 48, vocabulary: weights.config.vocabSize)
        let collector = ImatrixCollector(observesOutput: true)
        let model = try DeepSeekV3Model(source: weights, threads: 2, attention: .absorbed, observer: collector)
        _ = try model.logits(chunks: chunks, positions: 24..<47)
        let ours = try collector.result(datasets: [], chunkCount: 2, chunkSize: 48)

        let chunksFile = Self.root + "/chunks.json", output = Self.root + "/reference.json"
        try JSONSerialization.data(withJSONObject: chunks).write(to: URL(fileURLWithPath: chunksFile))
        _ = try TestSupport.oracle("reference_imatrix.py", [Fixtures.tiny, chunksFile, output, "--process-output"])
        let reference = try JSONSerialization.jsonObject(with: bytes(output)) as! [String: [String: [Double]]]

        #expect(Set(ours.entries.keys) == Set(reference.keys))
        // One entry per weight that multiplies activations: 6 attention + 3 FFN per dense layer,
        // + router, 3 expert stacks and 3 shared per MoE layer, + the head.
        let c = weights.config
        let moe = (0..<c.numHiddenLayers).filter(c.isMoELayer).count
        #expect(ours.entries.count == 6 * c.numHiddenLayers + 3 * (c.numHiddenLayers - moe) + 7 * moe + 1)
        var worst = 0.0
        for (name, entry) in ours.entries {
            guard let expected = reference[name] else { continue }
            #expect(entry.counts.map(Double.init) == expected["counts"]!, "\(name) counts")
            let sums = expected["sums"]!
            #expect(sums.count == entry.sums.count, "\(name) length")
            for (i, value) in sums.enumerated() where i < entry.sums.count {
                let mine = ImportanceMatrix.double(entry.sums[i])
                worst = max(worst, abs(mine - value) / max(value, 1e-6))
            }
        }
        print("imatrix vs numpy reference: \(ours.entries.count) entries, worst relative difference \(worst)")
        #expect(worst < 1e-4)
        // Routed experts: counts per expert add up to tokens × experts per token.
        let stack = ours.entries[DeepSeek2Name.ffnGateExps.name(layer: c.firstKDenseReplace)]!
        #expect(stack.counts.count == c.nRoutedExperts)
        #expect(stack.counts.reduce(0, +) == Int64(2 * 48 * c.numExpertsPerToken))
    }

    /// The written file is llama.cpp's imatrix GGUF as gguf-py reads it.
    @Test(.enabled(if: TestSupport.oraclesAvailable)) func fileIsLlamaCppsFormat() throws {
        let path = Self.root + "/whole.gguf"
        _ = try run("imatrix", Fixtures.tiny, "--text", Self.text, "--ctx", "64", "--chunks", "4", "--quiet", "-o", path)
        let dump = try JSONSerialization.jsonObject(with: Data(TestSupport.oracle("gguf_read.py", [path]).utf8)) as! [String: Any]
        let fields = dump["fields"] as! [String: [String: Any]]
        #expect(fields["general.type"]?["value"] as? String == "imatrix")
        #expect(fields["imatrix.chunk_count"]?["value"] as? Int == 4)
        #expect(fields["imatrix.chunk_size"]?["value"] as? Int == 64)
        #expect(fields["imatrix.chunk_count"]?["type"] as? String == "UINT32")
        #expect((fields["imatrix.datasets"]?["value"] as? [String]) == [Self.text])
        let tensors = dump["tensors"] as! [[String: Any]]
        let names = tensors.map { $0["name"] as! String }
        let (matrix, slice) = try ImatrixFile.read(path: path)
        // llama-imatrix's order: entries sorted by name, each its in_sum2 then its counts.
        #expect(names == matrix.entries.keys.sorted().flatMap { [$0 + ".in_sum2", $0 + ".counts"] })
        #expect(slice == nil)
        #expect(tensors.count == 2 * matrix.entries.count)
        for tensor in tensors {
            let name = tensor["name"] as! String, shape = tensor["shape"] as! [Int]
            #expect(tensor["type"] as? String == "F32")
            let entryName = String(name.prefix(upTo: name.range(of: ".weight.")!.upperBound).dropLast())
            let entry = try #require(matrix.entries[entryName], "\(name)")
            if name.hasSuffix(".in_sum2") { #expect(shape == [entry.columns, entry.matrices]) }
            if name.hasSuffix(".counts") { #expect(shape == [1, entry.matrices]) }
        }
        let k = Fixtures.tinyWeights.config
        let down = try #require(matrix.entries[DeepSeek2Name.ffnDownExps.name(layer: k.firstKDenseReplace)])
        #expect(down.columns == k.moeIntermediateSize && down.matrices == k.nRoutedExperts)
        let kb = try #require(matrix.entries[DeepSeek2Name.attnKB.name(layer: 0)])
        #expect(kb.columns == k.qkNopeHeadDim * k.numAttentionHeads && kb.matrices == 1 && kb.counts == [4 * 64])
    }

    /// Slices merged (in any order) give the bytes of one run; a killed run resumes to them too.
    @Test func slicesAndResumeEqualOneRunBitForBit() throws {
        let whole = Self.root + "/one-run.gguf", a = Self.root + "/slice-a.gguf", b = Self.root + "/slice-b.gguf", merged = Self.root + "/merged.gguf"
        _ = try run("imatrix", Fixtures.tiny, "--text", Self.text, "--ctx", "64", "--chunks", "5", "--quiet", "-o", whole)
        _ = try run("imatrix", Fixtures.tiny, "--text", Self.text, "--ctx", "64", "--chunks", "2..5", "--quiet", "-o", b, "--batch", "3")
        _ = try run("imatrix", Fixtures.tiny, "--text", Self.text, "--ctx", "64", "--chunks", "0..2", "--quiet", "-o", a, "--threads", "1")
        #expect(try ImatrixFile.read(path: a).slice?.chunks == 0..<2)
        let output = try run("merge-imatrix", b, a, "-o", merged)
        #expect(output.stdout.contains("5 chunks"))
        #expect(try bytes(merged) == bytes(whole))
        // Overlapping slices and slices of another context are refused.
        let overlap = try TestSupport.run(TestSupport.moepackBinary, ["merge-imatrix", a, a, "-o", Self.root + "/bad.gguf"])
        #expect(overlap.status == 1 && overlap.stderr.contains("overlap"))
        let other = Self.root + "/other.gguf"
        _ = try run("imatrix", Fixtures.tiny, "--text", Self.text, "--ctx", "32", "--chunks", "4..6", "--quiet", "-o", other)
        let foreign = try TestSupport.run(TestSupport.moepackBinary, ["merge-imatrix", a, other, "-o", Self.root + "/bad.gguf"])
        #expect(foreign.status == 1 && foreign.stderr.contains("another model, text or settings"))
        #expect(!FileManager.default.fileExists(atPath: Self.root + "/bad.gguf"))

        // Resume: a resume file covering the first 2 chunks (what a run killed after its second
        // save leaves) is taken over, and the result is the uninterrupted run's.
        let resumed = Self.root + "/resumed.gguf"
        let partial = Self.root + "/.resumed.gguf.moepack-partial"
        let slice = try ImatrixFile.read(path: a)
        try ImatrixFile.write(slice.matrix, slice: slice.slice, to: partial)
        let second = try run("imatrix", Fixtures.tiny, "--text", Self.text, "--ctx", "64", "--chunks", "5", "-o", resumed, "--save-every", "1")
        #expect(second.stdout.contains("2 chunks resumed"))
        #expect(try bytes(resumed) == bytes(whole))
        #expect(!FileManager.default.fileExists(atPath: partial))
    }

    /// A bf16 run's sums are its own: its slices do not merge with f32 ones (the fingerprint says
    /// the precision), and its importance weights are close to the f32 run's but not equal.
    @Test(.enabled(if: Precision.bf16.isSupported, "the CPU has no AVX-512 BF16")) func bf16RunsAreTheirOwnSlices() throws {
        let f32 = Self.root + "/f32-whole.gguf", bf16 = Self.root + "/bf16-whole.gguf"
        let a = Self.root + "/bf16-slice-a.gguf", b = Self.root + "/f32-slice-b.gguf"
        _ = try run("imatrix", Fixtures.tiny, "--text", Self.text, "--ctx", "64", "--chunks", "4", "--quiet", "-o", f32)
        _ = try run("imatrix", Fixtures.tiny, "--text", Self.text, "--ctx", "64", "--chunks", "4", "--quiet", "-o", bf16, "--precision", "bf16")
        _ = try run("imatrix", Fixtures.tiny, "--text", Self.text, "--ctx", "64", "--chunks", "0..2", "--quiet", "-o", a, "--precision", "bf16")
        _ = try run("imatrix", Fixtures.tiny, "--text", Self.text, "--ctx", "64", "--chunks", "2..4", "--quiet", "-o", b)
        let mixed = try TestSupport.run(TestSupport.moepackBinary, ["merge-imatrix", a, b, "-o", Self.root + "/mixed.gguf"])
        #expect(mixed.status == 1 && mixed.stderr.contains("another model, text or settings"), "\(mixed.stderr)")
        // bf16 slices merge to the bytes of one bf16 run, as f32 ones do.
        let second = Self.root + "/bf16-slice-b.gguf", merged = Self.root + "/bf16-merged.gguf"
        _ = try run("imatrix", Fixtures.tiny, "--text", Self.text, "--ctx", "64", "--chunks", "2..4", "--quiet", "-o", second, "--precision", "bf16")
        _ = try run("merge-imatrix", a, second, "-o", merged)
        #expect(try bytes(merged) == bytes(bf16))
        let agreement = ImatrixComparison(try ImatrixFile.read(path: bf16).matrix, against: try ImatrixFile.read(path: f32).matrix)
        #expect(agreement.unmatched.isEmpty && agreement.entries > 0)
        #expect(agreement.worst > 0, "bf16 rounding changed no activation")
        #expect(agreement.median < 1e-2, "median relative difference \(agreement.median)")
    }

    /// The comparison's figures on two small matrices whose differences are known.
    @Test func comparisonMeasuresRelativeDifferencesAndCounts() throws {
        func matrix(_ values: [[Double]], counts: [Int64]) -> ImportanceMatrix {
            var entry = ImportanceMatrix.Entry(columns: values[0].count, matrices: values.count)
            entry.counts = counts
            entry.sums = values.enumerated().flatMap { m, row in row.map { ImportanceMatrix.fixed($0 * Double(counts[m]))! } }
            return ImportanceMatrix(entries: ["blk.1.ffn_gate_exps.weight": entry, "blk.1.attn_q_a.weight": ImportanceMatrix.Entry(columns: 3)])
        }
        // Weights (sum / count): expert 0 the same, expert 1 one value 10% off, counts of expert 1
        // different. The dense entry has no counts (weights 1 on both sides).
        let a = matrix([[1, 2], [4, 4.4]], counts: [3, 5])
        var b = matrix([[1, 2], [4, 4]], counts: [3, 7])
        b.entries["blk.2.ffn_up_exps.weight"] = ImportanceMatrix.Entry(columns: 2)
        let c = ImatrixComparison(a, against: b)
        #expect(c.entries == 2 && c.values == 7)
        #expect(c.unmatched == ["blk.2.ffn_up_exps.weight"])
        #expect(c.countGroups == 2 && c.differingCounts == 1)  // the dense entry's count is not an expert's
        #expect(abs(c.worst - 0.1) < 1e-6 && c.worstAt.hasPrefix("blk.1.ffn_gate_exps.weight[3]"))
        #expect(c.median == 0)
    }

    /// A run killed with SIGKILL after it saved its resume file completes to the same bytes.
    @Test func killedRunResumes() throws {
        let whole = Self.root + "/kill-whole.gguf", killed = Self.root + "/killed.gguf"
        let partial = Self.root + "/.killed.gguf.moepack-partial"
        _ = try run("imatrix", Fixtures.tiny, "--text", Self.text, "--ctx", "64", "--chunks", "8", "--quiet", "-o", whole)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestSupport.moepackBinary)
        process.arguments = ["imatrix", Fixtures.tiny, "--text", Self.text, "--ctx", "64", "--chunks", "8", "--batch", "1", "--save-every", "1", "--quiet", "-o", killed]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: partial) && process.isRunning && Date() < deadline { usleep(2000) }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let interrupted = FileManager.default.fileExists(atPath: partial)
        let rerun = try run("imatrix", Fixtures.tiny, "--text", Self.text, "--ctx", "64", "--chunks", "8", "--save-every", "1", "-o", killed)
        if interrupted { #expect(rerun.stdout.contains("chunks resumed")) }
        #expect(try bytes(killed) == bytes(whole))
    }

    /// The legacy format as llama-imatrix's `save_imatrix_legacy` writes it: values are
    /// mean(x²)·ncall; the quantizer's weights are value / ncall.
    @Test func legacyDatFilesAreRead() throws {
        var data = Data()
        func int32(_ v: Int32) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        func floats(_ v: [Float]) { for x in v { withUnsafeBytes(of: x.bitPattern.littleEndian) { data.append(contentsOf: $0) } } }
        int32(2)
        for (name, calls, values) in [("blk.0.attn_q_a.weight", Int32(3), [Float(3), 6, 0.75, 30]), ("blk.1.ffn_down_exps.weight", 2, [2, 4, 8, 16, 1, 1, 1, 1])] {
            int32(Int32(name.utf8.count))
            data.append(contentsOf: Array(name.utf8))
            int32(calls)
            int32(Int32(values.count))
            floats(values)
        }
        int32(3)
        let dataset = "calibration.txt"
        int32(Int32(dataset.utf8.count))
        data.append(contentsOf: Array(dataset.utf8))
        let path = Self.root + "/legacy.dat"
        try data.write(to: URL(fileURLWithPath: path))
        let (matrix, slice) = try ImatrixFile.read(path: path)
        #expect(slice == nil)
        #expect(matrix.chunkCount == 3 && matrix.datasets == [dataset] && matrix.entries.count == 2)
        #expect(matrix.weights(for: "blk.0.attn_q_a.weight") == [1, 2, 0.25, 10])
        #expect(matrix.weights(for: "blk.1.ffn_down_exps.weight") == [1, 2, 4, 8, 0.5, 0.5, 0.5, 0.5])

        // Truncations and hostile counts: one-line errors naming the file.
        for cut in [2, 7, 30, data.count - 40] {
            let bad = Self.root + "/legacy-cut-\(cut).dat"
            try data.prefix(cut).write(to: URL(fileURLWithPath: bad))
            #expect(throws: ImatrixError.self) { try ImatrixFile.read(path: bad) }
        }
        var hostile = data
        hostile.replaceSubrange(0..<4, with: [0xff, 0xff, 0xff, 0x7f])
        let bad = Self.root + "/legacy-hostile.dat"
        try hostile.write(to: URL(fileURLWithPath: bad))
        let error = try #require(throws: ImatrixError.self) { try ImatrixFile.read(path: bad) }
        #expect("\(error)".hasPrefix(bad) && "\(error)".contains("entry count"))
    }

    /// A model GGUF, a truncated imatrix and an imatrix whose shapes disagree with each other are refused.
    @Test func badImatrixFilesAreOneLineErrors() throws {
        let path = Self.root + "/good.gguf"
        _ = try run("imatrix", Fixtures.tiny, "--text", Self.text, "--ctx", "64", "--chunks", "2", "--quiet", "-o", path)
        let good = try bytes(path)
        let truncated = Self.root + "/truncated.gguf"
        try good.prefix(good.count - 100).write(to: URL(fileURLWithPath: truncated))
        #expect(throws: (any Error).self) { try ImatrixFile.read(path: truncated) }
        let q8 = Self.root + "/model.gguf"
        _ = try run("quantize", Fixtures.tiny, q8, "--recipe", "Q8_0", "--quiet")
        let error = try #require(throws: ImatrixError.self) { try ImatrixFile.read(path: q8) }
        #expect("\(error)".contains("general.type"))
        let result = try TestSupport.run(TestSupport.moepackBinary, ["quantize", Fixtures.tiny, Self.root + "/x.gguf", "--imatrix", truncated])
        #expect(result.status == 1 && result.stderr.split(separator: "\n").count == 1 && result.stderr.hasPrefix("moepack: error: "))
    }

    /// Cold experts get the pooled statistics of the layer's warm ones (or 1s, llama-quantize's way).
    @Test func coldExpertPolicy() throws {
        var entry = ImportanceMatrix.Entry(columns: 2, matrices: 3)
        entry.sums = [2, 4, 0, 0, 6, 2].map { ImportanceMatrix.fixed($0)! }
        entry.counts = [1, 0, 3]
        let matrix = ImportanceMatrix(entries: ["e": entry])
        #expect(matrix.weights(for: "e", cold: .ones) == [2, 4, 1, 1, 2, Float(2) / 3])
        #expect(matrix.weights(for: "e", cold: .layerMean) == [2, 4, 2, 1.5, 2, Float(2) / 3])
        #expect(matrix.weights(for: "missing") == nil)
    }
}

/// `quantize --imatrix`: each row is quantized with its own matrix's importance weights, the keys
/// llama-quantize writes are there, and an imatrix of another model is refused by tensor name.
@Suite(.serialized) struct QuantizeWithImatrixTests {
    static let root = TestSupport.scratchDirectory("quantize-imatrix")

    @Test func rowsUseTheirOwnMatrixWeights() throws {
        let text = Self.root + "/text.txt"
        try Data(SyntheticCorpus.text.utf8).write(to: URL(fileURLWithPath: text))
        let imatrix = Self.root + "/tiny.imatrix.gguf", output = Self.root + "/q4.gguf", plain = Self.root + "/q4-plain.gguf"
        var result = try TestSupport.moepack("imatrix", Fixtures.tiny, "--text", text, "--ctx", "64", "--chunks", "3", "--quiet", "-o", imatrix)
        #expect(result.status == 0, "\(result.stderr)")
        result = try TestSupport.moepack("quantize", Fixtures.tiny, output, "--recipe", "Q4_K_M", "--imatrix", imatrix, "--quiet")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("output.weight"))  // not collected without --process-output: said
        result = try TestSupport.moepack("quantize", Fixtures.tiny, plain, "--recipe", "Q4_K_M", "--quiet")
        #expect(result.status == 0)

        let file = try GGUFFile(path: output), other = try GGUFFile(path: plain)
        #expect(file.value("quantize.imatrix.file") == .string(imatrix))
        #expect(file.value("quantize.imatrix.dataset") == .string(text))
        #expect(file.value("quantize.imatrix.chunks_count") == .int32(3))
        let matrix = try ImatrixFile.read(path: imatrix).matrix
        #expect(file.value("quantize.imatrix.entries_count") == .int32(Int32(matrix.entries.count)))

        // Expert e's rows of a stack, quantized directly with expert e's slice of the weights.
        let c = Fixtures.tinyWeights.config, layer = c.firstKDenseReplace, e = 1
        let name = DeepSeek2Name.ffnDownExps.name(layer: layer)
        let info = try #require(file.tensor(name))
        let columns = info.dimensions[0], rowsPerExpert = info.dimensions[1]
        let rowBytes = info.type.rowBytes(columns)!
        let weights = try #require(matrix.weights(for: name))
        let source = Fixtures.tinyWeights
        var row = [Float](repeating: 0, count: columns), expected = [UInt8](repeating: 0, count: rowBytes)
        for r in 0..<rowsPerExpert {
            try row.withUnsafeMutableBufferPointer { buffer in
                try source.read("model.layers.\(layer).mlp.experts.\(e).down_proj.weight", rows: r..<(r + 1), into: buffer.baseAddress!)
            }
            try row.withUnsafeBufferPointer { x in
                try weights.withUnsafeBufferPointer { w in
                    try expected.withUnsafeMutableBytes { out in
                        try info.type.quantize(row: x, importance: UnsafeBufferPointer(rebasing: w[(e * columns)..<((e + 1) * columns)]), into: out)
                    }
                }
            }
            let stored = file.bytes(of: info)[((e * rowsPerExpert + r) * rowBytes)..<((e * rowsPerExpert + r + 1) * rowBytes)]
            #expect(Array(stored) == expected, "row \(r) of expert \(e)")
        }
        // The importance matrix changed the bytes of that tensor (it is not silently ignored).
        #expect(Array(file.bytes(of: info)) != Array(other.bytes(of: other.tensor(name)!)))
    }

    @Test func anImatrixOfAnotherModelIsRefusedByTensorName() throws {
        let small = TestSupport.scratchDirectory("quantize-imatrix-small") + "/fp8"
        try SyntheticCheckpoint(preset: .small, seed: 3).write(to: small, progress: .quiet)
        let text = Self.root + "/text2.txt"
        try Data(SyntheticCorpus.text.utf8).write(to: URL(fileURLWithPath: text))
        let imatrix = Self.root + "/tiny2.imatrix.gguf"
        _ = try TestSupport.moepack("imatrix", Fixtures.tiny, "--text", text, "--ctx", "64", "--chunks", "1", "--quiet", "-o", imatrix)
        let output = Self.root + "/wrong.gguf"
        let result = try TestSupport.moepack("quantize", small, output, "--recipe", "Q4_K_M", "--imatrix", imatrix, "--quiet")
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("moepack: error: ") && result.stderr.contains("blk.") && result.stderr.contains("another model"))
        #expect(!FileManager.default.fileExists(atPath: output))
    }
}
