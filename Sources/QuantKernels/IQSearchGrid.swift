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
/// - `columns`: the same lists transposed for the searches, eight entries per chunk: chunk c of u's
///   list (from `chunkStart[u]`) holds `fields` byte lanes, lane t of column i being level `2l + 1`
///   of coordinate i of entry 8c + t (lanes past the list's end repeat its last entry).
///
/// Built once per process and never freed (as IQKernels' lane tables), and read through unchecked
/// pointers: the searches run in the quantizers that QuantKernels compiles once per SIMD level, so
/// every access here is `@inlinable` and inlined into each level's build.
public struct IQSearchGrid {
    @usableFromInline let points: UnsafePointer<Int8>
    @usableFromInline let map: UnsafePointer<Int32>
    @usableFromInline let neighbours: UnsafePointer<UInt16>
    /// The points as float lanes (8 fields fill SIMD8, 4 fields the low half), for short lists.
    @usableFromInline let pointLanes: UnsafePointer<FloatLanes>
    @usableFromInline let columns: UnsafePointer<SIMD8<UInt8>>
    @usableFromInline let chunkStart: UnsafePointer<Int32>
    @usableFromInline let fields: Int
    @usableFromInline let fieldBits: Int

    init(index kgrid: [UInt16], fieldBits: Int, fields: Int, mapSize: Int, nwant: Int) {
        let count = kgrid.count
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
        var columns: [SIMD8<UInt8>] = []
        var chunkStart = [Int32](repeating: -1, count: mapSize)
        for u in 0..<mapSize where map[u] < 0 {
            let list = Int(-map[u] - 1), n = Int(neighbours[list])
            chunkStart[u] = Int32(columns.count)
            for chunk in stride(from: 0, to: n, by: 8) {
                for i in 0..<fields {
                    var column = SIMD8<UInt8>()
                    for t in 0..<8 {
                        let entry = Int(neighbours[list + 1 + Swift.min(chunk + t, n - 1)])
                        column[t] = UInt8(points[fields * entry + i])
                    }
                    columns.append(column)
                }
            }
        }
        self.points = permanent(points)
        self.map = permanent(map)
        self.neighbours = permanent(neighbours)
        self.pointLanes = permanent((0..<count).map { k in
            var v = FloatLanes()
            for i in 0..<fields { v[i] = Float(points[fields * k + i]) }
            return v
        })
        self.columns = permanent(columns)
        self.chunkStart = permanent(chunkStart)
    }

    /// `kgrid_2bit_256`, two distances (nwant 2).
    @usableFromInline nonisolated(unsafe) static let iq2xxs = IQSearchGrid(index: iq2xxsGridIndex, fieldBits: 2, fields: 8, mapSize: 43692, nwant: 2)
    /// `kgrid_2bit_512`, nwant 2.
    @usableFromInline nonisolated(unsafe) static let iq2xs = IQSearchGrid(index: iq2xsGridIndex, fieldBits: 2, fields: 8, mapSize: 43692, nwant: 2)
    /// `kgrid_2bit_1024`, nwant 1.
    @usableFromInline nonisolated(unsafe) static let iq2s = IQSearchGrid(index: iq2sGridIndex, fieldBits: 2, fields: 8, mapSize: 43692, nwant: 1)
    /// `kgrid_1bit_2048` (IQ1_S and IQ1_M), nwant 3.
    @usableFromInline nonisolated(unsafe) static let iq1s = IQSearchGrid(index: iq1sGridIndex, fieldBits: 2, fields: 8, mapSize: 43692, nwant: 3)
    /// `kgrid_256` of `iq3xs_init_impl(256)`, nwant 2.
    @usableFromInline nonisolated(unsafe) static let iq3xxs = IQSearchGrid(index: iq3xxsGridIndex, fieldBits: 3, fields: 4, mapSize: 4096, nwant: 2)
    /// `kgrid_512` of `iq3xs_init_impl(512)`, nwant 3.
    @usableFromInline nonisolated(unsafe) static let iq3s = IQSearchGrid(index: iq3sGridIndex, fieldBits: 3, fields: 4, mapSize: 4096, nwant: 3)

