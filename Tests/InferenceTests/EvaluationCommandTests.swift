import Conversion
import Foundation
import Inference
import SyntheticModels
import TestSupport
import Testing

/// `perplexity`, `verify` and `merge-results` end to end on the tiny checkpoint.
@Suite(.serialized) struct EvaluationCommandTests {
    static let root = TestSupport.scratchDirectory("evaluation-commands")
    static let text: String = {
        let path = root + "/text.txt"
        try! Data(SyntheticCorpus.text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }()
    static let q8: String = {
        let path = root + "/q8.gguf"
        let result = try! TestSupport.moepack("quantize", Fixtures.tiny, path, "--recipe", "Q8_0", "--quiet")
        precondition(result.status == 0, result.stderr)
        return path
    }()

    func results(_ path: String) throws -> EvaluationResults {
        try EvaluationResults.decode(Data(contentsOf: URL(fileURLWithPath: path)), file: path)
    }

    func run(_ arguments: String...) throws -> TestSupport.RunResult {
        let result = try TestSupport.run(TestSupport.moepackBinary, arguments)
        #expect(result.status == 0, "\(arguments.joined(separator: " ")): \(result.stderr)")
        return result
    }

    @Test func batchSizeAndThreadsDoNotChangeAnyFigure() throws {
        let a = Self.root + "/batch1.json", b = Self.root + "/batch4.json", c = Self.root + "/threads1.json"
        _ = try run("perplexity", Fixtures.tiny, "--text", Self.text, "--ctx", "64", "--chunks", "6", "--batch", "1", "--quiet", "--results", a)
        _ = try run("perplexity", Fixtures.tiny, "--text", Self.text, "--ctx", "64", "--chunks", "6", "--batch", "4", "--quiet", "--results", b)
        _ = try run("perplexity", Fixtures.tiny, "--text", Self.text, "--ctx", "64", "--chunks", "6", "--threads", "1", "--quiet", "--results", c)
        #expect(try results(a) == results(b))
        #expect(try results(a) == results(c))
        #expect(try results(a).runs[0].report.tokens == 6 * 31)
    }

    /// `perplexity --json` (what `bench perplexity` reads): its perplexity is the `--results` file's.
    @Test func jsonSummaryCarriesTheFigures() throws {
        let path = Self.root + "/json.json"
        let output = try run("perplexity", Fixtures.tiny, "--text", Self.text, "--ctx", "64", "--chunks", "3", "--quiet", "--json", "--results", path)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any])
        let perplexity = try results(path).runs[0].report.perplexity.value
        #expect(abs((object["perplexity"] as? Double ?? 0) - perplexity) <= 1e-12 * perplexity)
        #expect(object["tokens"] as? Int == 3 * 64)
        #expect(object["batch_tokens"] as? Int == 3 * 64)
        for key in ["seconds", "tokens_per_second"] { #expect((object[key] as? Double ?? 0) > 0, "\(key)") }
        for key in ["peak_rss_bytes", "storage_read_bytes"] { #expect(object[key] is Int, "\(key)") }
    }

    @Test func mergedSlicesEqualOneRun() throws {
        let whole = Self.root + "/whole.json", p1 = Self.root + "/p1.json", p2 = Self.root + "/p2.json", merged = Self.root + "/merged.json"
        _ = try run("verify", "--original", Fixtures.tiny, "--quantized", Self.q8, "--text", Self.text, "--ctx", "64", "--chunks", "5", "--quiet", "--results", whole)
        _ = try run("verify", "--original", Fixtures.tiny, "--quantized", Self.q8, "--text", Self.text, "--ctx", "64", "--chunks", "3..5", "--quiet", "--results", p2)
        _ = try run("verify", "--original", Fixtures.tiny, "--quantized", Self.q8, "--text", Self.text, "--ctx", "64", "--chunks", "0..3", "--quiet", "--results", p1)
        let output = try run("merge-results", p2, p1, "--output", merged)
        #expect(output.stdout.contains("chunks 0..<5"))
        #expect(try results(merged) == results(whole))
        // Overlaps and foreign runs are refused.
        let again = try TestSupport.run(TestSupport.moepackBinary, ["merge-results", p1, whole])
        #expect(again.status != 0 && again.stderr.contains("overlap"))
        let other = Self.root + "/other.json"
        _ = try run("verify", "--original", Fixtures.tiny, "--quantized", Self.q8, "--text", Self.text, "--ctx", "32", "--chunks", "3..5", "--quiet", "--results", other)
        let foreign = try TestSupport.run(TestSupport.moepackBinary, ["merge-results", p1, other])
        #expect(foreign.status != 0 && foreign.stderr.contains("fingerprint"))
    }

    @Test func savedBaseGivesTheSameFiguresAsTheLiveOriginal() throws {
        let base = Self.root + "/tiny.base", live = Self.root + "/live.json", saved = Self.root + "/saved.json"
        _ = try run("verify", "--original", Fixtures.tiny, "--quantized", Self.q8, "--text", Self.text, "--ctx", "64", "--chunks", "4", "--save-base", base, "--quiet", "--results", live)
        #expect(FileManager.default.fileExists(atPath: base))
        _ = try run("verify", "--base", base, "--quantized", Self.q8, "--quiet", "--results", saved)
        let a = try results(live), b = try results(saved)
        #expect(a.runs == b.runs)
        #expect(a.fingerprint == b.fingerprint)
        let report = a.runs[0].report
        #expect(report.meanKLD!.value > 0 && report.meanKLD!.value < 0.05)
        #expect(report.sameTop!.value > 0.8)
        // A damaged base file is reported by name.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: base))
        bytes = bytes.prefix(bytes.count - 100)
        let damaged = Self.root + "/damaged.base"
        try bytes.write(to: URL(fileURLWithPath: damaged))
        let failure = try TestSupport.run(TestSupport.moepackBinary, ["verify", "--base", damaged, "--quantized", Self.q8, "--quiet"])
        #expect(failure.status == 1)
        #expect(failure.stderr.contains("damaged.base") && failure.stderr.contains("chunk 3"))
    }

    @Test func perplexityOfTheGGUFUsesItsEmbeddedTokenizer() throws {
        let fromGGUF = try run("perplexity", Self.q8, "--text", Self.text, "--ctx", "64", "--chunks", "2", "--quiet")
        let withTokenizer = try run("perplexity", Self.q8, "--text", Self.text, "--ctx", "64", "--chunks", "2", "--quiet", "--tokenizer", Fixtures.tiny)
        #expect(fromGGUF.stdout.split(separator: "\n").prefix(2) == withTokenizer.stdout.split(separator: "\n").prefix(2))
        #expect(fromGGUF.stdout.contains("PPL"))
    }

    @Test func badInputsGiveOneLine() throws {
        let missing = try TestSupport.run(TestSupport.moepackBinary, ["perplexity", Fixtures.tiny, "--text", Self.root + "/nope.txt"])
        #expect(missing.status != 0 && missing.stderr.contains("nope.txt"))
        let short = Self.root + "/short.txt"
        try Data("hi".utf8).write(to: URL(fileURLWithPath: short))
        let tooShort = try TestSupport.run(TestSupport.moepackBinary, ["perplexity", Fixtures.tiny, "--text", short])
        #expect(tooShort.status != 0 && tooShort.stderr.contains("fewer than one chunk"))
        let range = try TestSupport.run(TestSupport.moepackBinary, ["perplexity", Fixtures.tiny, "--text", Self.text, "--ctx", "64", "--chunks", "100000..100001"])
        #expect(range.status != 0 && range.stderr.contains("only"))
    }
}
