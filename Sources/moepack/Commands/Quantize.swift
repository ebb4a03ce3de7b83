import ArgumentParser
import Conversion
import DeepSeekV3
import Foundation
import Quants
import TensorFiles

struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Quantize a DeepSeek-V3/R1 checkpoint into one llama.cpp GGUF file, in one pass.",
        discussion: """
            Reads the FP8 shards directly (no BF16 copy), dequantizes row chunks to F32, quantizes \
            them in parallel and writes llama.cpp's `deepseek2` layout: MLA split into attn_k_b / \
            attn_v_b, experts stacked into ffn_*_exps, router and norms F32, the tokenizer embedded, \
            an XXH3 checksum per tensor. The MTP layer is not exported unless --keep-mtp (llama.cpp's \
            converter drops it too; llama.cpp can load it as a nextn block). The file appears only when complete. If the run is interrupted (killed, disk \
            full), run the same command again: finished tensors are verified and kept, and the \
            result is byte-identical to an uninterrupted run.

            Mixes: \(QuantRecipe.Mix.allCases.map(\.rawValue).joined(separator: ", ")) (llama.cpp's \
            rules for deepseek2; MOE_Q4 keeps everything but the routed experts at Q8_0).
            --type REGEX=TYPE rules come first (first match wins), e.g. --type 'exps=IQ4_XS'. \
            Rows that are not whole blocks of the chosen type fall back as llama-quantize does \
            (attn_k_b, 128 wide: Q4_K -> Q5_0), and the plan says so.

            Importance matrix: --imatrix FILE (from `moepack imatrix` or llama-imatrix, GGUF or legacy \
            .dat) weights every tensor's rounding error by its inputs' statistics, each expert by its \
            own; the IQ1/IQ2/IQ3_XXS types are refused without one, as llama.cpp refuses them. \
            Dynamic low-bit R1 recipes ship in formats/recipes/ (1.58 to 2.51 bits, 133 to 214 GiB).

            --target-size SIZE (or --target-bpw B) chooses every tensor's type by measurement \
            (formats/allocation.md): the importance-weighted error of each tensor at each candidate \
            type on sampled rows, times the tensor's sensitivity (the KLD against the original when it \
            alone is degraded to --probe-type, measured with the engine on --probe-chunks chunks of \
            --calibration), then an exact knapsack over the byte budget. --type rules and recipe files \
            are fixed choices. The allocation is written beside the output as <output>.recipe (one \
            ^name$=TYPE rule per tensor; --recipe-file reproduces the file), then the file is written \
            (not with --dry-run). The measurement is kept in <output>.costs (or --costs FILE) and \
            reused by fits at other sizes; a killed measurement resumes from its hidden resume file \
            beside it (.<name>.moepack-partial) without repeating finished engine passes. Progress \
            shows an ETA per phase and the predicted time of the same measurement on DeepSeek-R1. \
            --synthetic-costs plans without weights (sizes and layout only, e.g. on R1's config.json).

            Examples:
              moepack quantize /models/DeepSeek-R1 r1-q4_k_m.gguf --recipe Q4_K_M
              moepack quantize DIR fit.gguf --target-size 50M --imatrix im.gguf --calibration calib.txt
              moepack quantize R1-CONFIG-DIR r1-fit.gguf --target-size 180G --imatrix r1.imatrix.gguf --synthetic-costs --dry-run
              moepack quantize /models/DeepSeek-R1 out.gguf --recipe Q4_K_M --dry-run
              moepack quantize /models/DeepSeek-R1 r1-iq2_xxs.gguf --recipe IQ2_XXS --imatrix r1.imatrix.gguf
              moepack quantize /models/DeepSeek-R1 r1-1.58bit.gguf --recipe-file formats/recipes/r1-dynamic-1.58bit.txt --imatrix r1.imatrix.gguf
            """)

    @Argument(help: "Checkpoint directory (config.json; for --dry-run, config.json alone is enough).", completion: .directory)
    var input: String

    @Argument(help: "Output GGUF file.", completion: .file(extensions: ["gguf"]))
    var output: String

    @Option(help: "Built-in mix.", transform: { text in
        guard let mix = QuantRecipe.Mix(argument: text) else { throw ValidationError("unknown recipe \(text)") }
        return mix
    })
    var recipe: QuantRecipe.Mix = .q4_K_M

    @Option(name: .customLong("type"), help: "REGEX=TYPE rule, repeatable; first match wins.")
    var rules: [String] = []

    @Option(help: "A recipe file: one REGEX=TYPE rule per line, # comments (formats/recipe.md). Its rules follow --type rules.")
    var recipeFile: String?

    @Option(help: "Tensor data alignment in bytes (a power of two). 4096 keeps tensors page-aligned; use 32 for files you will requantize with llama-quantize, which copies general.alignment but pads to 32.")
    var alignment: UInt32 = 4096

    @Option(help: "Importance matrix (moepack imatrix or llama-imatrix output: GGUF or legacy .dat): each tensor's rounding error is weighted by its inputs' mean square, per column (per expert for stacks).", completion: .file())
    var imatrix: String?

    @Option(help: "Importance of routed experts no calibration token reached: hidden-mean (gate/up: the layer's hidden-state statistics, down: 1s; measured best), layer-mean (the other experts' statistics for all three) or ones (llama-quantize's choice).")
    var coldExperts: ColdExpertPolicy = .hiddenMean

    @Flag(help: "Also export the multi-token-prediction layer as llama.cpp's nextn block (off by default: llama.cpp skips it unless asked, and it adds ~2% to the file).")
    var keepMTP = false

    @Flag(help: "Print the plan (tensor, shape, type, bytes, totals) and exit without reading weights (with --target-size: after measuring, print the allocation and write OUT.recipe).")
    var dryRun = false

    @Option(help: "Fit the file to this size (binary units: 180G, 50M, or bytes): each tensor's type chosen by measurement; never above it.")
    var targetSize: String?

    @Option(help: "Fit the file to this many bits per weight (instead of --target-size).")
    var targetBpw: Double?

    @Option(help: "With --target-size: the text the sensitivity passes run on (default: the importance matrix's dataset, if that file exists).", completion: .file())
    var calibration: String?

    @Option(help: "With --target-size: candidate types, comma-separated (default IQ1_S,IQ1_M,IQ2_XXS,IQ2_XS,IQ2_S,IQ3_XXS,IQ3_S,Q2_K,Q3_K,IQ4_XS,Q4_K,Q5_K,Q6_K,Q8_0).")
    var types: String?

    @Option(help: "With --target-size: the type each tensor is degraded to when its sensitivity is measured (lowest: its candidate with the fewest bits, e.g. IQ1_S).")
    var probeType: String = "lowest"

    @Option(help: "With --target-size: calibration chunks per sensitivity pass.")
    var probeChunks: Int = 4

    @Option(help: "With --target-size: the file of measured costs (default <output>.costs), reused when it matches (same checkpoint, imatrix, calibration, probe, candidates), written otherwise.", completion: .file())
    var costs: String?

    @Flag(help: "With --target-size: no measurement; errors of each type on synthetic rows of each tensor's row length, every tensor equally sensitive. Plans sizes on a config alone (e.g. DeepSeek-R1's config.json with --dry-run); the predicted KLD it prints is not a measurement.")
    var syntheticCosts = false

    @OptionGroup var parallelism: ThreadOptions
    var threads: Int {
        get { parallelism.threads }
        set { parallelism.threads = newValue }
    }

    @OptionGroup var progressOptions: ProgressOptions
    var quiet: Bool { progressOptions.quiet }

    @Flag(help: "Print the summary as JSON.")
    var json = false

    @Flag(help: "Overwrite an existing output file.")
    var force = false

    func validate() throws {
        if alignment == 0 || alignment & (alignment - 1) != 0 { throw ValidationError("--alignment \(alignment) is not a power of two") }
        if targetSize != nil && targetBpw != nil { throw ValidationError("--target-size and --target-bpw are exclusive") }
        if let targetBpw, !(targetBpw > 0 && targetBpw < 64) { throw ValidationError("--target-bpw must be in (0, 64)") }
        if targetSize != nil || targetBpw != nil {
            _ = try targetTypes()
            guard probeType == "lowest" || GGMLType(name: probeType)?.format != nil else { throw ValidationError("--probe-type \(probeType): unknown type (or 'lowest')") }
            if probeChunks < 1 { throw ValidationError("--probe-chunks must be at least 1") }
        }
        if syntheticCosts && targetSize == nil && targetBpw == nil { throw ValidationError("--synthetic-costs needs --target-size or --target-bpw") }
        if !dryRun && !force && FileManager.default.fileExists(atPath: output) {
            throw ValidationError("\(output) exists; pass --force to overwrite")
        }
    }

    func run() throws {
        try reportingErrors {
            var options = GGUFConverter.Options()
            options.recipe = recipe
            var ruleTexts = rules
            if let recipeFile { ruleTexts += try QuantRecipe.ruleLines(fromFile: recipeFile) }
            options.rules = ruleTexts.contains(where: { $0.contains("{") })
                ? try QuantRecipe.rules(ruleTexts, config: DeepSeekV3Config.load(path: input + "/config.json"))
                : try ruleTexts.map { try QuantRecipe.Rule(parsing: $0) }
            options.threads = max(1, threads)
            options.alignment = alignment
            options.keepMTP = keepMTP
            options.progress = progressOptions.style
            if let imatrix {
                let file = try MappedFile(path: imatrix)
                let checksum = withExtendedLifetime(file) { XXH3Hasher.hex(XXH3Hasher.hash(file.bytes)) }
                options.importance = (try ImatrixFile.read(mapping: file).matrix, imatrix, checksum)
            }
            options.coldExperts = coldExperts
            if targetSize != nil || targetBpw != nil {
                try fit(options)
                return
            }
            let converter = GGUFConverter(input: input, output: output, options: options)
            let plan = try converter.plan()
            if dryRun {
                print(Self.describe(plan))
                if let recipeFile { for line in Self.publishedSizeLines(recipeFile: recipeFile, plannedBytes: plan.layout.fileSize) { print(line) } }
                if let needy = converter.tensorNeedingImportance(in: plan) {
                    print("note: \(needy.type.name) tensors (\(needy.tensor.name), ...) need importance weights; a real run refuses them: \(converter.importanceRemedy(for: needy, in: plan))")
                }
                return
            }
            try converter.requireImportance(in: plan)  // before the warning below, which names tensors written without
            let missing = try converter.tensorsWithoutImportance(in: plan)
            if !missing.isEmpty {
                FileHandle.standardError.write(Data("moepack: warning: the importance matrix has no entry for \(missing.count) quantized tensors; they are quantized without: \(missing.prefix(4).joined(separator: ", "))\(missing.count > 4 ? ", ..." : "")\n".utf8))
            }
            let summary = try converter.run(plan: plan)
            if json {
                print("""
                    {"output": \(jsonText(output)), "tensors": \(summary.plan.tensors.count), "bytes": \(summary.plan.layout.fileSize), \
                    "bits_per_weight": \(summary.plan.bitsPerWeight), "input_bytes": \(summary.inputBytes), \
                    "seconds": \(summary.seconds), "resumed_tensors": \(summary.resumedTensors), \
                    "peak_rss_bytes": \(ProcessStats.peakResidentBytes)}
                    """)
                return
            }
            print(
                "wrote \(output): \(summary.plan.tensors.count) tensors, \(formatBytes(summary.plan.layout.fileSize)), "
                    + String(format: "%.3f bits per weight, %.1f s", summary.plan.bitsPerWeight, summary.seconds)
                    + (summary.resumedTensors > 0 ? "; resumed: \(summary.resumedTensors) tensors from the interrupted run verified and kept" : ""))
        }
    }

    func targetTypes() throws -> [GGMLType] {
        guard let types else { return TargetFit.defaultTypes }
        return try types.split(separator: ",").map { name in
            guard let type = GGMLType(name: String(name).trimmingCharacters(in: .whitespaces)), type.format != nil else {
                throw ValidationError("--types: unknown or unsupported type '\(name)'")
            }
            return type
        }
    }

    /// `--target-size`: measure, solve, print the allocation, write OUT.recipe, then the file.
    func fit(_ converterOptions: GGUFConverter.Options) throws {
        var fitOptions = TargetFit.Options()
        if let targetSize { fitOptions.target = .bytes(try parseByteSize(targetSize, option: "--target-size")) }
        if let targetBpw { fitOptions.target = .bitsPerWeight(targetBpw) }
        fitOptions.types = try targetTypes()
        fitOptions.probeType = probeType == "lowest" ? nil : GGMLType(name: probeType)
        fitOptions.probeChunks = probeChunks
        fitOptions.costsFile = syntheticCosts ? nil : (costs ?? output + ".costs")
        fitOptions.calibration = calibration
        if calibration == nil, let dataset = converterOptions.importance?.matrix.datasets.first, FileManager.default.fileExists(atPath: dataset) {
            fitOptions.calibration = dataset
        }
        if !quiet { fitOptions.log = { line in FileHandle.standardError.write(Data(("fit: " + line + "\n").utf8)) } }
        let fitter = TargetFit(input: input, converterOptions: converterOptions, options: fitOptions)
        try fitter.checkTarget()
        let model = syntheticCosts ? try fitter.syntheticCosts() : try fitter.measure()
        let result = try fitter.solve(model)
        print(TargetFit.describe(result))
        let recipePath = output + ".recipe"
        let command = (["moepack"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
        try AtomicOutputFile.write(Array(fitter.recipeText(result, command: command).utf8), to: recipePath)
        print("wrote \(recipePath): \(result.rules.count) rules")
        if dryRun { return }
        let summary = try GGUFConverter(input: input, output: output, options: try fitter.converterOptions(for: result)).run()
        print(
            "wrote \(output): \(summary.plan.tensors.count) tensors, \(summary.plan.layout.fileSize) bytes (\(formatBytes(summary.plan.layout.fileSize))), "
                + String(format: "%.3f bits per weight, %.1f s", summary.plan.bitsPerWeight, summary.seconds))
    }

    /// A recipe file's `# published: N GiB (what)` comments beside the plan's size, so a recipe
    /// modelled on a published file shows how close it comes.
    static func publishedSizeLines(recipeFile: String, plannedBytes: Int) -> [String] {
        guard let text = try? String(contentsOfFile: recipeFile, encoding: .utf8) else { return [] }
        return text.split(whereSeparator: \.isNewline).compactMap { line in
            guard line.hasPrefix("# published:") else { return nil }
            let words = line.dropFirst("# published:".count).split(separator: " ")
            guard words.count >= 2, let value = Double(words[0]) else { return nil }
            let scale: Double? = switch words[1].uppercased() {
            case "GIB": 1_073_741_824
            case "GB": 1e9
            case "TIB": 1_099_511_627_776
            default: nil
            }
            guard let scale else { return nil }
            let published = value * scale
            return "published: \(words.joined(separator: " ")); this plan: \(formatBytes(plannedBytes)) ("
                + String(format: "%+.1f%%", (Double(plannedBytes) / published - 1) * 100) + ")"
        }
    }

    static func describe(_ plan: GGUFConverter.Plan) -> String {
        var lines = ["tensor\tshape (ggml)\ttype\tbytes"]
        var byType: [GGMLType: (count: Int, bytes: Int)] = [:]
        var fallbacks = 0
        for tensor in plan.tensors {
            let note = tensor.requested.map { " (fallback from \($0.name))" } ?? ""
            if tensor.requested != nil { fallbacks += 1 }
            lines.append("\(tensor.tensor.name)\t\(tensor.tensor.dimensions)\t\(tensor.type.name)\(note)\t\(tensor.bytes)")
            byType[tensor.type, default: (0, 0)].count += 1
            byType[tensor.type, default: (0, 0)].bytes += tensor.bytes
        }
        lines.append("")
        for (type, totals) in byType.sorted(by: { $0.value.bytes > $1.value.bytes }) {
            lines.append("\(type.name)\t\(totals.count) tensors\t\(formatBytes(totals.bytes))")
        }
        lines.append(
            "total: \(plan.tensors.count) tensors, \(formatCount(plan.parameterCount)) weights, file \(plan.layout.fileSize) bytes "
                + "(\(formatBytes(plan.layout.fileSize))), " + String(format: "%.3f bits per weight", plan.bitsPerWeight)
                + (fallbacks > 0 ? ", \(fallbacks) shape fallbacks" : ""))
        return lines.joined(separator: "\n")
    }
}
extension ColdExpertPolicy: ExpressibleByArgument {}
