import QuantKernels

/// The quantizer's side of an IQ lattice grid: what ggml's `iq2xs_init_impl` (IQ2_XXS, IQ2_XS, IQ2_S,
/// IQ1_S/IQ1_M) and `iq3xs_init_impl` (IQ3_XXS, IQ3_S) build once per grid (ggml-quants.c, llama.cpp
/// commit 0c1e570).
///
/// - `points`: grid entry k as `fields` levels `2l + 1` (l = the k-th `kgrid` entry's 2- or 3-bit fields).
/// - `map`: for every packed level vector u (l_i at bits `fieldBits·i`), the grid index when u is a
///   grid point, else `-(offset + 1)` of u's neighbour list.
/// - `neighbours`: per off-grid u, a count n and n grid indices: every grid point whose squared
///   distance to u is one of the `nwant` smallest distinct distances, ordered by (distance, index) as
///   the C `qsort` with `iq2_compare_func` orders them (a total order, so the sort's stability is moot).
final class IQSearchGrid: Sendable {
    let count: Int
    let fields: Int
    let fieldBits: Int
    let points: [Int8]
    let map: [Int32]
    let neighbours: [UInt16]
    let pointLanes: [FloatLanes]

    init(index kgrid: [UInt16], fieldBits: Int, fields: Int, mapSize: Int, nwant: Int) {
        let count = kgrid.count
        self.count = count
        self.fields = fields
        self.fieldBits = fieldBits
        let mask = (1 << fieldBits) - 1
        var points = [Int8](repeating: 0, count: count * fields)
        var map = [Int32](repeating: -1, count: mapSize)
        for k in 0..<count {
            var u = 0
            for i in 0..<fields {
                let l = (Int(kgrid[k]) >> (fieldBits * i)) & mask
                points[fields * k + i] = Int8(2 * l + 1)
                u |= l << (fieldBits * i)
            }
            map[u] = Int32(k)
        }
        var neighbours: [UInt16] = []
        points.withUnsafeBufferPointer { grid in
            var distance = [Int32](repeating: 0, count: count)
            var position = [Int32](repeating: 0, count: fields)
            for u in 0..<mapSize where map[u] < 0 {
                for i in 0..<fields { position[i] = Int32(2 * ((u >> (fieldBits * i)) & mask) + 1) }
                var smallest = [Int32](repeating: .max, count: nwant)
                for j in 0..<count {
                    var d2: Int32 = 0
                    for i in 0..<fields {
                        let diff = Int32(grid[fields * j + i]) - position[i]
                        d2 += diff * diff
                    }
                    distance[j] = d2
                    // Keep the nwant smallest distinct distances, ascending.
                    if d2 < smallest[nwant - 1] && !smallest.contains(d2) {
                        var slot = nwant - 1
                        while slot > 0 && smallest[slot - 1] > d2 {
                            smallest[slot] = smallest[slot - 1]
                            slot -= 1
                        }
                        smallest[slot] = d2
                    }
                }
                map[u] = -Int32(neighbours.count + 1)
                let start = neighbours.count
                neighbours.append(0)
                for level in smallest where level != .max {
                    for j in 0..<count where distance[j] == level { neighbours.append(UInt16(j)) }
                }
                neighbours[start] = UInt16(neighbours.count - start - 1)
            }
        }
        self.points = points
        self.map = map
        self.neighbours = neighbours
        // The points as float lanes (8 fields fill SIMD8, 4 fields the low half), for the neighbour search.
        pointLanes = (0..<count).map { k in
            var v = FloatLanes()
            for i in 0..<fields { v[i] = Float(points[fields * k + i]) }
            return v
        }
    }

    /// `kgrid_2bit_256`, two distances (nwant 2).
    static let iq2xxs = IQSearchGrid(index: iq2xxsGridIndex, fieldBits: 2, fields: 8, mapSize: 43692, nwant: 2)
    /// `kgrid_2bit_512`, nwant 2.
    static let iq2xs = IQSearchGrid(index: iq2xsGridIndex, fieldBits: 2, fields: 8, mapSize: 43692, nwant: 2)
    /// `kgrid_2bit_1024`, nwant 1.
    static let iq2s = IQSearchGrid(index: iq2sGridIndex, fieldBits: 2, fields: 8, mapSize: 43692, nwant: 1)
    /// `kgrid_1bit_2048` (IQ1_S and IQ1_M), nwant 3.
    static let iq1s = IQSearchGrid(index: iq1sGridIndex, fieldBits: 2, fields: 8, mapSize: 43692, nwant: 3)
    /// `kgrid_256` of `iq3xs_init_impl(256)`, nwant 2.
    static let iq3xxs = IQSearchGrid(index: iq3xxsGridIndex, fieldBits: 3, fields: 4, mapSize: 4096, nwant: 2)
    /// `kgrid_512` of `iq3xs_init_impl(512)`, nwant 3.
    static let iq3s = IQSearchGrid(index: iq3sGridIndex, fieldBits: 3, fields: 4, mapSize: 4096, nwant: 3)

