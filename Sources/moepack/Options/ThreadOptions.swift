import ArgumentParser
import Quants

/// `--threads`, defined and checked once for every command that computes.
struct ThreadOptions: ParsableArguments {
    @Option(help: "Worker threads (default: the cores this process may run on).")
    var threads: Int = availableCoreCount

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1 (got \(threads))") }
    }
}
