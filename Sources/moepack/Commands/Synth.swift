import ArgumentParser
import Conversion
import DeepSeekV3
import Foundation
import Quants
import SyntheticModels
import TensorFiles

struct Synth: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a deterministic synthetic DeepSeek-V3-architecture FP8 checkpoint.",
        discussion: """
            Real R1 weights are 640 GB; synthetic checkpoints have the same file layout (names, \
            dtypes, FP8 128x128 block scales, MTP layer, shards, index, tokenizer) at sizes that fit \
            a test run. Presets: tiny (~9 MB, unit tests), small (~120 MB, demos), medium (~1.3 GB, \
            benchmarks). The same preset and seed always give byte-identical files.

            Example: moepack synth --preset small --out /tmp/r1-small
            """)

    @Option(help: "Size preset: \(SyntheticPreset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var preset: SyntheticPreset = .tiny

    @Option(help: "Output directory (created if missing).")
    var out: String

    @Option(help: "Random seed.")
    var seed: UInt64 = 0

    @OptionGroup var parallelism: ThreadOptions
    var threads: Int {
        get { parallelism.threads }
        set { parallelism.threads = newValue }
    }

    @Flag(help: "Write even if the directory already holds files.")
    var force = false

    func validate() throws {
        if !force, let contents = try? FileManager.default.contentsOfDirectory(atPath: out), !contents.isEmpty {
            throw ValidationError("\(out) is not empty; choose another directory or pass --force")
        }
    }

    func run() throws {
        try reportingErrors {
            let bytes = try SyntheticCheckpoint(preset: preset, seed: seed, threads: threads).write(to: out)
            print("wrote \(preset.rawValue) checkpoint to \(out): \(formatBytes(bytes)) of tensors")
        }
    }
}

extension SyntheticPreset: ExpressibleByArgument {}
