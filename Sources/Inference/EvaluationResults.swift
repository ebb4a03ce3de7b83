import Foundation
import TensorFiles

/// What a `perplexity` or `verify` run measured, per chunk, with a fingerprint of everything that
/// determines the numbers. Runs over disjoint chunk ranges of the same fingerprint merge into
/// exactly the result of one run over their union (`moepack merge-results`), because every total
/// is recomputed from per-chunk scores in chunk order.
public struct EvaluationResults: Codable, Sendable, Equatable {
    public struct Fingerprint: Codable, Sendable, Equatable {
        /// XXH3 of the token ids (u32 little-endian) of the whole text.
        public var tokensXXH3: String
        public var tokenCount: Int
        public var context: Int
        public var attention: String
        /// The base model (verify), or nil (perplexity).
        public var base: String?
        /// The models scored, each as "label, N bytes".
        public var models: [String]
    }

    public struct Run: Codable, Sendable, Equatable {
        public var model: String
        public var scores: [ChunkScore]
        public var report: EvaluationReport
    }

    public var format = "moepack evaluation results"
    public var version = 1
    public var fingerprint: Fingerprint
    /// Chunks covered, as sorted disjoint ranges `[start, end)`.
    public var chunkRanges: [[Int]]
    public var runs: [Run]

    public init(fingerprint: Fingerprint, range: Range<Int>, scores: [(model: String, scores: [ChunkScore])]) {
        self.fingerprint = fingerprint
        chunkRanges = [[range.lowerBound, range.upperBound]]
        runs = scores.map { Run(model: $0.model, scores: $0.scores, report: EvaluationReport(scores: $0.scores)) }
    }

    public static func fingerprint(tokens: [Int], context: Int, attention: String, base: String?, models: [String]) -> Fingerprint {
        Fingerprint(tokensXXH3: TokenChunks.fingerprint(tokens), tokenCount: tokens.count, context: context, attention: attention, base: base, models: models)
    }

    public struct MergeError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Combines partial results; refuses different fingerprints and overlapping chunks.
    public static func merge(_ parts: [(file: String, results: EvaluationResults)]) throws -> EvaluationResults {
        guard let first = parts.first else { throw MergeError(description: "no result files given") }
        for part in parts.dropFirst() where part.results.fingerprint != first.results.fingerprint {
            throw MergeError(description: "\(part.file): fingerprint differs from \(first.file) (different text, context, models or settings); only slices of the same run can be merged")
        }
        var ranges: [(Int, Int, String)] = []
        for part in parts {
            for r in part.results.chunkRanges { ranges.append((r[0], r[1], part.file)) }
        }
        ranges.sort { $0.0 < $1.0 }
        for (a, b) in zip(ranges, ranges.dropFirst()) where b.0 < a.1 {
            throw MergeError(description: "\(b.2): chunks \(b.0)..<\(b.1) overlap chunks \(a.0)..<\(a.1) of \(a.2)")
        }
        var merged = first.results
        merged.chunkRanges = Self.coalesce(ranges.map { [$0.0, $0.1] })
        merged.runs = first.results.runs.indices.map { i in
            let scores = parts.flatMap { $0.results.runs[i].scores }.sorted { $0.chunk < $1.chunk }
            return Run(model: first.results.runs[i].model, scores: scores, report: EvaluationReport(scores: scores))
        }
        return merged
    }

    static func coalesce(_ ranges: [[Int]]) -> [[Int]] {
        var result: [[Int]] = []
        for r in ranges {
            if let last = result.last, last[1] == r[0] { result[result.count - 1][1] = r[1] } else { result.append(r) }
        }
        return result
    }

    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(self)
    }

    public static func decode(_ data: Data, file: String) throws -> EvaluationResults {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do { return try decoder.decode(EvaluationResults.self, from: data) } catch {
            throw MergeError(description: "\(file): not a moepack results file (\(error))")
        }
    }
}
