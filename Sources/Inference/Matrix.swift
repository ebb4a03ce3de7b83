/// A row-major F32 matrix in one heap buffer, shared by reference across worker threads. Threads
/// write disjoint rows or columns only, which is what makes the engine's results independent of
/// how the work is split.
public final class Matrix: @unchecked Sendable {
    public let rows: Int
    public let columns: Int
    public let pointer: UnsafeMutablePointer<Float>

    public init(rows: Int, columns: Int) {
        self.rows = rows
        self.columns = columns
        pointer = .allocate(capacity: Swift.max(1, rows * columns))
        pointer.initialize(repeating: 0, count: Swift.max(1, rows * columns))
    }

    deinit { pointer.deallocate() }

    public var count: Int { rows * columns }

    @inline(__always)
    public func row(_ index: Int) -> UnsafeMutablePointer<Float> { pointer + index * columns }

    public func zero() { pointer.update(repeating: 0, count: count) }

    /// `self += other`, element by element (the residual connection).
    func add(_ other: Matrix) {
        precondition(other.count == count)
        let d = other.pointer, r = pointer
        for i in 0..<count { r[i] += d[i] }
    }

    /// The values as an array (tests and reports).
    public var values: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}
