/// Rows of F32 values in memory: `rows` rows of `columns` values, `stride` floats apart.
package struct RowsView: @unchecked Sendable {
    package var pointer: UnsafePointer<Float>
    package var rows: Int
    package var columns: Int
    package var stride: Int

    package init(_ pointer: UnsafePointer<Float>, rows: Int, columns: Int, stride: Int? = nil) {
        self.pointer = pointer
        self.rows = rows
        self.columns = columns
        self.stride = stride ?? columns
    }

    package func row(_ r: Int) -> UnsafePointer<Float> { pointer + r * stride }
}

/// Which matrix of a GGUF weight an input multiplied.
package enum MatrixSlot: Sendable, Equatable {
    /// A 2-D weight.
    case whole
    /// Head `h` of `heads` of a 3-D dense weight (`attn_k_b`, `attn_v_b`): one count for all heads.
    case head(Int, of: Int)
    /// Routed expert `e` of `experts` in a stack: a count per expert.
    case expert(Int, of: Int)
}

/// Sees the input of every weight matrix the forward pass multiplies, named by the GGUF tensor it
/// multiplies (`blk.3.ffn_down_exps.weight`), in the form llama.cpp's `deepseek2` graph multiplies
/// it (absorbed MLA: `attn_k_b` takes each head's `q_nope`, `attn_v_b` each head's attention
/// output in the latent space). Calls for different heads may come from several threads at once.
package protocol ActivationObserver: AnyObject, Sendable {
    func observe(_ input: RowsView, tensor: String, slot: MatrixSlot)
    /// Whether the LM head's input is wanted too (llama-imatrix `--process-output`).
    var observesOutput: Bool { get }
}
