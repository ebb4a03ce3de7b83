import Conversion
import DeepSeekV3
import Foundation
import Quants
import Synchronization
import SyntheticModels
import TensorFiles
import TestSupport
import Testing

@Suite struct AllocationSolverTests {
    typealias Option = AllocationSolver.Option

    /// Every combination, for small problems.
    func bruteForce(_ items: [[Option]], budget: Int) -> Double? {
        var best: Double?
        func visit(_ i: Int, bytes: Int, cost: Double) {
            if bytes > budget { return }
            if i == items.count {
                if best == nil || cost < best! { best = cost }
                return
            }
            for o in items[i] { visit(i + 1, bytes: bytes + o.bytes, cost: cost + o.cost) }
        }
        visit(0, bytes: 0, cost: 0)
        return best
    }

    @Test func handMadeProblemHasItsKnownOptimum() throws {
        // Three tensors; 10 bytes: the cheap big option of the sensitive tensor beats the rest.
        let items: [[Option]] = [
            [Option(bytes: 2, cost: 10), Option(bytes: 6, cost: 1)],
            [Option(bytes: 2, cost: 2), Option(bytes: 4, cost: 1.5)],
            [Option(bytes: 2, cost: 3), Option(bytes: 3, cost: 2.9)],
        ]
        let solution = try #require(AllocationSolver.solve(items, budget: 10, buckets: 10))
        #expect(solution.choices == [1, 0, 0])
        #expect(solution.bytes == 10)
        #expect(solution.cost == 6)
        #expect(AllocationSolver.solve(items, budget: 5) == nil)  // below the smallest choice (6 bytes)
    }

    /// With one byte per bucket the DP is exact: it equals exhaustive search; with coarse buckets
    /// it is never over the budget and never better than the optimum.
    @Test func equalsExhaustiveSearchAndNeverExceedsTheBudget() throws {
        var rng = SplitMix64(seed: 15)
        for trial in 0..<200 {
            let n = Int.random(in: 1...5, using: &rng)
            let items: [[Option]] = (0..<n).map { _ in
                (0..<Int.random(in: 1...4, using: &rng)).map { _ in
                    Option(bytes: Int.random(in: 1...40, using: &rng), cost: Double.random(in: 0...10, using: &rng))
                }
            }
            let budget = Int.random(in: 0...120, using: &rng)
            let exact = bruteForce(items, budget: budget)
            let solved = AllocationSolver.solve(items, budget: budget, buckets: max(budget, 1))
            #expect((exact == nil) == (solved == nil), "trial \(trial)")
            if let exact, let solved {
                #expect(abs(solved.cost - exact) < 1e-9, "trial \(trial): \(solved.cost) vs \(exact)")
                #expect(solved.bytes <= budget)
            }
            if let coarse = AllocationSolver.solve(items, budget: budget, buckets: 7) {
                #expect(coarse.bytes <= budget, "trial \(trial)")
                #expect(coarse.cost >= (exact ?? 0) - 1e-9)
            }
        }
    }

    @Test func layerInterpolation() {
        #expect(AllocationCostModel.interpolate([(3, 1.0), (7, 3.0)], at: 5) == 2.0)
        #expect(AllocationCostModel.interpolate([(3, 1.0), (7, 3.0)], at: 1) == 1.0)
        #expect(AllocationCostModel.interpolate([(3, 1.0), (7, 3.0)], at: 60) == 3.0)
        let layers = AllocationCostModel.representativeLayers(layerCount: 61, denseLayers: 3, count: 6)
        #expect(layers.isSuperset(of: [0, 1, 2, 3, 60]))
        #expect(layers.count <= 10)
    }
}

