import ArgumentParser
import Foundation

@main
struct Moepack: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "moepack",
        abstract: "Convert, quantize and verify DeepSeek-V3/R1 FP8 checkpoints.",
        discussion: """
            Start with `moepack demo`: it builds a small synthetic DeepSeek-V3-architecture FP8 \
            checkpoint, inspects it and dequantizes it, so you see every step on your machine.

            Checkpoints are Hugging Face directories (config.json, model.safetensors.index.json,
            *.safetensors). Output files appear only when complete; interrupted jobs resume.
            """,
        version: version,
        subcommands: [
            Demo.self, Synth.self, Inspect.self, Dequant.self, Quantize.self, Check.self, Tokenize.self, Perplexity.self, Verify.self,
            MergeResults.self, Imatrix.self, MergeImatrix.self, Bench.self,
        ])

    static func main() {
        // Writing past a file-size limit (`ulimit -f`) should fail the write with EFBIG and give
        // the usual "disk full or file size limit" error, not kill the process mid-file.
        signal(SIGXFSZ, SIG_IGN)
        main(nil)
    }
}

/// Runs `body`, turning any domain error into one line on stderr and exit code 1.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ExitCode {
        throw error
    } catch let error as ValidationError {
        throw error
    } catch {
        FileHandle.standardError.write(Data("moepack: error: \(error)\n".utf8))
        throw ExitCode(1)
    }
}
