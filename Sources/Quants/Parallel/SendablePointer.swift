/// Raw pointers are not `Sendable`; kernels hand disjoint slices of one buffer to several threads.
/// This wrapper is the one place that asserts the caller keeps the slices disjoint and the
/// buffer alive for the duration of the parallel loop.
public struct SendablePointer<Pointee>: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Pointee>
    public init(_ pointer: UnsafeMutablePointer<Pointee>) { self.pointer = pointer }
}

public struct SendableRawPointer: @unchecked Sendable {
    public let pointer: UnsafeRawPointer
    public init(_ pointer: UnsafeRawPointer) { self.pointer = pointer }
}

public struct SendableMutableRawPointer: @unchecked Sendable {
    public let pointer: UnsafeMutableRawPointer
    public init(_ pointer: UnsafeMutableRawPointer) { self.pointer = pointer }
}
