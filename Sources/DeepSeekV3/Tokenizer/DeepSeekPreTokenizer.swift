/// DeepSeek-V3's pre-tokenizer, a `Sequence` of three `Split` steps (behavior `Isolated`) and a
/// `ByteLevel` step, implemented as hand-written scanners that reproduce the regex engine's
/// (Oniguruma's leftmost, first-alternative, backtracking) matches exactly:
///
/// 1. `\p{N}{1,3}`: runs of digits, at most three per piece;
/// 2. `[一-龥぀-ゟ゠-ヿ]+`: runs of CJK ideographs, hiragana and katakana;
/// 3. `[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+ | [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+ |
///    ␠?[\p{P}\p{S}]+[\r\n]* | \s*[\r\n]+ | \s+(?!\S) | \s+`.
///
/// Each split cuts every current piece into matches and the gaps between them; later splits see
/// only the pieces (a lookahead at a piece's end sees the end of text).
package enum DeepSeekPreTokenizer {
    /// The three patterns exactly as DeepSeek-V3's tokenizer.json spells them.
    package static let patterns: [String] = [
        "\\p{N}{1,3}",
        "[一-龥぀-ゟ゠-ヿ]+",
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"
            + "| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
    ]

    /// Splits `text` into pieces (ranges of `scalars`), in order.
    package static func split(_ scalars: [Unicode.Scalar]) -> [Range<Int>] {
        var pieces: [Range<Int>] = []
        for digits in isolate(0..<scalars.count, scalars, matcher: matchDigits) {
            for cjk in isolate(digits, scalars, matcher: matchCJK) {
                pieces += isolate(cjk, scalars, matcher: matchWords)
            }
        }
        return pieces
    }

    /// `Split(pattern, Isolated)` over one piece: matches and the gaps between them.
    static func isolate(
        _ piece: Range<Int>, _ s: [Unicode.Scalar], matcher: (Int, Range<Int>, [Unicode.Scalar]) -> Int?
    ) -> [Range<Int>] {
        var result: [Range<Int>] = []
        var gapStart = piece.lowerBound
        var position = piece.lowerBound
        while position < piece.upperBound {
            if let end = matcher(position, piece, s) {
                if gapStart < position { result.append(gapStart..<position) }
                result.append(position..<end)
                position = end
                gapStart = end
            } else {
                position += 1
            }
        }
        if gapStart < piece.upperBound { result.append(gapStart..<piece.upperBound) }
        return result
    }

    // MARK: - Character classes (Unicode general categories, as Oniguruma defines \p{..} and \s)

    /// Class bits of the 128 ASCII scalars, precomputed from the same Unicode properties.
    static let asciiClasses: [UInt8] = (0..<128).map { value in
        let c = Unicode.Scalar(UInt8(value))
        return (slowIsLetter(c) ? 1 : 0) | (slowIsMark(c) ? 2 : 0) | (slowIsPunctuationOrSymbol(c) ? 4 : 0)
            | (slowIsNumber(c) ? 8 : 0) | (c.properties.isWhitespace ? 16 : 0)
    }
    @inline(__always) static func isLetter(_ c: Unicode.Scalar) -> Bool { c.value < 128 ? asciiClasses[Int(c.value)] & 1 != 0 : slowIsLetter(c) }
    @inline(__always) static func isMark(_ c: Unicode.Scalar) -> Bool { c.value < 128 ? asciiClasses[Int(c.value)] & 2 != 0 : slowIsMark(c) }
    @inline(__always) static func isPunctuationOrSymbol(_ c: Unicode.Scalar) -> Bool {
        c.value < 128 ? asciiClasses[Int(c.value)] & 4 != 0 : slowIsPunctuationOrSymbol(c)
    }
    @inline(__always) static func isNumber(_ c: Unicode.Scalar) -> Bool { c.value < 128 ? asciiClasses[Int(c.value)] & 8 != 0 : slowIsNumber(c) }
    @inline(__always) static func isSpace(_ c: Unicode.Scalar) -> Bool { c.value < 128 ? asciiClasses[Int(c.value)] & 16 != 0 : c.properties.isWhitespace }

    static func slowIsLetter(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: true
        default: false
        }
    }
    static func slowIsMark(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: true
        default: false
        }
    }
    static func slowIsPunctuationOrSymbol(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
            .finalPunctuation, .otherPunctuation, .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            true
        default: false
        }
    }
    static func slowIsNumber(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: true
        default: false
        }
    }
    @inline(__always) static func isNewline(_ c: Unicode.Scalar) -> Bool { c == "\r" || c == "\n" }
    @inline(__always) static func isASCIILetter(_ c: Unicode.Scalar) -> Bool {
        (c.value >= 0x41 && c.value <= 0x5A) || (c.value >= 0x61 && c.value <= 0x7A)
    }
    @inline(__always) static func isASCIIPunctuation(_ c: Unicode.Scalar) -> Bool {
        // ! " # $ % & ' ( ) * + , - . / : ; < = > ? @ [ \ ] ^ _ ` { | } ~
        (c.value >= 0x21 && c.value <= 0x2F) || (c.value >= 0x3A && c.value <= 0x40)
            || (c.value >= 0x5B && c.value <= 0x60) || (c.value >= 0x7B && c.value <= 0x7E)
    }
    @inline(__always) static func isCJK(_ c: Unicode.Scalar) -> Bool {
        (c.value >= 0x4E00 && c.value <= 0x9FA5) || (c.value >= 0x3040 && c.value <= 0x309F)
            || (c.value >= 0x30A0 && c.value <= 0x30FF)
    }

    // MARK: - Matchers: the end of the match starting at `p`, or nil

    static func matchDigits(_ p: Int, _ piece: Range<Int>, _ s: [Unicode.Scalar]) -> Int? {
        guard isNumber(s[p]) else { return nil }
        var end = p + 1
        while end < piece.upperBound && end - p < 3 && isNumber(s[end]) { end += 1 }
        return end
    }

    static func matchCJK(_ p: Int, _ piece: Range<Int>, _ s: [Unicode.Scalar]) -> Int? {
        guard isCJK(s[p]) else { return nil }
        var end = p + 1
        while end < piece.upperBound && isCJK(s[end]) { end += 1 }
        return end
    }

    static func matchWords(_ p: Int, _ piece: Range<Int>, _ s: [Unicode.Scalar]) -> Int? {
        let n = piece.upperBound
        let c = s[p]
        func run(from start: Int, while predicate: (Unicode.Scalar) -> Bool) -> Int {
            var end = start
            while end < n && predicate(s[end]) { end += 1 }
            return end
        }
        let isLetterOrMark = { (x: Unicode.Scalar) in isLetter(x) || isMark(x) }
        // 1. [ASCII punctuation][A-Za-z]+
        if isASCIIPunctuation(c) && p + 1 < n && isASCIILetter(s[p + 1]) {
            return run(from: p + 1, while: isASCIILetter)
        }
        // 2. [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+  (the optional prefix is tried first)
        if !isNewline(c) && !isLetter(c) && !isPunctuationOrSymbol(c) && p + 1 < n && isLetterOrMark(s[p + 1]) {
            return run(from: p + 1, while: isLetterOrMark)
        }
        if isLetterOrMark(c) { return run(from: p, while: isLetterOrMark) }
        // 3. ␠?[\p{P}\p{S}]+[\r\n]*
        var start = p
        if c == " " && p + 1 < n && isPunctuationOrSymbol(s[p + 1]) { start = p + 1 }
        if isPunctuationOrSymbol(s[start]) {
            let symbols = run(from: start, while: isPunctuationOrSymbol)
            return run(from: symbols, while: isNewline)
        }
        guard isSpace(c) else { return nil }
        let spaces = run(from: p, while: isSpace)
        // 4. \s*[\r\n]+: greedy \s* backs off to the last newline of the whitespace run.
        if let lastNewline = (p..<spaces).last(where: { isNewline(s[$0]) }) { return lastNewline + 1 }
        // 5. \s+(?!\S): the whole run at the end of the piece, else all but its last character.
        if spaces == n { return spaces }
        if spaces - p >= 2 { return spaces - 1 }
        // 6. \s+
        return spaces
    }
}
