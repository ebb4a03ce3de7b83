/// MLA's `kv_b_proj` `[heads·(nope+v), kvLora]` (per head: `nope` key rows, then `v` value rows,
/// each `kvLora` wide) and the two tensors llama.cpp splits it into for absorbed attention
/// (`convert_hf_to_gguf.py` `DeepseekV2Model.modify_tensors`, `src/models/deepseek2.cpp`):
///
/// - `attn_k_b` `{nope, kvLora, heads}`: rows (head h, latent c) of `nope` values, each head's key
///   rows transposed: `attn_k_b[h·kvLora + c][t] = kv_b[h·(nope+v) + t][c]`;
/// - `attn_v_b` `{kvLora, v, heads}`: rows (head h, j) as they are: `attn_v_b[h·v + j] = kv_b[h·(nope+v) + nope + j]`.
///
/// `quantize` builds the two from the checkpoint (`keyRows`, `kvbRow(ofValueRow:)`); the engine
/// rebuilds `kv_b_proj` from a GGUF (`kvbRows`). Pure copies: the round trip is exact (tested).
package struct KVBSplit: Sendable, Equatable {
    package var heads: Int
    package var nope: Int
    package var v: Int
    package var kvLora: Int

    package init(heads: Int, nope: Int, v: Int, kvLora: Int) {
        self.heads = heads
        self.nope = nope
        self.v = v
        self.kvLora = kvLora
    }

    /// The `kv_b_proj` row that `attn_v_b` row `row` is.
    package func kvbRow(ofValueRow row: Int) -> Int {
        (row / v) * (nope + v) + nope + row % v
    }

    /// `rows` of `attn_k_b` (`nope` values each, one after another in `output`): row r is column
    /// `r % kvLora` of the key rows of head `r / kvLora`. `kvbRow(r, into)` writes row `r` of
    /// `kv_b_proj` (`kvLora` values). A head's `nope` key rows are decoded once for all of its rows
    /// in the range: one row at a time would decode them `kvLora` times (for R1, 262 G FP8 values,
    /// 40% of the model's, decoded again).
    package func keyRows<E: Error>(
        _ rows: Range<Int>, into output: UnsafeMutablePointer<Float>,
        kvbRow: (Int, UnsafeMutablePointer<Float>) throws(E) -> Void
    ) throws(E) {
        let keys = UnsafeMutablePointer<Float>.allocate(capacity: nope * kvLora)  // [nope, kvLora], one head's
        defer { keys.deallocate() }
        var decodedHead = -1
        for row in rows {
            let head = row / kvLora, column = row % kvLora
            if head != decodedHead {
                for t in 0..<nope { try kvbRow(head * (nope + v) + t, keys + t * kvLora) }
                decodedHead = head
            }
            let destination = output + (row - rows.lowerBound) * nope
            for t in 0..<nope { destination[t] = keys[t * kvLora + column] }
        }
    }

    /// The inverse: `rows` of `kv_b_proj` (`kvLora` values each) from the two split tensors.
    /// Row r is head r / (nope+v): a key row when r % (nope+v) < nope, built from that head's whole
    /// `attn_k_b` slice, transposed (`keyRows(h, into)` writes its `kvLora` rows of `nope`; decoded
    /// once per head for consecutive rows); else one `attn_v_b` row as it is (`valueRow(i, into)`).
    package func kvbRows<E: Error>(
        _ rows: Range<Int>, into output: UnsafeMutablePointer<Float>,
        keyRows: (Int, UnsafeMutablePointer<Float>) throws(E) -> Void,
        valueRow: (Int, UnsafeMutablePointer<Float>) throws(E) -> Void
    ) throws(E) {
        let perHead = nope + v
        let keySlice = UnsafeMutablePointer<Float>.allocate(capacity: kvLora * nope)  // [kvLora, nope]
        defer { keySlice.deallocate() }
        var decodedHead = -1
        for r in rows {
            let h = r / perHead, i = r % perHead
            let destination = output + (r - rows.lowerBound) * kvLora  // [kvLora]
            if i < nope {
                if decodedHead != h {
                    try keyRows(h, keySlice)
                    decodedHead = h
                }
                for j in 0..<kvLora { destination[j] = keySlice[j * nope + i] }
            } else {
                try valueRow(h * v + i - nope, destination)
            }
        }
    }
}
