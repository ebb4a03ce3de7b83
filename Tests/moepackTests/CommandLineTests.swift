import Foundation
import TestSupport
import Testing

/// The CLI as a user meets it: help that teaches, errors on one line, exit codes.
@Suite struct CommandLineTests {
    @Test func rootHelpListsEveryCommand() throws {
        let result = try TestSupport.moepack("--help")
        #expect(result.status == 0)
        for command in ["demo", "synth", "inspect", "dequant", "bench"] {
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
        #expect(result.stdout.contains("problem(s):"))
    }
}
