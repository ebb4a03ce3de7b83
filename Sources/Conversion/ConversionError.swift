import DeepSeekV3
import Quants
import TensorFiles

/// Why a conversion stopped. One line each, naming the file and the tensor.
package enum ConversionError: Error, CustomStringConvertible, Sendable {
    case layout(checkpoint: String, problem: LayoutCheck.Problem, more: Int)
    case badValue(file: String, tensor: String, problem: DequantProblem)
    case badScale(file: String, tensor: String, detail: String)
    case unsupportedTensor(file: String, tensor: String, detail: String)
    case outputIsInput(path: String)
    case outputNotEmpty(path: String)

    package var description: String {
        switch self {
        case .layout(let checkpoint, let problem, let more):
            "\(checkpoint): \(problem)" + (more > 0 ? " (and \(more) more problems; run `moepack inspect` for all)" : "")
        case .badValue(let file, let tensor, let problem):
            "\(file): tensor '\(tensor)': \(problem)"
        case .badScale(let file, let tensor, let detail):
            "\(file): tensor '\(tensor)': \(detail)"
        case .unsupportedTensor(let file, let tensor, let detail):
            "\(file): tensor '\(tensor)': \(detail)"
        case .outputIsInput(let path):
            "\(path): output directory is the input directory; choose another"
        case .outputNotEmpty(let path):
            "\(path): output directory holds a different checkpoint; use an empty directory or --force"
        }
    }
}

extension ConversionError {
    /// Throws the first way `checkpoint` differs from what `config` implies (with a count of the rest).
    static func requireValidLayout(config: DeepSeekV3Config, checkpoint: Checkpoint, directory: String) throws {
        let check = LayoutCheck(layout: CheckpointLayout(config: config), checkpoint: checkpoint)
        if let first = check.problems.first {
            throw ConversionError.layout(checkpoint: directory, problem: first, more: check.problems.count - 1)
        }
    }
}

extension ConversionError {
    /// A checkpoint row reader's error as a conversion error (the same line: file, tensor, problem).
    init(_ error: CheckpointReadError) {
        switch error.kind {
        case .value(let problem): self = .badValue(file: error.file, tensor: error.tensor, problem: problem)
        case .scale(let detail): self = .badScale(file: error.file, tensor: error.tensor, detail: detail)
        case .unsupported(let detail): self = .unsupportedTensor(file: error.file, tensor: error.tensor, detail: detail)
        }
    }
}
