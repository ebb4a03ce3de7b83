import Foundation
import TensorFiles

/// A base log-probabilities file (`verify --base`), two ways: the input as a whole file (open, then
/// read every stored chunk), and the input as the JSON header of a file whose frames and checksums
/// are written correctly, so that mutations reach the header checks behind the checksums.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBaseFile(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: count)
    readAll(FuzzInput.file(bytes, name: "x.base"))
    if let header = try? JSONDecoder().decode(BaseLogitsHeader.self, from: Data(bytes)) {
        let path = FuzzInput.directory + "/signed.base"
        let tokens = (0..<64).map { ($0 * 7) % 16 }
        if let writer = try? BaseLogitsWriter(path: path, header: header, tokens: tokens) {
            let chunk = (0..<(7 * 16)).map { -Float($0 % 5) - 0.5 }
            for _ in 0..<2 { chunk.withUnsafeBufferPointer { try? writer.append($0) } }
            if (try? writer.commit()) != nil { readAll(path) }
        }
    }
    return 0
}

func readAll(_ path: String) {
    guard let reader = try? BaseLogitsReader(path: path) else { return }
    for _ in 0..<reader.header.chunkCount {
        guard (try? reader.next()) != nil else { break }
    }
}
