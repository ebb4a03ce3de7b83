import ArgumentParser
import Foundation
import Inference
import TensorFiles

struct MergeResults: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge-results",
        abstract: "Combine partial perplexity/verify results (--chunks A..B --results FILE) into one report.",
        discussion: """
            Each slice of a long evaluation can run as its own job, on any machine, e.g. a Slurm \
            array (`moepack perplexity MODEL --text T --chunks $((i*20))..$((i*20+20)) --results part$i.json`). \
            merge-results checks that all parts come from the same model, text and settings \
            (fingerprint), that their chunks do not overlap, and prints the report a single run over \
            all their chunks prints: totals are recomputed from per-chunk figures in chunk order, \
            so they are identical to the last bit.
            """)

    @Argument(help: "Result files written with --results.")
    var files: [String]

    @Option(help: "Write the merged results as JSON.")
    var output: String?

    func run() throws {
        try reportingErrors {
            let parts = try files.map { file in
                let data: Data
                do { data = try Data(contentsOf: URL(fileURLWithPath: file)) } catch {
                    throw InputError("\(file): cannot read: \(error.localizedDescription)")
                }
                return (file, try EvaluationResults.decode(data, file: file))
            }
            let merged = try EvaluationResults.merge(parts.map { (file: $0.0, results: $0.1) })
            let ranges = merged.chunkRanges.map { "\($0[0])..<\($0[1])" }.joined(separator: ", ")
            print("merged \(files.count) files: chunks \(ranges)")
            for run in merged.runs {
                for line in run.report.lines(model: run.model, base: merged.fingerprint.base) { print(line) }
            }
            if let output { try AtomicOutputFile.write([UInt8](merged.encoded()), to: output) }
        }
    }
}
