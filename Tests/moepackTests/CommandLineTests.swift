import DeepSeekV3
import Foundation
import TestSupport
import Testing

/// The CLI as a user meets it: help that teaches, errors on one line, exit codes.
@Suite struct CommandLineTests {
    @Test func rootHelpListsEveryCommand() throws {
        let result = try TestSupport.moepack("--help")
        #expect(result.status == 0)
        for command in ["demo", "synth", "inspect", "dequant", "tokenize", "bench"] {
            #expect(result.stdout.contains("  \(command)"), "missing \(command)")
        }
        #expect(result.stdout.contains("Start with `moepack demo`"))
    }

    @Test(arguments: [
        (["dequant", "--help"], ["--dtype <dtype>", "fp8_cast_bf16.py", "XXH3", "Example: moepack dequant"]),
        (["synth", "--help"], ["--preset <preset>", "tiny (~9 MB", "byte-identical"]),
        (["inspect", "--help"], ["--tensors", "--json", "layout check"]),
        (["bench", "dequant", "--help"], ["peak RSS", "memcpy"]),
        (["demo", "--help"], ["--preset <preset>", "dequantizes it to BF16"]),
    ])
    func subcommandHelpTeaches(arguments: [String], phrases: [String]) throws {
        let result = try TestSupport.run(TestSupport.moepackBinary, arguments)
        #expect(result.status == 0)
        for phrase in phrases { #expect(result.stdout.contains(phrase), "\(arguments): missing \(phrase)") }
    }

    /// `--threads` is one option group: every command refuses 0 with the same line, before any work.
    @Test(arguments: [
        ["dequant", "/nonexistent", "/nonexistent-out"], ["quantize", "/nonexistent", "/nonexistent.gguf"],
        ["synth", "--out", "/nonexistent"], ["perplexity", "/nonexistent"],
    ])
    func zeroThreadsAreRefused(arguments: [String]) throws {
        let result = try TestSupport.run(TestSupport.moepackBinary, arguments + ["--threads", "0"])
        #expect(result.status == 64, "\(arguments): status \(result.status)")
        #expect(result.stderr.contains("--threads must be at least 1 (got 0)"), "\(arguments): \(result.stderr)")
    }

    @Test func tokenizeReadsStandardInput() throws {
        let root = TestSupport.scratchDirectory("cli-tok")
        _ = try TestSupport.moepack("synth", "--preset", "tiny", "--out", root)
        let input = root + "/input.txt"
        try "Hello world <think>".write(toFile: input, atomically: true, encoding: .utf8)
        let ids = try TestSupport.run("/bin/bash", ["-c", "\"$0\" tokenize --tokenizer \"$1\" --ids < \"$2\"", TestSupport.moepackBinary, root, input])
        #expect(ids.status == 0, "\(ids.stderr)")
        let numbers = ids.stdout.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        #expect(numbers.first == 0)  // BOS: the synthetic tokenizer_config.json says add_bos_token
        #expect(numbers.last == (try BPETokenizer(path: root).id(of: "<think>")))
        let count = try TestSupport.run("/bin/bash", ["-c", "\"$0\" tokenize --tokenizer \"$1\" --count --no-special < \"$2\"", TestSupport.moepackBinary, root, input])
        #expect(Int(count.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) == numbers.count - 1)
        let listing = try TestSupport.run("/bin/bash", ["-c", "\"$0\" tokenize --tokenizer \"$1\" < \"$2\"", TestSupport.moepackBinary, root, input])
        #expect(listing.stdout.contains("\t\"<think>\"") && listing.stdout.split(separator: "\n").count == numbers.count)
        let missing = try TestSupport.moepack("tokenize", "--tokenizer", root + "/nope.json")
        #expect(missing.status == 1 && missing.stderr.hasPrefix("moepack: error: \(root)/nope.json: cannot read"))
    }

    @Test func badArgumentsAreUsageErrors() throws {
        let result = try TestSupport.moepack("dequant", "in", "out", "--dtype", "fp4")
        #expect(result.status == 64)
        #expect(result.stderr.contains("The value 'fp4' is invalid for '--dtype <dtype>'"))
    }

    @Test func aMissingCheckpointIsOneLine() throws {
        let directory = TestSupport.scratchDirectory("cli-missing")
        let result = try TestSupport.moepack("inspect", directory)
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("moepack: error: \(directory)/config.json: cannot read"))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test func synthInspectAndDequantEndToEnd() throws {
        let root = TestSupport.scratchDirectory("cli-e2e")
        let synth = try TestSupport.moepack("synth", "--preset", "tiny", "--out", root + "/fp8")
        #expect(synth.status == 0, "\(synth.stderr)")
        #expect(synth.stdout.contains("wrote tiny checkpoint"))
        let refused = try TestSupport.moepack("synth", "--preset", "tiny", "--out", root + "/fp8")
        #expect(refused.status == 64 && refused.stderr.contains("is not empty"))

        let inspect = try TestSupport.moepack("inspect", root + "/fp8", "--json", "--tensors")
        #expect(inspect.status == 0)
        let json = try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as! [String: Any]
        #expect(json["fp8"] as? Bool == true && json["tensor_count"] as? Int == 239)
        #expect((json["tensors"] as? [Any])?.count == 239 && (json["problems"] as? [Any])?.isEmpty == true)
        let text = try TestSupport.moepack("inspect", root + "/fp8")
        #expect(text.stdout.contains("layout  matches config.json") && text.stdout.contains("activated per token"))

        let dequant = try TestSupport.moepack("dequant", root + "/fp8", root + "/bf16", "--json", "--quiet")
        #expect(dequant.status == 0)
        let summary = try JSONSerialization.jsonObject(with: Data(dequant.stdout.utf8)) as! [String: Any]
        #expect(summary["tensors_dequantized"] as? Int == 104 && summary["shards_written"] as? Int == 3)
        let rerun = try TestSupport.moepack("dequant", root + "/fp8", root + "/bf16", "--json", "--quiet")
        let again = try JSONSerialization.jsonObject(with: Data(rerun.stdout.utf8)) as! [String: Any]
        #expect(again["shards_skipped"] as? Int == 3 && again["shards_written"] as? Int == 0)
    }

    @Test func inspectExitsNonZeroOnLayoutProblems() throws {
        let root = TestSupport.scratchDirectory("cli-layout")
        _ = try TestSupport.moepack("synth", "--preset", "tiny", "--out", root)
        let config = try String(contentsOfFile: root + "/config.json", encoding: .utf8)
            .replacingOccurrences(of: "\"num_hidden_layers\": 3", with: "\"num_hidden_layers\": 2")
        try config.write(toFile: root + "/config.json", atomically: true, encoding: .utf8)
        let result = try TestSupport.moepack("inspect", root)
        #expect(result.status == 2)
        // The layout report goes to stderr, then the one error line; nothing on stdout.
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("problem(s):"))
        let last = result.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.hasPrefix("moepack: error: \(root): ") && last.hasSuffix("layout problem(s): the tensors do not match config.json"))
    }

    /// The error convention (README "Errors and exit codes"): one `moepack: error:` line on stderr
    /// naming the file, exit 1 for bad input, 64 only for command-line usage, nothing on stdout.
    /// Regression (issue 16): a chunk range past the text and a missing model exited 64 with an
    /// argument-parser message and the usage text; `--mem 1e300G` trapped in `Int(_:)`.
    @Test func errorsFollowOneConvention() throws {
        let root = TestSupport.scratchDirectory("cli-errors")
        _ = try TestSupport.moepack("synth", "--preset", "tiny", "--out", root + "/tiny")
        let text = TestSupport.packageRoot + "/README.md"
        func expectInputError(_ arguments: [String], _ message: String) throws {
            let result = try TestSupport.run(TestSupport.moepackBinary, arguments)
            #expect(result.status == 1, "\(arguments): \(result.stderr)")
            #expect(result.stdout.isEmpty, "\(arguments)")
            #expect(result.stderr == "moepack: error: \(message)\n", "\(arguments)")
        }
        try expectInputError(["perplexity", root + "/nope", "--text", text], "\(root)/nope: no such file or directory")
        try expectInputError(
            ["perplexity", root + "/tiny", "--text", text, "--ctx", "64", "--chunks", "100000..100001", "--quiet"],
            "--chunks 100000..100001: the text has only \(try textChunks(root + "/tiny", text)) chunks of 64 tokens")
        let missing = try TestSupport.moepack("merge-results", root + "/missing.json")
        #expect(missing.status == 1 && missing.stderr.hasPrefix("moepack: error: \(root)/missing.json: cannot read") && missing.stderr.split(separator: "\n").count == 1)
        try Data("{}".utf8).write(to: URL(fileURLWithPath: root + "/empty.json"))
        let merge = try TestSupport.moepack("merge-results", root + "/empty.json")
        #expect(merge.status == 1 && merge.stderr.hasPrefix("moepack: error: \(root)/empty.json: not a moepack results file") && merge.stderr.split(separator: "\n").count == 1)
        try Data("not a gguf, but long enough".utf8).write(to: URL(fileURLWithPath: root + "/x.gguf"))
        try expectInputError(["check", root + "/x.gguf"], "\(root)/x.gguf: not a GGUF file (magic 6e 6f 74 20)")
        // Command-line usage: 64, with ArgumentParser's message.
        for arguments in [["perplexity", root + "/tiny", "--text", text, "--mem", "1e300G"], ["check"], ["inspect", root, "--no-such-flag"],
            ["perplexity", root + "/tiny", "--text", text, "--ctx", "0"], ["perplexity", root + "/tiny", "--text", text, "--threads", "-1"]] {
            let usage = try TestSupport.run(TestSupport.moepackBinary, arguments)
            #expect(usage.status == 64, "\(arguments): \(usage.stderr)")
            #expect(usage.stdout.isEmpty)
        }
    }

    /// Chunks of `ctx` 64 in `text` with the checkpoint's tokenizer (BOS first).
    func textChunks(_ checkpoint: String, _ text: String) throws -> Int {
        let count = try TestSupport.run("/bin/bash", ["-c", "\"$0\" tokenize --tokenizer \"$1\" --count < \"$2\"", TestSupport.moepackBinary, checkpoint, text])
        return (Int(count.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) / 64
    }
}
