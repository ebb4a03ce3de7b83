import Foundation
import Quants
import TensorFiles

/// `moepack check`: validates a GGUF file's layout (the reader's rules) and re-hashes every tensor
/// against the XXH3 checksums `moepack quantize` stored in its header.
package enum GGUFCheck {
    package struct Report: Sendable {
        package var tensors: Int
        package var bytes: Int
        package var verified: Int
        /// The first tensor whose bytes do not match its checksum.
        package var firstMismatch: String?
        package var hasChecksums: Bool
    }

    /// A file that claims moepack's checksums (or provenance) but whose checksums cannot cover it.
    package struct IntegrityError: Error, CustomStringConvertible, Sendable {
        package var file: String
        package var message: String
        package var description: String { "\(file): \(message)" }
    }

    package static func run(path: String) throws -> Report {
        let file = try GGUFFile(path: path)
        var report = Report(tensors: file.tensors.count, bytes: file.mapping.size, verified: 0, firstMismatch: nil, hasChecksums: false)
        let key = GGUFConverter.checksumKey
        guard let stored = file.value(key) else {
            // A foreign file has nothing to verify; one that says moepack wrote it must have them.
            if let provenance = file.metadata.first(where: { $0.key.hasPrefix("moepack.") }) {
                throw IntegrityError(file: path, message: "has moepack metadata (\(provenance.key)) but no \(key) checksums; the header was edited or damaged")
            }
            return report
        }
        guard case .array(.uint64(let sums)) = stored else {
            throw IntegrityError(file: path, message: "\(key) is not an array of u64 checksums")
        }
        guard sums.count == file.tensors.count else {
            throw IntegrityError(file: path, message: "\(key) has \(sums.count) checksums for \(file.tensors.count) tensors (tensor_count edited or header damaged)")
        }
        report.hasChecksums = true
        for (tensor, expected) in zip(file.tensors, sums) {
            let start = file.dataOffset + tensor.offset
            if file.mapping.xxh3(of: start..<(start + tensor.byteCount)) != expected {
                report.firstMismatch = tensor.name
                return report
            }
            report.verified += 1
        }
        return report
    }
}
