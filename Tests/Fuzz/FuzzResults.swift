import Foundation
import Inference

/// A result slice (`--results`, `merge-results`), two ways: the input as a file (checksum, then
/// structure), and the input re-signed (decoded as plain JSON and encoded with a fresh checksum),
/// so that mutations reach the structural checks behind the checksum. Each decoded slice is merged
/// with itself (refused as overlapping unless it covers no chunks) and its report lines printed.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzResults(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    let input = Data(bytes: data, count: count)
    var candidates = [input]
    if let plain = try? JSONDecoder().decode(EvaluationResults.self, from: input), let signed = try? plain.encoded() {
        candidates.append(signed)
    }
    for candidate in candidates {
        guard let results = try? EvaluationResults.decode(candidate, file: "part.json") else { continue }
        _ = try? EvaluationResults.merge([("a.json", results), ("b.json", results)])
        for run in results.runs { _ = run.report.lines(model: run.model, base: results.fingerprint.base) }
    }
    return 0
}
