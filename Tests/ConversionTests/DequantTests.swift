import Conversion
import DeepSeekV3
import Foundation
import Quants
import TensorFiles
import TestSupport
import Testing

@Suite struct DequantTests {
    func dequant(_ input: String, _ output: String, _ type: DenseFloatType = .bf16, threads: Int = 2) throws
        -> CheckpointDequantizer.Summary
    {
        var options = CheckpointDequantizer.Options()
        options.outputType = type
        options.threads = threads
        options.progress = .quiet
        return try CheckpointDequantizer(input: input, output: output, options: options).run()
    }

    /// The real `safetensors` library reads our output, and an independent numpy/ml_dtypes
    /// computation of DeepSeek's weight_dequant matches every tensor bit for bit.
    @Test(.enabled(if: TestSupport.oraclesAvailable), arguments: DenseFloatType.allCases)
    func matchesAnIndependentDequantization(type: DenseFloatType) throws {
        let output = TestSupport.scratchDirectory("dq-\(type.rawValue)")
        let summary = try dequant(Fixtures.tiny, output, type)
        #expect(summary.shardsWritten == 3 && summary.tensorsDequantized == 104)
        let result = try TestSupport.oracle("check_dequant.py", [Fixtures.tiny, output, type.rawValue])
        let json = try JSONSerialization.jsonObject(with: Data(result.utf8)) as! [String: Any]
        #expect(json["ok"] as? Bool == true, "\(result)")
        #expect(json["dequantized"] as? Int == 104)
        // Everything else of the directory came along; config lost quantization_config only.
        let files = try FileManager.default.contentsOfDirectory(atPath: output).sorted()
        #expect(files == (try FileManager.default.contentsOfDirectory(atPath: Fixtures.tiny).sorted()))
        let config = try DeepSeekV3Config.load(path: output + "/config.json")
        #expect(config.quantization == nil && config.hiddenSize == 256)
        #expect(try Data(contentsOf: URL(fileURLWithPath: output + "/tokenizer.json"))
            == Data(contentsOf: URL(fileURLWithPath: Fixtures.tiny + "/tokenizer.json")))
        // The result is itself a valid (dense) checkpoint of the same architecture.
        let report = try CheckpointReport(directory: output)
        #expect(report.check.problems.isEmpty && !report.check.isFP8)
    }

    @Test func outputDoesNotDependOnThreadsOrChunking() throws {
        let a = TestSupport.scratchDirectory("dqA"), b = TestSupport.scratchDirectory("dqB")
        _ = try dequant(Fixtures.tiny, a, threads: 1)
        var options = CheckpointDequantizer.Options()
        options.threads = 3
        options.chunkBytes = 1000  // many tiny chunks, rows larger than a chunk
        options.progress = .quiet
        _ = try CheckpointDequantizer(input: Fixtures.tiny, output: b, options: options).run()
        #expect(try Fixtures.files(in: a) == Fixtures.files(in: b))
    }

    @Test func aRerunVerifiesAndSkipsFinishedShardsAndRedoesDamagedOnes() throws {
        let output = TestSupport.scratchDirectory("dq-resume")
        _ = try dequant(Fixtures.tiny, output)
        let first = try Fixtures.files(in: output)
        let again = try dequant(Fixtures.tiny, output)
        #expect(again.shardsSkipped == 3 && again.shardsWritten == 0)
        #expect(try Fixtures.files(in: output) == first)

        // Flip one data byte in the middle shard: its stored checksum no longer matches.
        let damaged = output + "/model-00002-of-000003.safetensors"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: damaged))
        bytes[bytes.count - 100] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: damaged))
        let repaired = try dequant(Fixtures.tiny, output)
        #expect(repaired.shardsWritten == 1 && repaired.shardsSkipped == 2)
        #expect(try Fixtures.files(in: output) == first)

        // A different output dtype is a different job: nothing is skipped.
        let retyped = try dequant(Fixtures.tiny, output, .f32)
        #expect(retyped.shardsWritten == 3)
    }

    /// Killed at an arbitrary moment, the job leaves no partial file at a final path, and the rerun
    /// finishes with exactly the bytes of an uninterrupted run.
    @Test func aKilledRunResumesToIdenticalOutput() throws {
        let reference = TestSupport.scratchDirectory("dq-ref")
        _ = try dequant(Fixtures.small, reference)
        for delay in [0.05, 0.3] {
            let output = TestSupport.scratchDirectory("dq-kill")
            let process = Process()
            process.executableURL = URL(fileURLWithPath: TestSupport.moepackBinary)
            process.arguments = ["dequant", Fixtures.small, output, "--quiet", "--threads", "1"]
            try process.run()
            Thread.sleep(forTimeInterval: delay)
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            for name in try FileManager.default.contentsOfDirectory(atPath: output) where name.hasSuffix(".safetensors") && !name.hasPrefix(".") {
                // Whatever sits at a final name is complete: it parses and its data matches the reference.
                #expect(try Data(contentsOf: URL(fileURLWithPath: output + "/" + name))
                    == Data(contentsOf: URL(fileURLWithPath: reference + "/" + name)), "\(name) after kill at \(delay)s")
            }
            let result = try TestSupport.moepack("dequant", Fixtures.small, output, "--quiet")
            #expect(result.status == 0, "\(result.stderr)")
            var finished = try Fixtures.files(in: output)
            finished = finished.filter { !$0.key.hasPrefix(".") }
            #expect(finished == (try Fixtures.files(in: reference)))
        }
    }
}