    func withView<R>(_ body: (IQSearchView) -> R) -> R {
        points.withUnsafeBufferPointer { p in
            map.withUnsafeBufferPointer { m in
                neighbours.withUnsafeBufferPointer { n in
                    pointLanes.withUnsafeBufferPointer { l in
                        body(IQSearchView(
                            points: p.baseAddress!, map: m.baseAddress!, neighbours: n.baseAddress!, pointLanes: l.baseAddress!, fields: fields,
                            fieldBits: fieldBits))
                    }
                }
            }
        }
    }
}

/// Unchecked pointers into an `IQSearchGrid`, valid inside `withView`.
struct IQSearchView {
    let points: UnsafePointer<Int8>
    let map: UnsafePointer<Int32>
    let neighbours: UnsafePointer<UInt16>
    let pointLanes: UnsafePointer<FloatLanes>
    let fields: Int
    let fieldBits: Int

    /// Packs `fields` levels starting at `L`.
    @inline(__always)
    func pack(_ L: UnsafePointer<UInt8>) -> Int {
        var u = 0
        for i in 0..<fields { u |= Int(L[i]) << (fieldBits * i) }
        return u
    }

    /// `iq2_find_best_neighbour` / `iq3_find_best_neighbour`: among u's neighbours, the grid point
    /// minimizing Σ w·(scale·q − x)²; writes its levels `(q − 1)/2` to `L`.
    @inline(__always)
    func bestNeighbour(
        _ u: Int, _ xval: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, _ scale: Float, _ L: UnsafeMutablePointer<UInt8>
    ) -> Int {
        let list = neighbours + Int(-map[u] - 1)
        var best = Float.greatestFiniteMagnitude
        // The C code asserts a winner; with finite inputs one always exists (the first stands in otherwise).
        var index = Int(list[1])
        // The per-coordinate products in lanes (element-wise, so the same roundings as the C loop), then
        // the sum in the C order.
        var x = FloatLanes(), w = FloatLanes()
        for i in 0..<fields {
            x[i] = xval[i]
            w[i] = weight[i]
        }
        let s = FloatLanes(repeating: scale)
        for j in 1...Int(list[0]) {
            let diff = s * pointLanes[Int(list[j])] - x
            let p = w * diff * diff
            var d2: Float = 0
            d2 += p[0]
            d2 += p[1]
            d2 += p[2]
            d2 += p[3]
            if fields == 8 {
                d2 += p[4]
                d2 += p[5]
                d2 += p[6]
                d2 += p[7]
            }
            if d2 < best {
                best = d2
                index = Int(list[j])
            }
        }
        let pg = points + fields * index
        for i in 0..<fields { L[i] = UInt8((pg[i] - 1) / 2) }
        return index
    }

    /// Writes grid entry `index`'s levels `(q − 1)/2` to `L`.
    @inline(__always)
    func levels(_ index: Int, into L: UnsafeMutablePointer<UInt8>) {
        let pg = points + fields * index
        for i in 0..<fields { L[i] = UInt8((pg[i] - 1) / 2) }
    }
}

/// C's `MAX(a, b)`: `a > b ? a : b` (Swift.max differs only in which zero it returns).
@inline(__always)
func cMax(_ a: Float, _ b: Float) -> Float { a > b ? a : b }

/// The sign split of the IQ2/IQ3 quantizers for 8 weights: `xval = |x|` (x ≥ 0 keeps x, so −0 stays
/// −0), sign bit i set for negative x_i. With `evenFlips` (IQ2_XXS, IQ2_XS, IQ3_XXS store 7 sign bits,
/// the 8th is the parity) an odd count flips back the weight with the smallest w·x², whose value then
/// goes in negative. Returns the sign byte (`& 127` with `evenFlips`).
@inline(__always)
func splitSigns(_ xb: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, into xval: UnsafeMutablePointer<Float>, evenFlips: Bool) -> UInt8 {
    var nflip = 0
    var s: UInt8 = 0
    for i in 0..<8 {
        if xb[i] >= 0 {
            xval[i] = xb[i]
        } else {
            xval[i] = -xb[i]
            nflip += 1
            s |= 1 << UInt8(i)
        }
    }
    guard evenFlips else { return s }
    if nflip % 2 != 0 {
        var imin = 0
        var min = weight[0] * xb[0] * xb[0]
        for i in 1..<8 {
            let ax = weight[i] * xb[i] * xb[i]
            if ax < min {
                min = ax
                imin = i
            }
        }
        xval[imin] = -xval[imin]
        s ^= 1 << UInt8(imin)
    }
    return s & 127
}

/// Scratch floats and bytes for one row's IQ quantization, zeroed.
@inline(__always)
func withIQScratch<R>(floats: Int, bytes: Int, _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<UInt8>) -> R) -> R {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: floats) { f in
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: bytes) { b in
            f.initialize(repeating: 0)
            b.initialize(repeating: 0)
            return body(f.baseAddress!, b.baseAddress!)
        }
    }
}

/// `importance`, or (for the formats whose llama.cpp quantizer asserts it has weights) ones.
@inline(__always)
func withImportanceOrOnes<R>(_ importance: UnsafePointer<Float>?, count: Int, _ body: (UnsafePointer<Float>) -> R) -> R {
    if let importance { return body(importance) }
    return withUnsafeTemporaryAllocation(of: Float.self, capacity: count) { ones in
        ones.initialize(repeating: 1)
        return body(UnsafePointer(ones.baseAddress!))
    }
}
