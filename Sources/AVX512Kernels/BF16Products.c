#include "AVX512Kernels.h"

#include <stdlib.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))

int moepack_bf16_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512bf16");
}

static long pairs_of(long columns) { return (columns + 1) / 2; }

/// The first `count` of 16 lanes (none for count ≤ 0, all for count ≥ 16).
static inline __mmask16 first_lanes(long count) {
    return (__mmask16)(count >= 16 ? 0xFFFF : count <= 0 ? 0 : (1u << count) - 1);
}

/// One row of f32 as pair words: 32 values per step, the tail through masked (zero-filling) loads,
/// so an odd column count leaves the last pair's high half zero.
BF16_TARGET static void pack_row(const float *source, long columns, uint32_t *destination) {
    long c = 0;
    for (; c + 32 <= columns; c += 32) {
        __m512 low = _mm512_loadu_ps(source + c), high = _mm512_loadu_ps(source + c + 16);
        // cvtne2ps_pbh(a, b): elements 0-15 from b, 16-31 from a; so (high, low) keeps the order.
        _mm512_storeu_si512(destination + c / 2, (__m512i)_mm512_cvtne2ps_pbh(high, low));
    }
    if (c < columns) {
        long left = columns - c;
        __m512 low = _mm512_maskz_loadu_ps(first_lanes(left), source + c);
        __m512 high = _mm512_maskz_loadu_ps(first_lanes(left - 16), source + c + 16);
        __m512i packed = (__m512i)_mm512_cvtne2ps_pbh(high, low);
        long words = (left + 1) / 2;
        _mm512_mask_storeu_epi32(destination + c / 2, first_lanes(words), packed);
    }
}

BF16_TARGET void moepack_bf16_pack_rows(const float *source, long rows, long columns, long stride, uint32_t *destination) {
    long pairs = pairs_of(columns);
    for (long r = 0; r < rows; r++) pack_row(source + r * stride, columns, destination + r * pairs);
}

BF16_TARGET void moepack_bf16_pack_panels(const float *source, long rows, long columns, long stride, uint32_t *destination) {
    long pairs = pairs_of(columns);
    // One row's pairs at a time, then spread with a stride of 32 words. The row buffer is on the
    // stack for rows of up to 16K values (R1's widest is 18,432: heap above 8K pairs).
    uint32_t stackRow[8192];
    uint32_t *row = pairs <= 8192 ? stackRow : (uint32_t *)aligned_alloc(64, (size_t)((pairs * 4 + 63) / 64 * 64));
    for (long panel = 0; panel * MOEPACK_BF16_PANEL_ROWS < rows; panel++) {
        uint32_t *out = destination + panel * MOEPACK_BF16_PANEL_ROWS * pairs;
        for (int i = 0; i < MOEPACK_BF16_PANEL_ROWS; i++) {
            long r = panel * MOEPACK_BF16_PANEL_ROWS + i;
            if (r < rows) {
                pack_row(source + r * stride, columns, row);
                for (long p = 0; p < pairs; p++) out[p * MOEPACK_BF16_PANEL_ROWS + i] = row[p];
            } else {
                for (long p = 0; p < pairs; p++) out[p * MOEPACK_BF16_PANEL_ROWS + i] = 0;
            }
        }
    }
    if (row != stackRow) free(row);
}

