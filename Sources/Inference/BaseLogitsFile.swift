import CZstd
import Foundation
import TensorFiles

/// The original model's log-probabilities for the scored positions of every chunk, saved once by
/// `verify --save-base` and compared against any number of converted models later (`--base`).
/// Layout (`formats/base-logprobs.md`): magic `MPBASE01`, u64 header length, a JSON header
/// (settings, fingerprint, chunk range, vocabulary), a zstd frame of the text's token ids (u32),
/// then per chunk a u64 frame length and one zstd frame of `positions × vocab` f32 log-probs,
/// all little-endian. Log-probs are stored exactly (f32), so comparing against the file gives the
/// same figures as comparing against the live model.
public struct BaseLogitsHeader: Codable, Sendable, Equatable {
    public var format = "moepack base log-probabilities"
    public var version = 1
    public var model: String
    public var context: Int
    public var vocabulary: Int
    public var firstChunk: Int
    public var chunkCount: Int
    public var positions: Int
    public var bos: Int?
    public var tokenCount: Int
    public var tokensXXH3: String

    public init(model: String, context: Int, vocabulary: Int, firstChunk: Int, chunkCount: Int, positions: Int, bos: Int?, tokenCount: Int, tokensXXH3: String) {
        self.model = model
        self.context = context
        self.vocabulary = vocabulary
        self.firstChunk = firstChunk
        self.chunkCount = chunkCount
        self.positions = positions
        self.bos = bos
        self.tokenCount = tokenCount
        self.tokensXXH3 = tokensXXH3
    }
}

public enum BaseLogitsError: Error, CustomStringConvertible {
    case invalid(file: String, message: String)
    public var description: String {
        switch self {
        case .invalid(let file, let message): "\(file): \(message)"
        }
    }
}

enum Zstd {
    static func compress(_ bytes: UnsafeRawBufferPointer, level: Int32 = 3) -> [UInt8] {
        let bound = ZSTD_compressBound(bytes.count)
        var output = [UInt8](repeating: 0, count: bound)
        let size = output.withUnsafeMutableBytes { ZSTD_compress($0.baseAddress, bound, bytes.baseAddress, bytes.count, level) }
        precondition(ZSTD_isError(size) == 0, "zstd compression cannot fail with a ZSTD_compressBound buffer")
        output.removeLast(bound - size)
        return output
    }

    static func decompress(_ frame: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Bool {
        let size = ZSTD_decompress(output.baseAddress, output.count, frame.baseAddress, frame.count)
        return ZSTD_isError(size) == 0 && size == output.count
    }
}

public final class BaseLogitsWriter {
    let file: AtomicOutputFile
    var offset = 0
    public let header: BaseLogitsHeader

    public init(path: String, header: BaseLogitsHeader, tokens: [Int]) throws {
        file = try AtomicOutputFile(path: path)
        self.header = header
        let json = [UInt8](try JSONEncoder.sorted.encode(header))
        try append(Array("MPBASE01".utf8))
        try append(Self.littleEndian(UInt64(json.count)))
        try append(json)
        let ids = tokens.map { UInt32($0) }
        let frame = ids.withUnsafeBytes { Zstd.compress($0) }
        try append(Self.littleEndian(UInt64(frame.count)))
        try append(frame)
    }

    static func littleEndian(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }

    func append(_ bytes: [UInt8]) throws {
        try file.write(bytes, at: offset)
        offset += bytes.count
    }

    /// Appends the next chunk's `[positions, vocab]` log-probs.
    public func append(_ logProbabilities: Matrix) throws {
        let frame = UnsafeRawBufferPointer(start: logProbabilities.pointer, count: logProbabilities.count * 4)
        let compressed = Zstd.compress(frame)
        try append(Self.littleEndian(UInt64(compressed.count)))
        try append(compressed)
    }

    /// fsync and rename into place.
    public func commit() throws { try file.commit() }
}

public final class BaseLogitsReader {
    public let path: String
    public let header: BaseLogitsHeader
    public let tokens: [Int]
    let mapping: MappedFile
    var offset: Int
    var nextChunk: Int

    public init(path: String) throws {
        self.path = path
        mapping = try MappedFile(path: path)
        let bytes = mapping.bytes
        func fail(_ message: String) -> BaseLogitsError { .invalid(file: path, message: message) }
        func u64(at offset: Int) throws -> Int {
            guard offset + 8 <= bytes.count else { throw fail("truncated at byte \(offset)") }
            var value: UInt64 = 0
            for i in 0..<8 { value |= UInt64(bytes[offset + i]) << (8 * i) }
            guard value < UInt64(bytes.count) else { throw fail("length \(value) at byte \(offset) exceeds the file") }
            return Int(value)
        }
        guard bytes.count >= 16, String(decoding: bytes[0..<8], as: UTF8.self) == "MPBASE01" else {
            throw fail("not a moepack base log-probabilities file (magic MPBASE01)")
        }
        let headerLength = try u64(at: 8)
        guard 16 + headerLength <= bytes.count,
            let header = try? JSONDecoder().decode(BaseLogitsHeader.self, from: Data(bytes[16..<(16 + headerLength)]))
        else { throw fail("unreadable header") }
        self.header = header
        var position = 16 + headerLength
        let tokenFrame = try u64(at: position)
        position += 8
        guard position + tokenFrame <= bytes.count else { throw fail("token frame truncated") }
        var ids = [UInt32](repeating: 0, count: header.tokenCount)
        let ok = ids.withUnsafeMutableBytes { Zstd.decompress(UnsafeRawBufferPointer(rebasing: bytes[position..<(position + tokenFrame)]), into: $0) }
        guard ok else { throw fail("token frame is corrupt") }
        tokens = ids.map { Int($0) }
        guard TokenChunks.fingerprint(tokens) == header.tokensXXH3 else { throw fail("token ids do not match their fingerprint") }
        offset = position + tokenFrame
        nextChunk = header.firstChunk
    }

    /// The next chunk's log-probs (chunks are stored in order).
    public func next() throws -> (chunk: Int, logProbabilities: Matrix) {
        let bytes = mapping.bytes
        guard nextChunk < header.firstChunk + header.chunkCount else {
            throw BaseLogitsError.invalid(file: path, message: "no chunk \(nextChunk): the file holds chunks \(header.firstChunk)..<\(header.firstChunk + header.chunkCount)")
        }
        guard offset + 8 <= bytes.count else { throw BaseLogitsError.invalid(file: path, message: "truncated before chunk \(nextChunk)") }
        var length = 0
        for i in 0..<8 { length |= Int(bytes[offset + i]) << (8 * i) }
        guard length >= 0, offset + 8 + length <= bytes.count else {
            throw BaseLogitsError.invalid(file: path, message: "chunk \(nextChunk) is truncated")
        }
        let matrix = Matrix(rows: header.positions, columns: header.vocabulary)
        let ok = Zstd.decompress(
            UnsafeRawBufferPointer(rebasing: bytes[(offset + 8)..<(offset + 8 + length)]),
            into: UnsafeMutableRawBufferPointer(start: matrix.pointer, count: matrix.count * 4))
        guard ok else { throw BaseLogitsError.invalid(file: path, message: "chunk \(nextChunk) is corrupt (zstd)") }
        offset += 8 + length
        defer { nextChunk += 1 }
        return (nextChunk, matrix)
    }

    /// Moves to chunk `index` (frames are skipped by their lengths).
    public func seek(to index: Int) throws {
        while nextChunk < index { _ = try next() }
    }
}

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return encoder
    }
}
