import Foundation
import TensorFiles

/// What a `perplexity` or `verify` run measured, per chunk, with a fingerprint of everything that
/// determines the numbers. Runs over disjoint chunk ranges of the same fingerprint merge into
/// exactly the result of one run over their union (`moepack merge-results`), because every total
/// is recomputed from per-chunk scores in chunk order.
package struct EvaluationResults: Codable, Sendable, Equatable {
    package struct Fingerprint: Codable, Sendable, Equatable {
        /// XXH3 of the token ids (u32 little-endian) of the whole text.
        package var tokensXXH3: String
        package var tokenCount: Int
        package var context: Int
        package var attention: String
        /// The base model (verify), or nil (perplexity).
        package var base: String?
        /// The models scored, each as "label, N bytes".
        package var models: [String]
        /// The scored models' `Precision` when not f32 (absent for f32, so f32 results keep the
        /// fingerprint they always had).
        package var precision: String?
    }

    package struct Run: Codable, Sendable, Equatable {
        package var model: String
        package var scores: [ChunkScore]
        package var report: EvaluationReport

        package init(model: String, scores: [ChunkScore], report: EvaluationReport) {
            self.model = model
            self.scores = scores
            self.report = report
        }
    }

    package static let formatName = "moepack evaluation results"
    package static let currentVersion = 2
    package var format = Self.formatName
    package var version = Self.currentVersion
    package var fingerprint: Fingerprint
    /// Chunks covered, as sorted disjoint ranges `[start, end)`.
    package var chunkRanges: [[Int]]
    package var runs: [Run]
    /// XXH3-64 (hex) of the file's canonical form without this key (`encoded()`); set when written,
    /// checked when read.
    package var contentsXXH3: String?

    package init(fingerprint: Fingerprint, range: Range<Int>, scores: [(model: String, scores: [ChunkScore])]) {
        self.fingerprint = fingerprint
        chunkRanges = [[range.lowerBound, range.upperBound]]
        runs = scores.map { Run(model: $0.model, scores: $0.scores, report: EvaluationReport(scores: $0.scores)) }
    }

    package static func fingerprint(
        tokens: [Int], context: Int, attention: String, base: String?, models: [String], precision: Precision
    ) -> Fingerprint {
        Fingerprint(
            tokensXXH3: TokenFingerprint.xxh3(tokens), tokenCount: tokens.count, context: context, attention: attention, base: base, models: models,
            precision: precision.fingerprintTag)
    }

    package struct MergeError: Error, CustomStringConvertible {
        package var description: String
    }

    /// Combines partial results; refuses different fingerprints, malformed parts and overlapping chunks.
    package static func merge(_ parts: [(file: String, results: EvaluationResults)]) throws -> EvaluationResults {
        guard let first = parts.first else { throw MergeError(description: "no result files given") }
        for part in parts {
            if part.results.fingerprint != first.results.fingerprint {
                throw MergeError(description: "\(part.file): fingerprint differs from \(first.file) (different text, context, models or settings); only slices of the same run can be merged")
            }
            if part.results.runs.count != first.results.runs.count {
                throw MergeError(description: "\(part.file): runs has \(part.results.runs.count) entries, \(first.file) has \(first.results.runs.count)")
            }
            if let bad = part.results.chunkRanges.first(where: { $0.count != 2 || $0[0] >= $0[1] }) {
                throw MergeError(description: "\(part.file): chunkRanges entry \(bad) is not a pair [start, end) with start < end")
            }
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
        merged.contentsXXH3 = nil
        merged.chunkRanges = Self.coalesce(ranges.map { [$0.0, $0.1] })
        merged.runs = first.results.runs.indices.map { i in
            let scores = parts.flatMap { $0.results.runs[i].scores }.sorted { $0.chunk < $1.chunk }
            return Run(model: first.results.runs[i].model, scores: scores, report: EvaluationReport(scores: scores))
        }
        return merged
    }

    /// Checks a decoded file's structure against its own fingerprint, so that merging and
    /// reporting can trust it: chunk ranges inside the text's chunks, sorted and disjoint; one run
    /// per fingerprinted model; each run holding exactly one score per covered chunk, in order,
    /// with a token count no larger than a chunk's scored positions and per-token arrays of that
    /// length.
    func validate(file: String) throws {
        func fail(_ message: String) -> MergeError { MergeError(description: "\(file): \(message)") }
        let f = fingerprint
        guard f.context >= 2, f.tokenCount >= 0 else {
            throw fail("fingerprint context \(f.context) or tokenCount \(f.tokenCount) out of range (context ≥ 2, tokenCount ≥ 0)")
        }
        let available = f.tokenCount / f.context
        let positions = f.context - 1 - f.context / 2
        var covered = 0
        var previousEnd = 0
        for r in chunkRanges {
            guard r.count == 2, r[0] >= previousEnd, r[0] < r[1], r[1] <= available else {
                throw fail("chunkRanges entry \(r) is not a sorted, disjoint [start, end) inside the text's \(available) chunks")
            }
            covered += r[1] - r[0]
            previousEnd = r[1]
        }
        guard runs.count == f.models.count else { throw fail("runs has \(runs.count) entries but the fingerprint names \(f.models.count) models") }
        for (run, model) in zip(runs, f.models) {
            guard run.model == model else { throw fail("run '\(run.model)' is not the fingerprint's model '\(model)'") }
            guard run.scores.count == covered else { throw fail("run '\(run.model)' has \(run.scores.count) scores for \(covered) chunks") }
            var next = 0
            for (rangeIndex, r) in chunkRanges.enumerated() {
                for chunk in r[0]..<r[1] {
                    let s = run.scores[next]
                    guard s.chunk == chunk else { throw fail("run '\(run.model)': score \(next) is for chunk \(s.chunk), expected chunk \(chunk) (range \(rangeIndex))") }
                    guard (0...positions).contains(s.count) else { throw fail("run '\(run.model)', chunk \(chunk): count \(s.count) outside 0...\(positions)") }
                    for (name, values) in [("kld", s.kld), ("deltaP", s.deltaP)] {
                        if let values, values.count != s.count { throw fail("run '\(run.model)', chunk \(chunk): \(name) has \(values.count) values for count \(s.count)") }
                    }
                    if let same = s.sameTop, !(0...s.count).contains(same) { throw fail("run '\(run.model)', chunk \(chunk): sameTop \(same) outside 0...\(s.count)") }
                    next += 1
                }
            }
        }
    }

    static func coalesce(_ ranges: [[Int]]) -> [[Int]] {
        var result: [[Int]] = []
        for r in ranges {
            if let last = result.last, last[1] == r[0] { result[result.count - 1][1] = r[1] } else { result.append(r) }
        }
        return result
    }

    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }

    static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return decoder
    }

    /// XXH3-64 of the canonical encoding without `contentsXXH3`.
    func digest() throws -> String {
        var plain = self
        plain.contentsXXH3 = nil
        return XXH3Hasher.hex(try Self.encoder.encode(plain).withUnsafeBytes { XXH3Hasher.hash($0) })
    }

    /// The file's bytes, with `contentsXXH3`. The digest is taken of the values as a reader will
    /// decode them (encode, decode, encode), so it does not depend on how numbers print.
    package func encoded() throws -> Data {
        var plain = self
        plain.contentsXXH3 = nil
        let canonical = try Self.decoder.decode(EvaluationResults.self, from: Self.encoder.encode(plain))
        plain.contentsXXH3 = try canonical.digest()
        return try Self.encoder.encode(plain)
    }

    /// Reads a results file: its format and version, its checksum, then its structure.
    package static func decode(_ data: Data, file: String) throws -> EvaluationResults {
        let results: EvaluationResults
        do { results = try decoder.decode(EvaluationResults.self, from: data) } catch {
            throw MergeError(description: "\(file): not a moepack results file (\(error))")
        }
        guard results.format == formatName else { throw MergeError(description: "\(file): format '\(results.format)' is not '\(formatName)'") }
        guard results.version == currentVersion else {
            throw MergeError(description: "\(file): results version \(results.version) is not supported (this moepack reads version \(currentVersion), with a checksum); run the slice again")
        }
        guard let stored = results.contentsXXH3 else { throw MergeError(description: "\(file): no contentsXXH3 checksum") }
        guard try results.digest() == stored else { throw MergeError(description: "\(file): contents do not match contentsXXH3 (corrupt or edited file)") }
        try results.validate(file: file)
        // The totals are derived data: recompute them from the checked scores rather than trust
        // the stored copy (which is there for people and other tools reading the file).
        var checked = results
        for i in checked.runs.indices { checked.runs[i].report = EvaluationReport(scores: checked.runs[i].scores) }
        return checked
    }
}