    /// Packs `fields` levels starting at `L`.
    @inlinable @inline(__always)
    func pack(_ L: UnsafePointer<UInt8>) -> Int {
        // The two shapes spelled out, so the shifts are constants (a loop over the stored `fields`
        // and `fieldBits` was 6% of IQ2_S's time).
        if fields == 8 {
            precondition(fieldBits == 2)
            var u = 0
            for i in 0..<8 { u |= Int(L[i]) << (2 * i) }
            return u
        }
        precondition(fields == 4 && fieldBits == 3)
        var u = 0
        for i in 0..<4 { u |= Int(L[i]) << (3 * i) }
        return u
    }

    /// `iq2_find_best_neighbour` / `iq3_find_best_neighbour`: among u's neighbours, the grid point
    /// minimizing Σ w·(scale·q − x)²; writes its levels `(q − 1)/2` to `L`. Generic over `Half`
    /// (unused) so that an out-of-line copy is one per SIMD level, as `iq1BestNeighbour`.
    @inlinable @inline(__always)
    func bestNeighbour<Half: HalfFloatConversion>(
        _ u: Int, _ xval: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, _ scale: Float, _ L: UnsafeMutablePointer<UInt8>,
        half: Half.Type
    ) -> Int {
        let index = nearest(u, xval, weight, scale, offset: nil, half: Half.self)
        levels(index, into: L)
        return index
    }

