/// Size arithmetic on values read from files: nil instead of a trap when a product or a sum
/// overflows `Int`, so a parser can turn it into the usual one-line error.
package enum CheckedArithmetic {
    package static func product(_ factors: Int...) -> Int? {
        var result = 1
        for factor in factors {
            let (value, overflow) = result.multipliedReportingOverflow(by: factor)
            if overflow { return nil }
            result = value
        }
        return result
    }

    /// nil when any term is nil (an overflow further in) or the sum overflows.
    package static func sum(_ terms: Int?...) -> Int? {
        var result = 0
        for term in terms {
            guard let term else { return nil }
            let (value, overflow) = result.addingReportingOverflow(term)
            if overflow { return nil }
            result = value
        }
        return result
    }
}