@Suite struct TargetFitTests {
    func calibration() throws -> String {
        let path = TestSupport.scratchDirectory("fit-calib") + "/calib.txt"
        try Data(SyntheticCorpus.text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func fitter(target: TargetFit.Target, rules: [String] = []) throws -> TargetFit {
        var converter = GGUFConverter.Options()
        converter.rules = try rules.map { try QuantRecipe.Rule(parsing: $0) }
        converter.threads = 2
        converter.progress = .quiet
        var options = TargetFit.Options()
        options.target = target
        options.calibration = try calibration()
        options.context = 64
        options.probeChunks = 2
        options.sampleRows = 16
        return TargetFit(input: Fixtures.tiny, converterOptions: converter, options: options)
    }

    /// The fitted file is at most the target and within 0.5% of it, `--type` rules are kept, and
    /// the recipe file written beside it reproduces it byte for byte.
    @Test func fitsTheTargetAndTheRecipeReproducesTheFile() throws {
        var q4 = GGUFConverter.Options()
        q4.recipe = .q4_K_M
        let target = try GGUFConverter(input: Fixtures.tiny, output: "/dev/null", options: q4).plan().layout.fileSize
        let fitter = try fitter(target: .bytes(target), rules: ["^token_embd\\.weight$=Q8_0"])
        let model = try fitter.measure()
        #expect(model.costs.values.contains { $0.state == .measured && $0.sensitivity > 0 })
        let result = try fitter.solve(model)
        #expect(result.plan.layout.fileSize <= target)
        #expect(Double(result.plan.layout.fileSize) >= 0.995 * Double(target), "\(result.plan.layout.fileSize) for \(target)")
        #expect(result.choices.first { $0.tensor.name == "token_embd.weight" }?.type == .q8_0)
        #expect(result.choices.first { $0.tensor.name == "token_embd.weight" }?.free == false)
        #expect(result.predictedKLD > 0 && result.predictedKLD.isFinite)

        let directory = TestSupport.scratchDirectory("fit")
        let fitted = directory + "/fit.gguf"
        _ = try GGUFConverter(input: Fixtures.tiny, output: fitted, options: try fitter.converterOptions(for: result)).run()
        #expect(try FileManager.default.attributesOfItem(atPath: fitted)[.size] as? Int == result.plan.layout.fileSize)
        let recipe = directory + "/fit.gguf.recipe"
        try Data(fitter.recipeText(result, command: "test").utf8).write(to: URL(fileURLWithPath: recipe))
        var again = GGUFConverter.Options()
        again.rules = try QuantRecipe.ruleLines(fromFile: recipe).map { try QuantRecipe.Rule(parsing: $0) }
        again.progress = .quiet
        let reproduced = directory + "/again.gguf"
        _ = try GGUFConverter(input: Fixtures.tiny, output: reproduced, options: again).run()
        #expect(try Data(contentsOf: URL(fileURLWithPath: fitted)) == Data(contentsOf: URL(fileURLWithPath: reproduced)))
    }

    /// An interrupted measurement resumes from its resume file: the engine passes already made are
    /// not repeated, and the result equals the uninterrupted measurement exactly.
    @Test func interruptedMeasurementResumesWithoutRepeatingPasses() throws {
        let directory = TestSupport.scratchDirectory("fit-resume")
        var fitter = try fitter(target: .bytes(1 << 20))
        var options = fitter.options
        options.costsFile = directory + "/full.costs"
        fitter = TargetFit(input: fitter.input, converterOptions: fitter.converterOptions, options: options)
        let full = try fitter.measure()
        let measured = full.costs.values.filter { $0.state == .measured }.map(\.name).sorted()
        try #require(measured.count >= 4)
        #expect(!FileManager.default.fileExists(atPath: TargetFit.resumePath(forCosts: directory + "/full.costs")))

        // The state a kill after half the passes leaves: errors known, the second half pending.
        let saved = try String(contentsOfFile: directory + "/full.costs", encoding: .utf8)
        let pendingNames = Set(measured.suffix(measured.count / 2))
        let partial = saved.split(separator: "\n").map { line -> String in
            var words = line.split(separator: " ").map(String.init)
            if words.count > 2, pendingNames.contains(words[0]) { words[1] = "0"; words[2] = "pending" }
            return words.joined(separator: " ")
        }.joined(separator: "\n") + "\n"
        options.costsFile = directory + "/resumed.costs"
        try Data(partial.utf8).write(to: URL(fileURLWithPath: TargetFit.resumePath(forCosts: options.costsFile!)))
        let lines = Mutex<[String]>([])
        options.log = { line in lines.withLock { $0.append(line) } }
        let resumed = try TargetFit(input: fitter.input, converterOptions: fitter.converterOptions, options: options).measure()

        let passes = lines.withLock { $0 }.filter { $0.hasPrefix("sensitivity ") }
        #expect(passes.count == pendingNames.count, "\(passes)")
        #expect(passes.allSatisfy { line in pendingNames.contains { line.contains(" \($0) ") } })
        #expect(lines.withLock { $0 }.contains { $0.hasPrefix("costs: resuming") })
        #expect(!lines.withLock { $0 }.contains { $0.hasPrefix("errors:") })  // the error phase was not redone
        for (name, cost) in full.costs {
            #expect(resumed.costs[name]?.sensitivity == cost.sensitivity, "\(name)")
            #expect(resumed.costs[name]?.errors == cost.errors, "\(name)")
        }
        #expect(!FileManager.default.fileExists(atPath: TargetFit.resumePath(forCosts: options.costsFile!)))
        #expect(FileManager.default.fileExists(atPath: options.costsFile!))
    }

    /// Sensitivity passes that start at the degraded tensor's layer (from the base pass's saved
    /// residual stream) measure exactly what whole passes measure.
    @Test func passesFromTheDegradedLayerEqualWholePasses() throws {
        let base = try fitter(target: .bytes(1 << 20))
        var options = base.options
        options.startAtDegradedLayer = false
        let whole = try TargetFit(input: base.input, converterOptions: base.converterOptions, options: options).measure()
        let fromLayer = try base.measure()
        #expect(whole.costs.count == fromLayer.costs.count)
        for (name, cost) in whole.costs {
            #expect(fromLayer.costs[name]?.sensitivity == cost.sensitivity, "\(name)")
        }
    }

    /// A costs file edited by hand is not trusted where it cannot be right: a negative sensitivity
    /// makes the file unreadable, a tensor without an error for one of its candidates is measured
    /// again; neither reaches the solver.
    @Test func editedCostsFilesAreMeasuredAgain() throws {
        let directory = TestSupport.scratchDirectory("fit-costs-edit")
        var options = try fitter(target: .bytes(1 << 20)).options
        options.costsFile = directory + "/fit.costs"
        let base = try fitter(target: .bytes(1 << 20))
        let full = try TargetFit(input: base.input, converterOptions: base.converterOptions, options: options).measure()
        let saved = try String(contentsOfFile: options.costsFile!, encoding: .utf8)
        var lines = saved.split(separator: "\n").map(String.init)
        let victim = try #require(lines.firstIndex { $0.contains(" measured ") && $0.contains(" Q4_K=") })
        lines[victim] = lines[victim].split(separator: " ").filter { !$0.hasPrefix("Q4_K=") }.joined(separator: " ")
        var negative = saved.split(separator: "\n").map(String.init)
        let other = try #require(negative.indices.last { $0 != victim && $0 > 0 })
        var words = negative[other].split(separator: " ").map(String.init)
        words[1] = "-1"  // the sensitivity
        negative[other] = words.joined(separator: " ")
        for (edit, label) in [(lines, "missing error"), (negative, "negative sensitivity")] {
            try Data((edit.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: options.costsFile!))
            let log = Mutex<[String]>([])
            options.log = { line in log.withLock { $0.append(line) } }
            let again = try TargetFit(input: base.input, converterOptions: base.converterOptions, options: options).measure()
            #expect(!log.withLock { $0 }.contains { $0.hasPrefix("costs: reusing") }, "\(label)")
            for (name, cost) in full.costs { #expect(again.costs[name]?.errors == cost.errors, "\(label): \(name)") }
        }
    }

    /// DeepSeek-R1's config alone, a synthetic importance matrix (an entry for every tensor that
    /// takes one) and the synthetic cost model: a full plan of every tensor, at most the target and
    /// within 0.5% of it, for the sizes of the published dynamic files.
    @Test func r1PlanFromTheConfigAloneFitsEachTarget() throws {
        let directory = TestSupport.scratchDirectory("fit-r1")
        try Data(DeepSeekV3Config.deepSeekR1JSON.utf8).write(to: URL(fileURLWithPath: directory + "/config.json"))
        var converter = GGUFConverter.Options()
        converter.threads = 2
        converter.progress = .quiet
        let plan = try GGUFConverter(input: directory, output: "/dev/null", options: converter).plan()
        var entries: [String: ImportanceMatrix.Entry] = [:]
        for planned in plan.tensors where planned.tensor.role != .keepF32 && planned.tensor.role != .tokenEmbedding {
            entries[planned.tensor.name] = ImportanceMatrix.Entry(columns: 1)  // presence is all the plan uses
        }
        converter.importance = (ImportanceMatrix(entries: entries), "synthetic", "0")
        var options = TargetFit.Options()
        options.sampleRows = 8
        var model: AllocationCostModel?
        for gib in [131, 158, 183, 212] {
            options.target = .bytes(gib << 30)
            let fitter = TargetFit(input: directory, converterOptions: converter, options: options)
            if model == nil { model = try fitter.syntheticCosts() }
            let result = try fitter.solve(model!)
            #expect(result.plan.layout.fileSize <= gib << 30)
            #expect(Double(result.plan.layout.fileSize) >= 0.995 * Double(gib << 30), "\(result.plan.layout.fileSize) for \(gib) GiB")
            #expect(result.choices.count == plan.tensors.count)
            // The solver spends the budget where the bytes are: the routed experts get the low-bit types.
            let experts = result.choices.filter { $0.tensor.name.contains("_exps.") }
            #expect(experts.count == 3 * (plan.config.numHiddenLayers - plan.config.firstKDenseReplace))
            let table = TargetFit.describe(result)
            #expect(table.contains("blk.*.ffn_down_exps.weight"))
            #expect(table.contains("total: file"))
        }
    }

    /// Targets no allocation can reach are one-line errors naming the size that is possible.
    @Test func unreachableTargetsNameTheLimit() throws {
        let fitter = try fitter(target: .bytes(1000))
        let model = try fitter.measure()
        #expect { try fitter.solve(model) } throws: { "\($0)".contains("below the smallest file these types give") }
        let big = try self.fitter(target: .bytes(1 << 40))
        #expect { try big.solve(model) } throws: { "\($0)".contains("above the largest file") }
    }

    /// The command: `--dry-run` prints the allocation table and writes OUT.recipe; an unreachable
    /// target is one error line naming the smallest possible size, exit 1.
    @Test func commandLine() throws {
        let directory = TestSupport.scratchDirectory("fit-cli")
        let text = directory + "/calib.txt"
        try Data(String(repeating: SyntheticCorpus.text + "\n", count: 20).utf8).write(to: URL(fileURLWithPath: text))
        let output = directory + "/fit.gguf"
        let run = try TestSupport.moepack(
            "quantize", Fixtures.tiny, output, "--target-bpw", "5", "--calibration", text, "--probe-chunks", "1", "--dry-run", "--quiet")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("total: file"))
        #expect(run.stdout.contains("predicted KLD"))
        let rules = try QuantRecipe.ruleLines(fromFile: output + ".recipe")
        #expect(rules.contains { $0.hasPrefix("^token_embd\\.weight$=") })
        #expect(!FileManager.default.fileExists(atPath: output))
        let small = try TestSupport.moepack(
            "quantize", Fixtures.tiny, output, "--target-size", "1K", "--calibration", text, "--probe-chunks", "1", "--dry-run", "--quiet")
        #expect(small.status == 1)
        #expect(small.stderr.contains("below the smallest file these types give"), "\(small.stderr)")
        #expect(small.stderr.split(separator: "\n").count == 1)
    }
}
