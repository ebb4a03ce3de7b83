import DeepSeekV3

/// Where the engine's weights come from. Every weight is named as in the Hugging Face checkpoint
/// (`model.layers.3.mlp.experts.7.up_proj.weight`) and read as F32 rows, whatever its stored
/// format: the forward pass does not know whether it runs on FP8 blocks or GGML blocks.
package protocol WeightSource: AnyObject, Sendable {
    var config: DeepSeekV3Config { get }
    /// What the source is, for reports ("FP8 checkpoint …", "GGUF Q4_K_M …").
    var label: String { get }
    /// Bytes the source occupies on disk.
    var byteCount: Int { get }
    /// `[rows, columns]` of a weight (a 1-D weight is one row).
    func shape(of name: String) throws(WeightError) -> (rows: Int, columns: Int)
    /// Decodes `rows` of a weight into `output` (row-major, `columns` floats per row).
    func read(_ name: String, rows: Range<Int>, into output: UnsafeMutablePointer<Float>) throws(WeightError)
    /// Asks the OS to start reading these weights' bytes (they are needed soon).
    func prefetch(_ names: [String])
    /// Tells the OS these weights' pages can be dropped (read once per batch).
    func release(_ names: [String])
}

/// A weight that cannot be read: names the file, the tensor and the problem.
package struct WeightError: Error, CustomStringConvertible, Sendable {
    package var file: String
    package var tensor: String
    package var message: String

    package init(file: String, tensor: String, message: String) {
        self.file = file
        self.tensor = tensor
        self.message = message
    }

    package var description: String { "\(file): tensor \(tensor): \(message)" }
}

extension WeightSource {
    /// Label and size: how reports and result fingerprints name the model.
    package var identity: String { "\(label), \(byteCount) bytes" }

    /// A 1-D weight (norm scale, bias).
    package func vector(_ name: String) throws(WeightError) -> [Float] {
        let (rows, columns) = try shape(of: name)
        var values = [Float](repeating: 0, count: rows * columns)
        try values.withUnsafeMutableBufferPointer { (buffer) throws(WeightError) in
            try read(name, rows: 0..<rows, into: buffer.baseAddress!)
        }
        return values
    }
}
