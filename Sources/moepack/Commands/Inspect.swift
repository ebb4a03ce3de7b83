import ArgumentParser
import Conversion
import DeepSeekV3
import Foundation

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Summarize a checkpoint: architecture, parameters, dtypes, shards, layout check.",
        discussion: """
            Reads only headers (no tensor data), so it takes a second even for the 163-shard R1. \
            The layout check compares every tensor's name, shape and dtype with what config.json \
            implies and lists what is missing, misshapen or unexpected.

            Example: moepack inspect /models/DeepSeek-R1 --tensors
            """)

    @Argument(help: "Checkpoint directory (with config.json).", completion: .directory)
    var path: String

    @Flag(help: "List every tensor (name, dtype, shape, bytes, shard).")
    var tensors = false

    @Flag(help: "Machine-readable JSON output.")
    var json = false

    func run() throws {
        try reportingErrors {
            let report = try CheckpointReport(directory: path)
            let text = json ? try report.json(listTensors: tensors) : report.text(listTensors: tensors)
            guard report.check.isValid else {
                // A checked layout problem: the report (with the problems) goes to stderr, unless
                // JSON was asked for (then stdout, for the program reading it), then one error line.
                if json { print(text, terminator: "") } else { FileHandle.standardError.write(Data(text.utf8)) }
                printError("\(path): \(report.check.problems.count) layout problem(s): the tensors do not match config.json")
                throw ExitCode(2)
            }
            print(text, terminator: "")
        }
    }
}
