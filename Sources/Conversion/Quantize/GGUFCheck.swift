import Foundation
import Quants
import TensorFiles

/// `moepack check`: validates a GGUF file's layout (the reader's rules) and re-hashes every tensor
/// against the XXH3 checksums `moepack quantize` stored in its header.
public enum GGUFCheck {
    public struct Report: Sendable {
        public var tensors: Int
        public var bytes: Int
        public var verified: Int
        /// The first tensor whose bytes do not match its checksum.
        public var firstMismatch: String?
        public var hasChecksums: Bool
    }

    public static func run(path: String) throws -> Report {
        let file = try GGUFFile(path: path)
        var report = Report(tensors: file.tensors.count, bytes: file.mapping.size, verified: 0, firstMismatch: nil, hasChecksums: false)
        guard case .array(.uint64(let sums)) = file.value(GGUFConverter.checksumKey), sums.count == file.tensors.count else {
            return report
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