    /// The grid index in u's neighbour list minimizing Σ w_i·(scale·q_i − x_i)², first on ties (the C
    /// loops' strict `<`), with q the entry's levels `2l + 1`, or with `offset` IQ1's ternary levels
    /// (2l + 1 − 3)/2 + offset (exact in F32). The C code asserts a winner; with finite inputs one
    /// always exists (the first stands in otherwise).
    ///
    /// Lists of more than eight 8-level entries (most of IQ1's and IQ2_XS's, many of IQ2_XXS's) go
    /// eight entries at a time, one per lane, from the transposed `columns`: each lane computes
    /// `w·diff·diff` per coordinate as the C loop does and adds them in its order (0 + t0 + t1 + …),
    /// with no horizontal sums and no shuffles. Only a chunk where some lane beats the best so far
    /// is then walked lane by lane with the C comparison, so the winner is the C loop's. Shorter
    /// lists (and IQ3's 4-level points) go one entry at a time: the products in lanes, the sum in
    /// the C order; the chunks measured slower there.
    @inlinable @inline(__always)
    func nearest<Half: HalfFloatConversion>(
        _ u: Int, _ xval: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, _ scale: Float, offset: Float?, half: Half.Type
    ) -> Int {
        let list = neighbours + Int(-map[u] - 1)
        let n = Int(list[0])
        var best = Float.greatestFiniteMagnitude
        var index = Int(list[1])
        if fields == 8 && n > 8 {
            var column = columns + Int(chunkStart[u])
            @inline(__always) func term(_ i: Int) -> FloatLanes {
                var q = FloatLanes(IntLanes(truncatingIfNeeded: column[i]))
                if let offset { q = (q - 3) * 0.5 + offset }
                let diff = scale * q - xval[i]
                return weight[i] * diff * diff
            }
            var j = 0
            while j < n {
                var sums = FloatLanes() + term(0)
                for i in 1..<8 { sums += term(i) }
                if any(sums .< FloatLanes(repeating: best)) {
                    for t in 0..<Swift.min(8, n - j) where sums[t] < best {
                        best = sums[t]
                        index = Int(list[1 + j + t])
                    }
                }
                column += 8
                j += 8
            }
            return index
        }
        let x: FloatLanes, w: FloatLanes
        if fields == 8 {
            x = UnsafeRawPointer(xval).loadUnaligned(as: FloatLanes.self)
            w = UnsafeRawPointer(weight).loadUnaligned(as: FloatLanes.self)
        } else {
            x = FloatLanes(lowHalf: UnsafeRawPointer(xval).loadUnaligned(as: SIMD4<Float>.self), highHalf: SIMD4())
            w = FloatLanes(lowHalf: UnsafeRawPointer(weight).loadUnaligned(as: SIMD4<Float>.self), highHalf: SIMD4())
        }
        let s = FloatLanes(repeating: scale)
        for j in 1...n {
            var q = pointLanes[Int(list[j])]
            if let offset { q = (q - 3) * 0.5 + offset }
            let diff = s * q - x
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
        return index
    }

    /// One group's levels at the inverse scale `id`: each value's nearest level `(id·x − 1)/2` in
    /// `[0, kMaxQ)`, moved to u's best neighbour at `scale` when that point is off the grid, written
    /// to `L`; true when the nearest levels were on the grid. The step the IQ2/IQ3 quantizers take
    /// for every group, at each trial scale and in the final refit (the C loops' inner bodies).
    @inlinable @inline(__always)
    func roundToGrid<Half: HalfFloatConversion>(
        _ xval: UnsafePointer<Float>, _ waux: UnsafePointer<Float>, id: Float, scale: Float, kMaxQ: Int32,
        into L: UnsafeMutablePointer<UInt8>, half: Half.Type
    ) -> Bool {
        @inline(__always) func level(_ i: Int) {
            L[i] = UInt8(Swift.max(0, Swift.min(kMaxQ - 1, nearestInt(0.5 * (id * xval[i] - 1)))))
        }
        // Constant trip counts, as in `pack`.
        if fields == 8 { for i in 0..<8 { level(i) } } else { for i in 0..<4 { level(i) } }
        let u = pack(L)
        if map[u] >= 0 { return true }
        _ = bestNeighbour(u, xval, waux, scale, L, half: Half.self)
        return false
    }

    /// Writes grid entry `index`'s levels `(q − 1)/2` to `L`.
    @inlinable @inline(__always)
    func levels(_ index: Int, into L: UnsafeMutablePointer<UInt8>) {
        let pg = points + fields * index
        for i in 0..<fields { L[i] = UInt8((pg[i] - 1) / 2) }
    }
}

/// `Σ w·x·q` and `Σ w·q²` over `count` weights with the odd levels `q = 2l + 1` of the IQ2/IQ3
/// grids, added in the C loops' order: the trial and final scale fits of their quantizers.
@inlinable @inline(__always)
func oddLevelSums(
    _ weight: UnsafePointer<Float>, _ xval: UnsafePointer<Float>, _ levels: UnsafePointer<UInt8>, count: Int
) -> (sumqx: Float, sumq2: Float) {
    var sumqx: Float = 0, sumq2: Float = 0
    for i in 0..<count {
        let w = weight[i]
        let q = Float(2 * Int32(levels[i]) + 1)
        sumqx += w * xval[i] * q
        sumq2 += w * q * q
    }
    return (sumqx, sumq2)
}

/// C's `MAX(a, b)`: `a > b ? a : b` (Swift.max differs only in which zero it returns).
@inlinable @inline(__always)
func cMax(_ a: Float, _ b: Float) -> Float { a > b ? a : b }

/// The sign split of the IQ2/IQ3 quantizers for 8 weights: `xval = |x|` (x ≥ 0 keeps x, so −0 stays
/// −0), sign bit i set for negative x_i. With `evenFlips` (IQ2_XXS, IQ2_XS, IQ3_XXS store 7 sign bits,
/// the 8th is the parity) an odd count flips back the weight with the smallest w·x², whose value then
/// goes in negative. Returns the sign byte (`& 127` with `evenFlips`).
@inlinable @inline(__always)
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

/// `values` copied to memory that lives as long as the process (the grids are built once).
func permanent<T>(_ values: [T]) -> UnsafePointer<T> {
    let copy = UnsafeMutablePointer<T>.allocate(capacity: values.count)
    copy.initialize(from: values, count: values.count)
    return UnsafePointer(copy)
}

/// Scratch floats and bytes for one row's IQ quantization, zeroed.
@inlinable @inline(__always)
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
@inlinable @inline(__always)
func withImportanceOrOnes<R>(_ importance: UnsafePointer<Float>?, count: Int, _ body: (UnsafePointer<Float>) -> R) -> R {
    if let importance { return body(importance) }
    return withUnsafeTemporaryAllocation(of: Float.self, capacity: count) { ones in
        ones.initialize(repeating: 1)
        return body(UnsafePointer(ones.baseAddress!))
    }
}