BF16_TARGET void moepack_bf16_pack_transposed_panels(const float *source, long rows, long columns, long stride, uint32_t *destination) {
    // W = sourceᵀ has `columns` rows of `rows` values: W's pair p of panel j is, for i < 32, the
    // values of source rows 2p and 2p+1 at column 32j+i. Sixteen of each are rounded by one
    // cvtne2ps_pbh (row 2p's in elements 0-15, row 2p+1's in 16-31) and interleaved into pairs.
    long pairs = pairs_of(rows);
    const __m512i interleave = _mm512_set_epi16(
        31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    for (long panel = 0; panel * MOEPACK_BF16_PANEL_ROWS < columns; panel++) {
        long first = panel * MOEPACK_BF16_PANEL_ROWS;
        uint32_t *out = destination + first * pairs;
        for (long p = 0; p < pairs; p++) {
            const float *even = source + 2 * p * stride + first, *odd = even + stride;
            for (int half = 0; half < 2; half++) {
                // Columns past the end are W's padding rows: zero, as pack_panels writes them.
                __mmask16 lanes = first_lanes(columns - first - 16 * half);
                __m512 low = _mm512_maskz_loadu_ps(lanes, even + 16 * half);
                __m512 high = 2 * p + 1 < rows ? _mm512_maskz_loadu_ps(lanes, odd + 16 * half) : _mm512_setzero_ps();
                __m512i packed = (__m512i)_mm512_cvtne2ps_pbh(high, low);
                _mm512_storeu_si512(out + p * MOEPACK_BF16_PANEL_ROWS + 16 * half, _mm512_permutexvar_epi16(interleave, packed));
            }
        }
    }
}

/// Up to `MR` rows of x against one panel (32 outputs): 2·MR accumulators of 16 outputs each, one
/// VDPBF16PS per accumulator per pair. `outputs` (1-32) of the panel's columns are stored.
#define MR 8
BF16_TARGET static inline __attribute__((always_inline)) void panel_tile(
    int rows, long pairs, const uint32_t *x, const uint32_t *panel, float *y, long ldy, int outputs
) {
    __m512 low[MR], high[MR];
    for (int i = 0; i < MR; i++) { low[i] = _mm512_setzero_ps(); high[i] = _mm512_setzero_ps(); }
    for (long p = 0; p < pairs; p++) {
        __m512bh w0 = (__m512bh)_mm512_loadu_si512(panel + p * MOEPACK_BF16_PANEL_ROWS);
        __m512bh w1 = (__m512bh)_mm512_loadu_si512(panel + p * MOEPACK_BF16_PANEL_ROWS + 16);
        for (int i = 0; i < rows; i++) {
            __m512bh v = (__m512bh)_mm512_set1_epi32((int)x[i * pairs + p]);
            low[i] = _mm512_dpbf16_ps(low[i], v, w0);
            high[i] = _mm512_dpbf16_ps(high[i], v, w1);
        }
    }
    __mmask16 lowMask = first_lanes(outputs), highMask = first_lanes(outputs - 16);
    for (int i = 0; i < rows; i++) {
        _mm512_mask_storeu_ps(y + i * ldy, lowMask, low[i]);
        _mm512_mask_storeu_ps(y + i * ldy + 16, highMask, high[i]);
    }
}

/// `panel_tile` with a constant row count, so the compiler keeps the accumulators in registers.
BF16_TARGET static void panel_rows(int rows, long pairs, const uint32_t *x, const uint32_t *panel, float *y, long ldy, int outputs) {
    switch (rows) {
    case 8: panel_tile(8, pairs, x, panel, y, ldy, outputs); break;
    case 7: panel_tile(7, pairs, x, panel, y, ldy, outputs); break;
    case 6: panel_tile(6, pairs, x, panel, y, ldy, outputs); break;
    case 5: panel_tile(5, pairs, x, panel, y, ldy, outputs); break;
    case 4: panel_tile(4, pairs, x, panel, y, ldy, outputs); break;
    case 3: panel_tile(3, pairs, x, panel, y, ldy, outputs); break;
    case 2: panel_tile(2, pairs, x, panel, y, ldy, outputs); break;
    default: panel_tile(1, pairs, x, panel, y, ldy, outputs); break;
    }
}

BF16_TARGET void moepack_bf16_multiply(long m, long n, long columns, const uint32_t *x, const uint32_t *panels, float *y, long ldy) {
    long pairs = pairs_of(columns);
    // Panel-major: one panel (32·pairs words, 32 KB at k = 256) stays in L1/L2 while every row of x
    // passes it.
    for (long panel = 0; panel * MOEPACK_BF16_PANEL_ROWS < n; panel++) {
        long first = panel * MOEPACK_BF16_PANEL_ROWS;
        int outputs = (int)(n - first < MOEPACK_BF16_PANEL_ROWS ? n - first : MOEPACK_BF16_PANEL_ROWS);
        const uint32_t *w = panels + panel * MOEPACK_BF16_PANEL_ROWS * pairs;
        for (long i = 0; i < m; i += MR) {
            int rows = (int)(m - i < MR ? m - i : MR);
            panel_rows(rows, pairs, x + i * pairs, w, y + i * ldy + first, ldy, outputs);
        }
    }
}

#else

int moepack_bf16_supported(void) { return 0; }
void moepack_bf16_pack_rows(const float *source, long rows, long columns, long stride, uint32_t *destination) {
    (void)source; (void)rows; (void)columns; (void)stride; (void)destination;
    __builtin_trap();
}
void moepack_bf16_pack_panels(const float *source, long rows, long columns, long stride, uint32_t *destination) {
    (void)source; (void)rows; (void)columns; (void)stride; (void)destination;
    __builtin_trap();
}
void moepack_bf16_pack_transposed_panels(const float *source, long rows, long columns, long stride, uint32_t *destination) {
    (void)source; (void)rows; (void)columns; (void)stride; (void)destination;
    __builtin_trap();
}
void moepack_bf16_multiply(long m, long n, long columns, const uint32_t *x, const uint32_t *panels, float *y, long ldy) {
    (void)m; (void)n; (void)columns; (void)x; (void)panels; (void)y; (void)ldy;
    __builtin_trap();
}

#endif
