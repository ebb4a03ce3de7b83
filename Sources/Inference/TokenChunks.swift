import DeepSeekV3
import TensorFiles

/// How `llama-perplexity` cuts a text into scored chunks (`tools/perplexity/perplexity.cpp`,
/// `perplexity()`): the text is tokenized once (with BOS when the tokenizer adds one), cut into
/// `tokens.count / ctx` chunks of `ctx` tokens, the first token of every chunk is replaced by BOS,
/// and only the second half is scored: the logits at positions `ctx/2 ..< ctx-1` predict tokens
/// `ctx/2+1 ..< ctx`. Figures are therefore comparable with published `llama-perplexity` ones.
package struct TokenChunks: Sendable, Equatable {
    package let tokens: [Int]
    package let context: Int
    package let bos: Int?
    /// Chunks in the text (before any range is applied).
    package var available: Int { tokens.count / context }
    /// First scored logit position of each chunk.
    package var first: Int { context / 2 }
    /// Logit positions scored in each chunk.
    package var positions: Range<Int> { first..<(context - 1) }

    package init(tokens: [Int], context: Int, bos: Int?) {
        self.tokens = tokens
        self.context = context
        self.bos = bos
    }

    /// The tokens of chunk `index` as evaluated (BOS first when the model has one).
    package func chunk(_ index: Int) -> [Int] {
        var chunk = Array(tokens[(index * context)..<((index + 1) * context)])
        if let bos { chunk[0] = bos }
        return chunk
    }

    /// The tokens the scored positions of chunk `index` must predict.
    package func targets(_ index: Int) -> [Int] {
        Array(tokens[(index * context + first + 1)..<((index + 1) * context)])
    }
}

extension TokenChunks {
    /// llama-perplexity's token stream for a text: its ids, with BOS first when the tokenizer adds
    /// one (`tokenizer_config.json`'s `add_bos_token`), and BOS written over each chunk's start.
    package init(text: [UInt8], tokenizer: BPETokenizer, context: Int) {
        let bos = tokenizer.addBOS ? tokenizer.bosTokenId : nil
        self.init(tokens: (bos.map { [$0] } ?? []) + tokenizer.encode(bytes: text), context: context, bos: bos)
    }
}
