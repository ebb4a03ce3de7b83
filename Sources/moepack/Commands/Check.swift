import ArgumentParser
import Conversion
import Foundation

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a GGUF file and re-verify every tensor's stored checksum.",
        discussion: """
            Parses the header with llama.cpp's rules (offsets, sizes, types, alignment) and, for files \
            written by `moepack quantize`, re-hashes each tensor with XXH3 and compares it with the \
            checksum in the header. Exit 0 when everything matches, 1 with the first bad tensor named.

            Example: moepack check r1-q4_k_m.gguf
            """)

    @Argument(help: "GGUF file.", completion: .file(extensions: ["gguf"]))
    var file: String

    func run() throws {
        try reportingErrors {
            let report = try GGUFCheck.run(path: file)
            if let bad = report.firstMismatch {
                printError("\(file): tensor '\(bad)' does not match its checksum (corrupt data)")
                throw ExitCode(1)
            }
            if report.hasChecksums {
                print("\(file): layout valid, \(report.verified) of \(report.tensors) tensors match their XXH3 checksums")
            } else {
                print("\(file): layout valid, \(report.tensors) tensors (no moepack checksums to verify)")
            }
        }
    }
}
