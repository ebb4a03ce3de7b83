import DeepSeekV3
import Testing

/// `attn_k_b`/`attn_v_b` from `kv_b_proj` (what `quantize` writes) and back (what the engine reads).
@Suite struct KVBSplitTests {
    @Test(arguments: [KVBSplit(heads: 3, nope: 4, v: 5, kvLora: 6), KVBSplit(heads: 2, nope: 128, v: 128, kvLora: 512)])
    func splittingAndRebuildingKVBIsExact(split: KVBSplit) throws {
        let rows = split.heads * (split.nope + split.v)
        // [heads·(nope+v), kvLora], every value distinct.
        let kvb = (0..<(rows * split.kvLora)).map { Float($0) * 0.5 - 7 }
        func kvbRow(_ r: Int, _ into: UnsafeMutablePointer<Float>) {
            for c in 0..<split.kvLora { into[c] = kvb[r * split.kvLora + c] }
        }
        // attn_k_b: heads·kvLora rows of nope; attn_v_b: heads·v rows of kvLora.
        var key = [Float](repeating: .nan, count: split.heads * split.kvLora * split.nope)
        key.withUnsafeMutableBufferPointer { buffer in split.keyRows(0..<(split.heads * split.kvLora), into: buffer.baseAddress!, kvbRow: kvbRow) }
        // Any range (here one starting inside a head and ending inside another, and single rows)
        // gives the same rows as the whole.
        for range in [(split.kvLora / 2)..<(split.kvLora + 3), 5..<6, (split.heads * split.kvLora - 1)..<(split.heads * split.kvLora)] {
            var part = [Float](repeating: .nan, count: range.count * split.nope)
            part.withUnsafeMutableBufferPointer { buffer in split.keyRows(range, into: buffer.baseAddress!, kvbRow: kvbRow) }
            #expect(part == Array(key[(range.lowerBound * split.nope)..<(range.upperBound * split.nope)]), "rows \(range)")
        }
        var value = [Float](repeating: .nan, count: split.heads * split.v * split.kvLora)
        value.withUnsafeMutableBufferPointer { buffer in
            for row in 0..<(split.heads * split.v) { kvbRow(split.kvbRow(ofValueRow: row), buffer.baseAddress! + row * split.kvLora) }
        }
        // llama.cpp's layout: attn_k_b[h·kvLora + c][t] = kv_b[h·(nope+v) + t][c].
        #expect(key[(1 * split.kvLora + 2) * split.nope + 3] == kvb[(1 * (split.nope + split.v) + 3) * split.kvLora + 2])
        #expect(value[(1 * split.v + 4) * split.kvLora + 5] == kvb[(1 * (split.nope + split.v) + split.nope + 4) * split.kvLora + 5])

        // Back, whole and from a range starting inside a head's key rows.
        for range in [0..<rows, (split.nope / 2)..<(rows - 1)] {
            var rebuilt = [Float](repeating: .nan, count: range.count * split.kvLora)
            rebuilt.withUnsafeMutableBufferPointer { buffer in
                split.kvbRows(
                    range, into: buffer.baseAddress!,
                    keyRows: { h, slice in
                        for i in 0..<(split.kvLora * split.nope) { slice[i] = key[h * split.kvLora * split.nope + i] }
                    },
                    valueRow: { i, row in
                        for c in 0..<split.kvLora { row[c] = value[i * split.kvLora + c] }
                    })
            }
            #expect(rebuilt == Array(kvb[(range.lowerBound * split.kvLora)..<(range.upperBound * split.kvLora)]))
        }
    }
}
