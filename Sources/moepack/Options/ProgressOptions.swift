import ArgumentParser
import Conversion

/// `--quiet` and `--plain-progress`, defined once for the long jobs (dequant, quantize, and the
/// evaluations through `EvaluationOptions`).
struct ProgressOptions: ParsableArguments {
    @Flag(help: "Print a line every few seconds instead of a progress bar (the default when stderr is not a terminal).")
    var plainProgress = false

    @Flag(help: "No progress output.")
    var quiet = false

    var style: ProgressReporter.Style { quiet ? .quiet : (plainProgress ? .lines : .automatic) }
}
