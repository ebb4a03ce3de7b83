import Conversion
import Quants
import SyntheticModels

/// Deterministic mixed text for tokenizer benchmarks: the synthetic corpus, shuffled into
/// sentences with numbers, code, CJK and emoji spliced in.
package enum TokenizerBenchmark {
    package static func text(megabytes: Int) -> String {
        let sentences = SyntheticCorpus.text.split(separator: ".").map(String.init)
        let extras = [
            " 12345 678 9.75 2026-11-29", "\n    return value * 2\n\t}\n", " 混合专家模型的推理。", " テキストとカタカナ。",
            " 🚀✨ emoji", "  \n\n  ", " Ünïcödé ŵörds", " x += y[i]; // comment",
        ]
        var random = SplitMix64(seed: 7)
        var text = ""
        text.reserveCapacity(megabytes << 20)
        while text.utf8.count < megabytes << 20 {
            text += sentences[Int(random.next() % UInt64(sentences.count))] + "."
            if random.next() % 3 == 0 { text += extras[Int(random.next() % UInt64(extras.count))] }
            if random.next() % 5 == 0 { text += "\n" }
        }
        return text
    }
}
