import DeepSeekV3
import Foundation
import Inference
import Quants
import TensorFiles

/// `quantize --target-size`: measures the cost model (`AllocationCostModel`), chooses each free
/// tensor's type with the exact solver (`AllocationSolver`) so that the file is as close to the
/// target as the bucket resolution allows and never above it, and expresses the result as recipe
/// rules (`^name$=TYPE` per tensor) that `GGUFConverter` then applies.
package final class TargetFit {
    package enum Target: Sendable {
        case bytes(Int)
        case bitsPerWeight(Double)
    }

    package struct Options: Sendable {
        package var target: Target = .bytes(0)
        /// Candidate types (each tensor keeps those that fit its rows without fallback; the
        /// importance-only types only where the importance matrix has the tensor).
        package var types: [GGMLType] = TargetFit.defaultTypes
        /// Calibration text for the sensitivity passes.
        package var calibration: String?
        /// The type a tensor is degraded to when its sensitivity is measured; nil: each tensor's
        /// smallest candidate, so the low-bit choices the solver weighs are measured, not extrapolated.
        package var probeType: GGMLType?
        package var probeChunks = 4
        package var context = 512
        package var sampleRows = 64
        /// Measure every layer up to this many; above it, representative layers (interpolated).
        package var measureAllLayersUpTo = 8
        package var representativeLayerCount = 6
        /// A file of saved costs: read if it matches this measurement, written otherwise.
        package var costsFile: String?
        package var buckets = 20_000
        /// Start each engine pass at the degraded tensor's layer from the base pass's saved residual
        /// stream (bit-identical to a whole pass; false: whole passes, for checking that).
        package var startAtDegradedLayer = true
        package var log: (@Sendable (String) -> Void)?
        package init() {}
    }

    package static let defaultTypes: [GGMLType] = [
        .iq1_s, .iq1_m, .iq2_xxs, .iq2_xs, .iq2_s, .iq3_xxs, .iq3_s, .q2_K, .q3_K, .iq4_xs, .q4_K, .q5_K, .q6_K, .q8_0,
    ]

    /// One tensor of the result.
    package struct Choice: Sendable {
        package var tensor: DeepSeek2Tensor
        package var type: GGMLType
        /// Bytes in the file (padded to the alignment).
        package var bytes: Int
        /// Chosen by the solver (false: F32, a `--type`/recipe rule, or not degradable).
        package var free: Bool
        package var predicted: Double
    }

    package struct Result: Sendable {
        package var choices: [Choice]
        package var targetBytes: Int
        package var plan: GGUFConverter.Plan
        package var predictedKLD: Double
        /// `^name$=TYPE` for every quantized tensor: exactly the rules the file is written with.
        package var rules: [String]
    }

    package let input: String
    package let converterOptions: GGUFConverter.Options
    package let options: Options

    /// - Parameter converterOptions: the `quantize` options; their `rules` (from `--type` and
    ///   recipe files) are fixed choices.
    package init(input: String, converterOptions: GGUFConverter.Options, options: Options) {
        self.input = input
        self.converterOptions = converterOptions
        self.options = options
    }

    func log(_ text: String) { options.log?(text) }

    /// Which tensors the solver chooses for, and their candidate types.
    func freeTensors(in plan: GGUFConverter.Plan, converter: GGUFConverter) -> [(index: Int, types: [GGMLType])] {
        let user = QuantRecipe(mix: converterOptions.recipe, rules: converterOptions.rules, layerCount: plan.config.numHiddenLayers)
        var free: [(Int, [GGMLType])] = []
        for (i, planned) in plan.tensors.enumerated() {
            let t = planned.tensor
            guard t.role != .keepF32, !user.rules.contains(where: { $0.matches(t.name) }) else { continue }
            switch t.source {
            case .tensor, .stacked: break
            case .keyFromKVB, .valueFromKVB: continue  // kept at the recipe's type (formats/allocation.md)
            }
            let types = options.types.filter { type in
                type.format != nil && QuantRecipe.fallback(type, rowLength: t.dimensions[0]) == type
                    && (!QuantRecipe.typesNeedingImportance.contains(type) || converter.hasImportance(planned))
            }
            if !types.isEmpty { free.append((i, types)) }
        }
        return free
    }

    /// Tensors fixed by `--type`/recipe rules that the engine can degrade: measured at their fixed
    /// type, so the predicted KLD of the file includes them.
    func pinnedTensors(in plan: GGUFConverter.Plan) -> [(index: Int, types: [GGMLType])] {
        let user = QuantRecipe(mix: converterOptions.recipe, rules: converterOptions.rules, layerCount: plan.config.numHiddenLayers)
        return plan.tensors.enumerated().compactMap { i, planned in
            let t = planned.tensor
            guard t.role != .keepF32, user.rules.contains(where: { $0.matches(t.name) }), planned.type.format != nil else { return nil }
            switch t.source {
            case .tensor, .stacked: return (i, [planned.type])
            case .keyFromKVB, .valueFromKVB: return nil
            }
        }
    }

    // MARK: - Measurement

    /// The synthetic cost model (`AllocationCostModel.synthetic`) for this fit's tensors: no
    /// weights read, no engine pass. For planning on a config alone.
    package func syntheticCosts() throws -> AllocationCostModel {
        let converter = GGUFConverter(input: input, output: "/dev/null", options: converterOptions)
        let plan = try converter.plan()
        let tensors = (freeTensors(in: plan, converter: converter) + pinnedTensors(in: plan)).map { (plan.tensors[$0.index].tensor, $0.types) }
        log("costs: synthetic (rows of \(Set(tensors.map { $0.0.dimensions[0] }).sorted().map(String.init).joined(separator: ", ")) values, every sensitivity 1): the predicted KLD is not a measurement")
        return try AllocationCostModel.synthetic(tensors: tensors, sampleRows: options.sampleRows, threads: converterOptions.threads)
    }

    /// The resume file of an unfinished measurement saved to `costsFile`: beside it, hidden.
    package static func resumePath(forCosts path: String) -> String {
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent().appendingPathComponent("." + url.lastPathComponent + ".moepack-partial").path
    }

    /// The cost of every free tensor: errors on sampled rows, sensitivity from engine passes.
    ///
    /// With `costsFile`, a finished measurement that matches is reused; otherwise progress is saved
    /// (atomically) to its resume file after the error phase and after every engine pass, and a
    /// rerun after a kill continues from there: the engine passes already made are not repeated.
    package func measure() throws -> AllocationCostModel {
        let converter = GGUFConverter(input: input, output: "/dev/null", options: converterOptions)
        let plan = try converter.plan()
        _ = try converter.tensorsWithoutImportance(in: plan)  // entries checked against their tensors
        let free = freeTensors(in: plan, converter: converter) + pinnedTensors(in: plan)
        guard let calibration = options.calibration else {
            throw ConversionError.unsupportedTensor(file: input, tensor: "-", detail: "--target-size needs --calibration TEXT (the text the sensitivity passes run on)")
        }
        let fingerprint = try self.fingerprint(free: free, plan: plan, calibration: calibration)
        // A saved cost is usable when it has an error for every candidate and the probe (a file
        // edited by hand, or of another candidate set, is measured again rather than trusted).
        func usable(_ cost: AllocationCostModel.Cost?, _ types: [GGMLType]) -> Bool {
            guard let cost else { return false }
            return (types + [probeType(among: types)]).allSatisfy { cost.errors[$0] != nil }
        }
        func complete(_ model: AllocationCostModel) -> Bool {
            free.allSatisfy { f in
                let cost = model.costs[plan.tensors[f.index].tensor.name]
                return usable(cost, f.types) && cost?.state != .pending
            }
        }
        if let path = options.costsFile, let saved = AllocationCostModel.load(path: path, fingerprint: fingerprint), complete(saved) {
            log("costs: reusing \(path)")
            return saved
        }
        let resumePath = options.costsFile.map(Self.resumePath(forCosts:))
        var costs: [String: AllocationCostModel.Cost] = [:]
        if let resumePath, let saved = AllocationCostModel.load(path: resumePath, fingerprint: fingerprint) {
            for (index, types) in free {
                let name = plan.tensors[index].tensor.name
                if usable(saved.costs[name], types) { costs[name] = saved.costs[name] }
            }
            log("costs: resuming \(resumePath): errors of \(costs.count) tensors, \(costs.values.filter { $0.state == .measured }.count) engine passes done")
        }
        func save() throws {
            guard let resumePath else { return }
            try AtomicOutputFile.write(Array(AllocationCostModel(costs: costs).text(fingerprint: fingerprint).utf8), to: resumePath)
        }

        let checkpoint = try Checkpoint(directory: input)
        try ConversionError.requireValidLayout(config: plan.config, checkpoint: checkpoint, directory: input)
        let reader = RowReader(checkpoint: checkpoint, blockSize: plan.config.weightBlockSize?.rows ?? 128)
        let started = Date()
        var quantizedValues = 0.0  // sampled values × candidate types, for the rate of the error phase
        let pendingErrors = free.filter { costs[plan.tensors[$0.index].tensor.name] == nil }
        for (n, (index, types)) in pendingErrors.enumerated() {
            let t = plan.tensors[index].tensor
            let probe = probeType(among: types)
            let measuredTypes = Array(Set(types + [probe]))
            let errors = try AllocationCostModel.relativeErrors(
                of: t, types: measuredTypes, importance: try converter.importanceWeights(for: plan.tensors[index]), reader: reader,
                sampleRows: options.sampleRows, threads: converterOptions.threads)
            costs[t.name] = .init(name: t.name, errors: errors, sensitivity: 0, state: .pending)
            quantizedValues += Double(min(options.sampleRows, t.rowCount) * t.dimensions[0] * measuredTypes.count)
            if n % 8 == 7 || n == pendingErrors.count - 1 {
                let elapsed = Date().timeIntervalSince(started)
                let eta = elapsed / Double(n + 1) * Double(pendingErrors.count - n - 1)
                log("errors: \(n + 1)/\(pendingErrors.count) tensors, \(formatDuration(elapsed)) (ETA \(formatDuration(eta)))")
            }
        }
        let errorSeconds = Date().timeIntervalSince(started)
        if !pendingErrors.isEmpty { try save() }

        // Sensitivity: base log-probs of the original once, then one pass per measured tensor.
        let original = try CheckpointWeights(directory: input)
        let tokenizer = try BPETokenizer(path: input)
        let data = try Data(contentsOf: URL(fileURLWithPath: calibration))
        let chunks = TokenChunks(text: [UInt8](data), tokenizer: tokenizer, context: options.context)
        guard chunks.available >= 1 else {
            throw ConversionError.unsupportedTensor(file: calibration, tensor: "-", detail: "shorter than one \(options.context)-token chunk")
        }
        let chunkList = (0..<min(options.probeChunks, chunks.available)).map(chunks.chunk)
        let targets = (0..<chunkList.count).map(chunks.targets)
        let layers = plan.config.numHiddenLayers <= options.measureAllLayersUpTo
            ? Set(0..<plan.config.numHiddenLayers)
            : AllocationCostModel.representativeLayers(
                layerCount: plan.config.numHiddenLayers, denseLayers: plan.config.firstKDenseReplace, count: options.representativeLayerCount)
        let measured = free.filter { plan.tensors[$0.index].tensor.layer.map(layers.contains) ?? true }
        let pendingPasses = measured.filter { costs[plan.tensors[$0.index].tensor.name]?.state != .measured }
        func startLayer(_ t: DeepSeek2Tensor) -> Int? { self.startLayer(of: t, layerCount: plan.config.numHiddenLayers) }
        if !pendingPasses.isEmpty {
            let baseModel = try DeepSeekV3Model(source: original, threads: converterOptions.threads)
            let starts = Set(pendingPasses.compactMap { startLayer(plan.tensors[$0.index].tensor) })
            let (baseLogits, residuals) = try baseModel.logits(chunks: chunkList, positions: chunks.positions, saving: starts)
            let base = baseLogits.map { Scoring.baseLogProbabilities($0, threads: converterOptions.threads) }
            let passStart = Date()
            var timedMultiplyAdds = 0.0
            for (n, (index, types)) in pendingPasses.enumerated() {
                let t = plan.tensors[index].tensor
                let probe = probeType(among: types)
                let degraded = try DegradedWeights(base: original, degrading: [(t, probe, try converter.importanceWeights(for: plan.tensors[index]))])
                let model = try DeepSeekV3Model(source: degraded, threads: converterOptions.threads)
                let logits = try startLayer(t).map { try model.logits(chunks: chunkList, positions: chunks.positions, from: ($0, residuals[$0]!)) }
                    ?? model.logits(chunks: chunkList, positions: chunks.positions)
                var kld = 0.0, count = 0
                for i in 0..<chunkList.count {
                    let score = Scoring.compare(chunk: i, base: base[i], logits: logits[i], targets: targets[i], threads: converterOptions.threads)
                    for v in score.kld ?? [] { kld += Double(v) }
                    count += score.kld?.count ?? 0
                }
                let meanKLD = kld / Double(max(count, 1))
                let e = costs[t.name]!.errors[probe]!
                costs[t.name]!.sensitivity = e > 0 ? max(0, meanKLD) / e : 0
                costs[t.name]!.state = .measured
                try save()
                let elapsed = Date().timeIntervalSince(passStart)
                let eta = elapsed / Double(n + 1) * Double(pendingPasses.count - n - 1)
                log("sensitivity \(n + 1)/\(pendingPasses.count) \(t.name) at \(probe.name): " + String(format: "KLD %.6f, e %.4g, s %.4g", meanKLD, e, costs[t.name]!.sensitivity)
                    + " (ETA \(formatDuration(eta)))")
                timedMultiplyAdds += Double(chunkList.reduce(0) { $0 + $1.count }) * passMultiplyAdds(plan.config, start: startLayer(t))
                if n == 0 || n == pendingPasses.count - 1 {
                    log(r1Prediction(errorSeconds: errorSeconds, quantizedValues: quantizedValues, passSeconds: elapsed, passMultiplyAdds: timedMultiplyAdds))
                }
            }
        }
        // Unmeasured layers: their role's sensitivity interpolated by layer.
        for (index, _) in free where !measured.contains(where: { $0.index == index }) {
            let t = plan.tensors[index].tensor
            let key = AllocationCostModel.roleKey(t.name)
            let points = measured.compactMap { m -> (layer: Int, s: Double)? in
                let u = plan.tensors[m.index].tensor
                guard AllocationCostModel.roleKey(u.name) == key, let layer = u.layer else { return nil }
                return (layer, costs[u.name]!.sensitivity)
            }
            costs[t.name]!.sensitivity = AllocationCostModel.interpolate(points, at: t.layer ?? 0) ?? 0
            costs[t.name]!.state = .interpolated
        }
        let model = AllocationCostModel(costs: costs)
        if let path = options.costsFile {
            try AtomicOutputFile.write(Array(model.text(fingerprint: fingerprint).utf8), to: path)
            if let resumePath { unlink(resumePath) }
        }
        return model
    }

    /// The layer a sensitivity pass for `t` may start at (nil: the whole pass, embedding included):
    /// a tensor of layer L changes nothing before L, and the head (`output`) nothing before the
    /// final norm (layer `layerCount`); `token_embd` needs the whole pass.
    func startLayer(of t: DeepSeek2Tensor, layerCount: Int) -> Int? {
        guard options.startAtDegradedLayer else { return nil }
        if let layer = t.layer { return layer }
        return t.role == .tokenEmbedding ? nil : layerCount
    }

    /// The share of a model's layers a pass starting at `start` runs (every layer counted alike).
    static func layerShare(start: Int?, layerCount: Int) -> Double {
        start.map { Double(layerCount - $0) / Double(layerCount) } ?? 1
    }

    /// Multiply-adds per token of a pass that starts at layer `start` (nil: the whole pass): that
    /// share of the layers plus the whole head.
    func passMultiplyAdds(_ c: DeepSeekV3Config, start: Int?) -> Double {
        let scored = options.context / 2
        let total = EvaluationCost.multiplyAddsPerToken(config: c, context: options.context, scored: scored)
        let head = EvaluationCost.headMultiplyAddsPerToken(config: c, context: options.context, scored: scored)
        return head + (total - head) * Self.layerShare(start: start, layerCount: c.numHiddenLayers)
    }

    /// What the same measurement would take on DeepSeek-R1 on this machine, from this run's rates:
    /// the error phase at the measured sampled values per second, the engine passes at the measured
    /// multiply-adds per second (`EvaluationCost`), one pass per tensor of R1's representative
    /// layers from that tensor's layer on, each also reading that share of the FP8 checkpoint (at
    /// an assumed 2 GB/s, overlapped).
    func r1Prediction(errorSeconds: Double, quantizedValues: Double, passSeconds: Double, passMultiplyAdds measured: Double) -> String {
        guard let r1 = try? DeepSeekV3Config.parse(Data(DeepSeekV3Config.deepSeekR1JSON.utf8), file: "R1 dimensions") else {
            return "R1 prediction: unavailable"
        }
        let ownRate = measured / passSeconds
        let tokens = Double(options.probeChunks * options.context)
        let layout = CheckpointLayout(config: r1)
        let fp8Bytes = Double(layout.tensors.filter { !$0.isMTP }.reduce(0) { $0 + $1.storedBytes })
        let r1Layers = AllocationCostModel.representativeLayers(
            layerCount: r1.numHiddenLayers, denseLayers: r1.firstKDenseReplace, count: options.representativeLayerCount)
        let tensors: [DeepSeek2Tensor] = DeepSeek2Tensor.plan(r1).filter { $0.role != .keepF32 }
        var passes = 0, sampled = 0, passTime = 0.0
        for t in tensors {
            sampled += min(options.sampleRows, t.rowCount) * t.dimensions[0]
            switch t.source {
            case .keyFromKVB, .valueFromKVB: continue
            case .tensor, .stacked:
                guard t.layer.map(r1Layers.contains) ?? true else { continue }
                passes += 1
                let start = startLayer(of: t, layerCount: r1.numHiddenLayers)
                let share = Self.layerShare(start: start, layerCount: r1.numHiddenLayers)
                passTime += max(tokens * passMultiplyAdds(r1, start: start) / ownRate, fp8Bytes * share / 2e9)
            }
        }
        let values = Double(sampled) * Double(options.types.count)
        let errors = quantizedValues > 0 ? formatDuration(errorSeconds / quantizedValues * values) : "not timed (resumed run)"
        return "predicted for DeepSeek-R1 on this machine: errors \(errors), \(passes) engine passes (each from its tensor's layer on) "
            + "\(formatDuration(passTime)) (\(String(format: "%.1f", ownRate / 1e9)) G multiply-adds/s measured here; "
            + "a whole pass reads the \(formatBytes(Int(fp8Bytes))) checkpoint, \(formatDuration(fp8Bytes / 2e9)) at 2 GB/s)"
    }

    /// The probe of a tensor with these candidates: `probeType` if it is one of them, else the
    /// candidate with the fewest bits per weight.
    func probeType(among types: [GGMLType]) -> GGMLType {
        if let wanted = options.probeType, types.contains(wanted) { return wanted }
        return types.min { $0.bitsPerWeight < $1.bitsPerWeight }!
    }

    /// What the measurement depends on: the checkpoint's config, the imatrix, the calibration
    /// text, the probe settings and the candidate set.
    func fingerprint(free: [(index: Int, types: [GGMLType])], plan: GGUFConverter.Plan, calibration: String) throws -> String {
        var hasher = XXH3Hasher()
        func add(_ text: String) { Data(text.utf8).withUnsafeBytes { hasher.update($0) } }
        if let config = try? Data(contentsOf: URL(fileURLWithPath: input + "/config.json")) { config.withUnsafeBytes { hasher.update($0) } }
        try Data(contentsOf: URL(fileURLWithPath: calibration)).withUnsafeBytes { hasher.update($0) }
        add(converterOptions.importance?.checksum ?? "no imatrix")
        add(converterOptions.coldExperts.rawValue)
        add("\(options.probeType?.name ?? "lowest") \(options.probeChunks) \(options.context) \(options.sampleRows) \(options.measureAllLayersUpTo) \(options.representativeLayerCount)")
        for (i, types) in free { add(plan.tensors[i].tensor.name + ":" + types.map(\.name).joined(separator: ",")) }
        return XXH3Hasher.hex(hasher.finalize())
    }

    // MARK: - Solving

    static func exactRule(_ name: String, _ type: GGMLType) -> String {
        "^" + NSRegularExpression.escapedPattern(for: name) + "$=" + type.name
    }

    struct Sizes {
        var plan: GGUFConverter.Plan
        var free: [(index: Int, types: [GGMLType])]
        var targetBytes: Int
        var fixedBytes: Int
        /// Padded bytes of each free tensor at each of its types.
        var optionBytes: [[Int]]
        var planned: [GGMLType]
    }

    /// The budget problem without costs: target, fixed part, sizes of every option.
    func sizes() throws -> Sizes {
        let converter = GGUFConverter(input: input, output: "/dev/null", options: converterOptions)
        let plan = try converter.plan()
        let free = freeTensors(in: plan, converter: converter)
        let alignment = Int(converterOptions.alignment)
        func padded(_ bytes: Int) -> Int { (bytes + alignment - 1) / alignment * alignment }
        let targetBytes: Int
        switch options.target {
        case .bytes(let b): targetBytes = b
        case .bitsPerWeight(let bpw): targetBytes = Int((bpw * Double(plan.parameterCount) / 8).rounded(.down))
        }
        // The header holds the rules (moepack.recipe): plan it with the longest candidate name of
        // every free tensor, an upper bound on the real header.
        var planned = plan.tensors.map(\.type)
        for (i, types) in free { planned[i] = types.max { $0.name.utf8.count < $1.name.utf8.count }! }
        let boundPlan = try self.plan(types: planned)
        let freeSet = Set(free.map(\.index))
        let fixedBytes = boundPlan.layout.dataOffset
            + boundPlan.tensors.enumerated().filter { !freeSet.contains($0.offset) }.reduce(0) { $0 + padded($1.element.bytes) }
        let optionBytes = free.map { (index, types) in
            types.map { type in
                let t = plan.tensors[index].tensor
                return padded(type.rowBytes(t.dimensions[0])! * t.rowCount)
            }
        }
        return Sizes(plan: plan, free: free, targetBytes: targetBytes, fixedBytes: fixedBytes, optionBytes: optionBytes, planned: planned)
    }

    /// Throws a one-line error when no allocation can reach the target (below the smallest file
    /// the candidates give, or above the largest), before anything is measured.
    package func checkTarget() throws {
        let s = try sizes()
        let smallest = s.fixedBytes + s.optionBytes.reduce(0) { $0 + $1.min()! }
        let largest = s.fixedBytes + s.optionBytes.reduce(0) { $0 + $1.max()! }
        guard s.targetBytes >= smallest else {
            throw ConversionError.unsupportedTensor(
                file: input, tensor: "-",
                detail: "target \(s.targetBytes) bytes is below the smallest file these types give: \(smallest) bytes (\(formatBytes(smallest)))")
        }
        guard s.targetBytes <= largest else {
            throw ConversionError.unsupportedTensor(
                file: input, tensor: "-",
                detail: "target \(s.targetBytes) bytes is above the largest file these types give: \(largest) bytes (\(formatBytes(largest)))")
        }
    }

    /// Chooses the types for the target and returns the plan of the file they give.
    package func solve(_ model: AllocationCostModel) throws -> Result {
        try checkTarget()
        var s = try sizes()
        let (plan, free, targetBytes, fixedBytes) = (s.plan, s.free, s.targetBytes, s.fixedBytes)
        let alignment = Int(converterOptions.alignment)
        func padded(_ bytes: Int) -> Int { (bytes + alignment - 1) / alignment * alignment }
        let freeSet = Set(free.map(\.index))
        let items = zip(free, s.optionBytes).map { entry, bytes in
            zip(entry.types, bytes).map { type, b in
                AllocationSolver.Option(bytes: b, cost: model.costs[plan.tensors[entry.index].tensor.name]?.predicted(type) ?? .infinity)
            }
        }
        guard let solution = AllocationSolver.solve(items, budget: targetBytes - fixedBytes, buckets: options.buckets) else {
            throw ConversionError.unsupportedTensor(file: input, tensor: "-", detail: "no allocation fits \(targetBytes) bytes")
        }
        for ((index, types), k) in zip(free, solution.choices) { s.planned[index] = types[k] }
        let rules = plan.tensors.enumerated().compactMap { i, p in p.tensor.role == .keepF32 ? nil : Self.exactRule(p.tensor.name, s.planned[i]) }
        let finalPlan = try self.plan(rules: rules)
        precondition(finalPlan.layout.fileSize <= targetBytes, "allocation above the target: \(finalPlan.layout.fileSize) > \(targetBytes)")
        let choices = finalPlan.tensors.enumerated().map { i, p in
            // Fixed tensors count where they were measured (pinned ones, at their type), else 0.
            let predicted = model.costs[p.tensor.name].flatMap { $0.errors[p.type] != nil ? $0.predicted(p.type) : nil } ?? 0
            return Choice(tensor: p.tensor, type: p.type, bytes: padded(p.bytes), free: freeSet.contains(i), predicted: predicted)
        }
        let predictedKLD = choices.reduce(0) { $0 + $1.predicted }
        return Result(choices: choices, targetBytes: targetBytes, plan: finalPlan, predictedKLD: predictedKLD, rules: rules)
    }

    func plan(types: [GGMLType]) throws -> GGUFConverter.Plan {
        let base = try GGUFConverter(input: input, output: "/dev/null", options: converterOptions).plan()
        let rules = base.tensors.enumerated().compactMap { i, p in p.tensor.role == .keepF32 ? nil : Self.exactRule(p.tensor.name, types[i]) }
        return try plan(rules: rules)
    }

    func plan(rules: [String]) throws -> GGUFConverter.Plan {
        var options = converterOptions
        options.rules = try rules.map { try QuantRecipe.Rule(parsing: $0) }
        return try GGUFConverter(input: input, output: "/dev/null", options: options).plan()
    }

    /// The converter options that write the fitted file: the allocation's rules replace the
    /// user's (which they already honour), so the recipe file alone reproduces the same bytes.
    package func converterOptions(for result: Result) throws -> GGUFConverter.Options {
        var options = converterOptions
        options.rules = try result.rules.map { try QuantRecipe.Rule(parsing: $0) }
        return options
    }

    /// The recipe file written beside the output.
    package func recipeText(_ result: Result, command: String) -> String {
        var lines = [
            "# moepack quantize --target-size allocation (formats/allocation.md)",
            "# \(command)",
            "# target \(result.targetBytes) bytes; file \(result.plan.layout.fileSize) bytes, "
                + String(format: "%.3f bits per weight; predicted KLD %.6f", result.plan.bitsPerWeight, result.predictedKLD),
            "# reproduce: moepack quantize IN OUT.gguf --recipe \(converterOptions.recipe.rawValue) --recipe-file THIS_FILE (with the same --imatrix)",
        ]
        lines += result.rules
        return lines.joined(separator: "\n") + "\n"
    }

    /// The table of `--dry-run`/the run: one line per tensor group (role across layers) and type.
    package static func describe(_ result: Result) -> String {
        var lines = ["group\ttype\ttensors\tbytes\tpredicted ΔKLD"]
        var groups: [String: [GGMLType: (count: Int, bytes: Int, predicted: Double)]] = [:]
        var order: [String] = []
        for c in result.choices where c.tensor.role != .keepF32 {
            let key = AllocationCostModel.roleKey(c.tensor.name) + (c.free ? "" : " (fixed)")
            if groups[key] == nil { order.append(key) }
            groups[key, default: [:]][c.type, default: (0, 0, 0)].count += 1
            groups[key, default: [:]][c.type, default: (0, 0, 0)].bytes += c.bytes
            groups[key, default: [:]][c.type, default: (0, 0, 0)].predicted += c.predicted
        }
        for key in order {
            for (type, v) in groups[key]!.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                lines.append("\(key)\t\(type.name)\t\(v.count)\t\(v.bytes)\t" + String(format: "%.6f", v.predicted))
            }
        }
        let floats = result.choices.filter { $0.tensor.role == .keepF32 }
        lines.append("F32 (norms, router)\tF32\t\(floats.count)\t\(floats.reduce(0) { $0 + $1.bytes })\t0")
        lines.append(
            "total: file \(result.plan.layout.fileSize) bytes (\(formatBytes(result.plan.layout.fileSize))), target \(result.targetBytes) ("
                + String(format: "%.3f%% of it), %.3f bits per weight, predicted KLD %.6f",
                         100 * Double(result.plan.layout.fileSize) / Double(result.targetBytes), result.plan.bitsPerWeight, result.predictedKLD))
        return lines.joined(separator: "\n")
    }
}
