import ArgumentParser
import DeepSeekV3
import Foundation

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tokenize standard input with a checkpoint's tokenizer.json.",
        discussion: """
            Reads text (any bytes) from standard input and prints one token per line: id, then the \
            piece it stands for. BOS/EOS are added as the tokenizer_config.json beside the \
            tokenizer says (DeepSeek-R1: BOS only); --no-special leaves them out. Special tokens \
            written in the text (<｜User｜>, <think>, ...) are recognized as single tokens. \
            Ids equal Hugging Face `tokenizers` on DeepSeek-V3's tokenizer.

            Examples:
              echo 'Hello world' | moepack tokenize --tokenizer /models/DeepSeek-R1
              moepack tokenize --tokenizer tokenizer.json --count < wiki.test.raw
            """)

    @Option(help: "tokenizer.json, or a checkpoint directory holding it.", completion: .file())
    var tokenizer: String

    @Flag(help: "Print only the ids, space-separated, on one line.")
    var ids = false

    @Flag(help: "Print only the number of tokens.")
    var count = false

    @Flag(help: "Do not add BOS/EOS.")
    var noSpecial = false

    func validate() throws {
        if ids && count { throw ValidationError("--ids and --count are mutually exclusive") }
    }

    func run() throws {
        try reportingErrors {
            let model = try BPETokenizer(path: tokenizer)
            let input = [UInt8](FileHandle.standardInput.readDataToEndOfFile())
            var tokens = model.encode(bytes: input)
            if !noSpecial {
                if model.addBOS, let bos = model.bosTokenId { tokens.insert(bos, at: 0) }
                if model.addEOS, let eos = model.eosTokenId { tokens.append(eos) }
            }
            if count {
                print(tokens.count)
            } else if ids {
                print(tokens.map(String.init).joined(separator: " "))
            } else {
                for id in tokens { print("\(id)\t\(model.decode([id]).debugDescription)") }
            }
        }
    }
}
