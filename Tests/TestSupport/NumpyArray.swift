import Foundation

/// A float64 or float32 little-endian C-order `.npy` file (the format `numpy.save` writes,
/// `numpy/lib/format.py`), read as Doubles: how oracle scripts hand arrays back to the tests.
public struct NumpyArray {
    public var shape: [Int]
    public var values: [Double]

    public init(path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let bytes = [UInt8](data)
        guard bytes.count > 10, bytes[0] == 0x93, String(decoding: bytes[1..<6], as: UTF8.self) == "NUMPY" else {
            throw TestSupport.OracleError(description: "\(path): not a .npy file")
        }
        let major = bytes[6]
        let headerLength = major == 1 ? Int(bytes[8]) | Int(bytes[9]) << 8 : Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        let headerStart = major == 1 ? 10 : 12
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        guard header.contains("'fortran_order': False") else { throw TestSupport.OracleError(description: "\(path): Fortran order") }
        let shapeText = header.components(separatedBy: "'shape': (")[1].components(separatedBy: ")")[0]
        shape = shapeText.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let count = shape.reduce(1, *)
        let body = headerStart + headerLength
        if header.contains("'<f8'") {
            values = (0..<count).map { i in
                var bits: UInt64 = 0
                for b in 0..<8 { bits |= UInt64(bytes[body + i * 8 + b]) << (8 * b) }
                return Double(bitPattern: bits)
            }
        } else if header.contains("'<f4'") {
            values = (0..<count).map { i in
                var bits: UInt32 = 0
                for b in 0..<4 { bits |= UInt32(bytes[body + i * 4 + b]) << (8 * b) }
                return Double(Float(bitPattern: bits))
            }
        } else {
            throw TestSupport.OracleError(description: "\(path): only <f8 and <f4 arrays are read")
        }
    }
}
