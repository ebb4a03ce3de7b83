/// Text written for this project (MIT, like the rest of it). It trains the synthetic checkpoints'
/// small byte-level BPE and is the default text for demo perplexity runs. It mixes prose, numbers,
/// code and a little non-Latin text so that every tokenizer path gets exercised.
package enum SyntheticCorpus {
    package static let text = """
        A mixture-of-experts model keeps many feed-forward networks in every layer and sends each token \
        to only a few of them. The router scores all experts, keeps the best groups, and within those \
        groups picks the top eight. The chosen experts run, their outputs are weighted and summed, and a \
        shared expert that every token visits is added on top. Most of the weights of such a model sit in \
        the experts, yet each token touches only a small share of them, which is why a model with six \
        hundred and seventy one billion parameters can answer as quickly as a much smaller dense one.

        The weights ship in eight-bit floating point. Each value has one sign bit, four exponent bits and \
        three mantissa bits, so it can hold numbers from about one five-hundredth up to four hundred and \
        forty eight. To cover the range that real weights need, every block of 128 by 128 values carries \
        its own scale in single precision. Reading a weight means decoding the byte, multiplying by the \
        block's scale, and rounding the product once into the format the reader wants.

        Quantization trades bits for error. Eight bits per weight are nearly lossless; six and five bits \
        are very close; four bits with good scales keep most of the quality; three and two bits need care: \
        importance weights, smarter rounding, and more bits for the tensors that matter most, such as the \
        attention projections, the shared experts and the output head. The routed experts, which hold the \
        bulk of the parameters, are where the savings are.

        Measurements decide. Perplexity on a fixed text, computed in chunks of 512 tokens with only the \
        second half of each chunk scored, can be compared with published figures. The divergence between \
        the token distributions of the original and the converted model says more: a mean KL-divergence \
        of 0.01 and a top-token agreement of 97 percent describe a conversion that users will not notice.

        Numbers: 3.1415926535, 2.7182818284, 1.4142135623, 42, 1024, 65536, 4294967296, 2025-01-20, \
        128x128, 7168 by 2048, 61 layers, 256 experts, 8 active, 4 groups of 32, factor 40, base 10000.

        def dequantize(block, scale):
            out = []
            for byte in block:
                out.append(decode_e4m3(byte) * scale)
            return out

        for (int i = 0; i < n; i++) {
        \tsum += weight[i] * input[i];
        }

        Memory is the constraint. A machine with twenty four gigabytes cannot hold a model of seven \
        hundred gigabytes, so the converter maps each shard, reads it once from start to end, converts \
        one chunk of rows at a time, and writes each finished chunk straight to its place in the output \
        file. Peak memory stays the same whether the model has one layer or sixty one. If the process is \
        stopped, the next run checks which files are complete, verifies their checksums, and continues \
        with the rest. Nothing half written ever appears under a final name.

        混合专家模型在每一层中保存许多前馈网络。トークンごとに少数の専門家だけが計算される。\
        Модель смеси экспертов. Ελληνικά γράμματα. emoji: 🚀🧮✨. café, naïve, façade, Ångström.

        The tokenizer splits text into pieces before it merges bytes: runs of up to three digits, runs of \
        Chinese and Japanese characters, words with the punctuation mark that may lead them, spaces and \
        line breaks. Then each piece is turned into bytes, each byte into a printable character, and the \
        learned merges join neighbouring symbols, most frequent pairs first, until no merge applies.
        """
}
