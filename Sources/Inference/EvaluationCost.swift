import DeepSeekV3

/// Arithmetic of the forward pass per evaluated token (multiply-adds), from the config: what the
/// benchmark divides measured time by to get a machine's effective rate, and multiplies by to
/// predict other models' run times.
package enum EvaluationCost {
    /// Average multiply-adds per token of a `context`-token chunk whose last `scored` positions go
    /// through the LM head (absorbed MLA; each token attends to half the chunk on average).
    package static func multiplyAddsPerToken(config c: DeepSeekV3Config, context: Int, scored: Int) -> Double {
        let h = Double(c.hiddenSize), heads = Double(c.numAttentionHeads)
        let nope = Double(c.qkNopeHeadDim), rope = Double(c.qkRopeHeadDim), v = Double(c.vHeadDim)
        let latent = Double(c.kvLoraRank), q = Double(c.qLoraRank)
        let projections = h * q + q * heads * (nope + rope) + h * (latent + rope) + heads * v * h
        let keys = Double(context + 1) / 2
        let attention = heads * (nope * latent + keys * (latent + rope) + keys * latent + latent * v)
        let moe = Double(c.numExpertsPerToken + c.nSharedExperts) * 3 * h * Double(c.moeIntermediateSize) + h * Double(c.nRoutedExperts)
        let dense = 3 * h * Double(c.intermediateSize)
        let layers = Double(c.firstKDenseReplace) * (projections + attention + dense)
            + Double(c.numHiddenLayers - c.firstKDenseReplace) * (projections + attention + moe)
        return layers + headMultiplyAddsPerToken(config: c, context: context, scored: scored)
    }

    /// The LM head's share of `multiplyAddsPerToken`: only the `scored` positions of a chunk reach it.
    package static func headMultiplyAddsPerToken(config c: DeepSeekV3Config, context: Int, scored: Int) -> Double {
        Double(c.hiddenSize) * Double(c.vocabSize) * Double(scored) / Double(context)
    }
}
