import ArgumentParser
import Conversion
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

/// A problem with an input file or with what the inputs say (not with the command line): one
/// `moepack: error:` line and exit status 1, like every domain error.
struct InputError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Prints the one-line error every command uses: `moepack: error: …` on stderr (after erasing a
/// progress bar left on the line).
func printError(_ message: String) {
    ProgressReporter.eraseOpenBar()
    FileHandle.standardError.write(Data("moepack: error: \(message)\n".utf8))
}

/// Runs `body`, turning any domain error into one line on stderr and exit code 1. The convention
/// (README "Errors and exit codes"): 1 for bad input, 2 for a checked layout problem (`inspect`),
/// 64 only for command-line usage (`ValidationError`, printed by ArgumentParser with the usage).
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ExitCode {
        throw error
    } catch let error as ValidationError {
        ProgressReporter.eraseOpenBar()
        throw error
    } catch {
        printError("\(error)")
        throw ExitCode(1)
    }
}