@Suite struct DequantBadInputTests {
    /// Runs the CLI and returns (exit status, stderr with the scratch path replaced by DIR).
    func run(_ input: String, _ output: String, prefix: [String] = []) throws -> (Int32, String) {
        let result: TestSupport.RunResult
        if prefix.isEmpty {
            result = try TestSupport.moepack("dequant", input, output, "--quiet")
        } else {
            result = try TestSupport.run("/bin/bash", ["-c", prefix.joined(separator: " ") + " exec \"$0\" dequant \"$1\" \"$2\" --quiet", TestSupport.moepackBinary, input, output])
        }
        return (result.status, result.stderr.replacingOccurrences(of: input, with: "IN").replacingOccurrences(of: output, with: "OUT"))
    }

    func finalShards(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".safetensors") }.sorted()
    }

    /// Overwrites bytes of a tensor in a shard of a checkpoint copy.
    func patch(_ checkpoint: String, tensor: String, at offset: Int, with bytes: [UInt8]) throws {
        let opened = try Checkpoint(directory: checkpoint)
        let shard = try #require(opened.shard(of: tensor))
        let start = shard.fileRange(of: shard.info(tensor)!).lowerBound + offset
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: shard.path))
        try handle.seek(toOffset: UInt64(start))
        handle.write(Data(bytes))
        try handle.close()
    }

    /// Also guards a crash: an error between taking a write buffer and submitting it once left a
    /// libdispatch semaphore below its initial value, which traps when the writer is freed.
    @Test func aNaNWeightNamesFileTensorAndPosition() throws {
        let input = try Fixtures.tinyCopy(), output = TestSupport.scratchDirectory("bad-nan")
        let tensor = "model.layers.1.mlp.experts.5.up_proj.weight"  // [256, 256]
        try patch(input, tensor: tensor, at: 130 * 256 + 7, with: [0xFF])
        let (status, message) = try run(input, output)
        #expect(status == 1)
        let shard = fileName(try Checkpoint(directory: input).shard(of: tensor)!.path)
        #expect(message == "moepack: error: IN/\(shard): tensor '\(tensor)': NaN weight (FP8 code 0xFF) at [130, 7]\n")
        #expect(!finalShards(output).contains(shard))
        #expect(try FileManager.default.contentsOfDirectory(atPath: output).allSatisfy { !$0.contains("partial") })
    }

    @Test func aNonFiniteScaleIsRejected() throws {
        let input = try Fixtures.tinyCopy(), output = TestSupport.scratchDirectory("bad-scale")
        let tensor = "model.layers.0.self_attn.o_proj.weight_scale_inv"
        try patch(input, tensor: tensor, at: 4, with: [0x00, 0x00, 0xC0, 0x7F])  // NaN
        let (status, message) = try run(input, output)
        #expect(status == 1)
        #expect(message.contains("tensor '\(tensor)': scale nan at [0, 1] is not a finite scale below 2^100"))
    }

    @Test func aTruncatedShardIsNamedAndNothingIsWritten() throws {
        let input = try Fixtures.tinyCopy(), output = TestSupport.scratchDirectory("bad-trunc")
        let shard = input + "/model-00003-of-000003.safetensors"
        let data = try Data(contentsOf: URL(fileURLWithPath: shard))
        try data.prefix(data.count - 1000).write(to: URL(fileURLWithPath: shard))
        let (status, message) = try run(input, output)
        #expect(status == 1)
        #expect(message.hasPrefix("moepack: error: IN/model-00003-of-000003.safetensors: truncated: tensor data needs"))
        #expect(message.hasSuffix("is cut off)\n"))
        #expect(finalShards(output).isEmpty)
    }

    @Test func aTensorMissingFromTheCheckpointIsNamed() throws {
        let input = try Fixtures.tinyCopy(), output = TestSupport.scratchDirectory("bad-missing")
        // The config now promises 16 experts; the files hold 8.
        let config = try String(contentsOfFile: input + "/config.json", encoding: .utf8)
            .replacingOccurrences(of: "\"n_routed_experts\": 8", with: "\"n_routed_experts\": 16")
        try config.write(toFile: input + "/config.json", atomically: true, encoding: .utf8)
        let (status, message) = try run(input, output)
        #expect(status == 1)
        #expect(message.hasPrefix("moepack: error: IN: tensor 'model.layers.1.mlp.gate.weight' has shape [8, 256], config implies [16, 256]"))
    }

    @Test func aTensorMissingFromTheIndexIsNamed() throws {
        let input = try Fixtures.tinyCopy(), output = TestSupport.scratchDirectory("bad-index")
        let indexPath = input + "/model.safetensors.index.json"
        var index = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: indexPath))) as! [String: Any]
        var map = index["weight_map"] as! [String: String]
        map.removeValue(forKey: "model.norm.weight")
        index["weight_map"] = map
        try JSONSerialization.data(withJSONObject: index).write(to: URL(fileURLWithPath: indexPath))
        let (status, message) = try run(input, output)
        #expect(status == 1)
        #expect(message == "moepack: error: IN/model.safetensors.index.json: shard 'model-00003-of-000003.safetensors' holds tensor 'model.norm.weight' which weight_map does not list\n")
    }

    /// A full disk (simulated with a file-size limit) fails with the output file named and leaves
    /// neither a final nor a temporary file behind.
    @Test func aFullDiskFailsCleanly() throws {
        let output = TestSupport.scratchDirectory("bad-full")
        let (status, message) = try run(Fixtures.tiny, output, prefix: ["ulimit -f 4096;"])  // 4 MiB
        #expect(status == 1)
        #expect(message.hasPrefix("moepack: error: OUT/model-0000"))
        #expect(message.contains("(disk full or file size limit reached)"))
        let left = try FileManager.default.contentsOfDirectory(atPath: output)
        #expect(left.allSatisfy { !$0.contains("partial") }, "\(left)")
    }

    @Test func refusesToWriteIntoItsInput() throws {
        let (status, message) = try run(Fixtures.tiny, Fixtures.tiny)
        #expect(status == 1)
        #expect(message == "moepack: error: IN: output directory is the input directory; choose another\n")
    }
}

func fileName(_ path: String) -> String { String(path.split(separator: "/").last!) }
