import Foundation

/// Foundation's JSON parser on Linux hands back `true` and `1` as `NSNumber`s that both answer
/// `is Bool`; only their classes differ. These helpers tell them apart so that a config value of
/// `1` is an integer and `true` is a boolean, never the other way round.
package enum JSONNumbers {
    private static let booleanClass: ObjectIdentifier = {
        let parsed = try? JSONSerialization.jsonObject(with: Data("[true]".utf8)) as? [Any]
        return ObjectIdentifier(type(of: parsed![0] as AnyObject))
    }()

    package static func isBoolean(_ value: Any) -> Bool {
        ObjectIdentifier(type(of: value as AnyObject)) == booleanClass
    }

    /// The value as an exact integer: rejects booleans, fractions and magnitudes beyond 2^62.
    package static func integer(_ value: Any) -> Int? {
        guard !isBoolean(value), let number = value as? NSNumber else { return nil }
        let double = number.doubleValue
        guard double.rounded() == double, abs(double) < 0x1p62 else { return nil }
        return number.intValue
    }

    package static func double(_ value: Any) -> Double? {
        guard !isBoolean(value), let number = value as? NSNumber else { return nil }
        return number.doubleValue
    }

    package static func boolean(_ value: Any) -> Bool? {
        guard isBoolean(value) else { return nil }
        return (value as? NSNumber)?.boolValue
    }
}
