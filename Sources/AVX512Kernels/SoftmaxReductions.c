#include "AVX512Kernels.h"

#include <math.h>

// The same operations, in the same order and with the same roundings, as QuantKernels'
// SoftmaxKernels (Sources/QuantKernels/SoftmaxKernels.swift, whose comments give the method):
// eight f64 lanes in one register instead of two, so the results are identical bits (tested).
// Swift never fuses a multiply and an add; neither may this file.
#pragma clang fp contract(off)

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512_TARGET __attribute__((target("avx512f")))

int moepack_avx512_softmax_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}

// VectorExp.exp (QuantKernels/SoftmaxKernels.swift): Cody–Waite reduction, the Taylor series to
// r^13/13! in Horner form, 2^n from its bit pattern; lanes outside [-708, 709] and NaN lanes take
// the C library's exp. Written as macros over numbered vectors (x0 → e0, x1 → e1, ...) so that
// one definition serves a single vector and the eight-at-a-time loops.

/// The C library's exp for the lanes of `x` outside `inRange`. Out of line and rare in a row of
/// logits: a call inside a loop would make the compiler keep the loop's vectors in memory.
AVX512_TARGET __attribute__((noinline)) static __m512d exp_library_lanes(__m512d x, __m512d result, __mmask8 inRange) {
    double lanes[8], inputs[8];
    _mm512_storeu_pd(lanes, result);
    _mm512_storeu_pd(inputs, x);
    for (int lane = 0; lane < 8; lane++) {
        if (!((inRange >> lane) & 1)) lanes[lane] = exp(inputs[lane]);
    }
    return _mm512_loadu_pd(lanes);
}

/// x_k = n·ln2 + r_k (ln2 in a high and a low part), the polynomial started at 1/13!.
#define EXP_REDUCE(k) \
    __mmask8 inRange##k = _mm512_cmp_pd_mask(x##k, _mm512_set1_pd(-708), _CMP_GE_OQ) & _mm512_cmp_pd_mask(x##k, _mm512_set1_pd(709), _CMP_LE_OQ); \
    __m512d y##k = _mm512_maskz_mov_pd(inRange##k, x##k); \
    __m512d shifted##k = _mm512_add_pd(_mm512_mul_pd(y##k, _mm512_set1_pd(1.44269504088896338700e+00)), _mm512_set1_pd(0x1.8p52)); \
    __m512d n##k = _mm512_sub_pd(shifted##k, _mm512_set1_pd(0x1.8p52)); \
    __m512d r##k = _mm512_sub_pd( \
        _mm512_sub_pd(y##k, _mm512_mul_pd(n##k, _mm512_set1_pd(6.93147180369123816490e-01))), _mm512_mul_pd(n##k, _mm512_set1_pd(1.90821492927058770002e-10))); \
    __m512d p##k = _mm512_set1_pd(1.6059043836821613e-10)

/// One Horner step p_k = p_k·r_k + c.
#define EXP_STEP(k, c) p##k = _mm512_add_pd(_mm512_mul_pd(p##k, r##k), _mm512_set1_pd(c))

/// The Horner steps after 1/13!, down to the constant term: STEP(c) for each coefficient.
#define EXP_TAYLOR_STEPS(STEP) \
    STEP(2.08767569878681e-09) STEP(2.505210838544172e-08) STEP(2.755731922398589e-07) \
    STEP(2.7557319223985893e-06) STEP(2.48015873015873e-05) STEP(0.0001984126984126984) \
    STEP(0.001388888888888889) STEP(0.008333333333333333) STEP(0.041666666666666664) \
    STEP(0.16666666666666666) STEP(0.5) STEP(1.0) STEP(1.0)

/// e_k = p_k · 2^n, with the library's lanes where x_k was out of range.
#define EXP_SCALE(k) \
    e##k = _mm512_mul_pd(p##k, _mm512_castsi512_pd(_mm512_slli_epi64(_mm512_add_epi64(_mm512_castpd_si512(shifted##k), _mm512_set1_epi64(1023)), 52))); \
    if (__builtin_expect(inRange##k != 0xFF, 0)) e##k = exp_library_lanes(x##k, e##k, inRange##k)

#define EXP_STEP_ONE(c) EXP_STEP(0, c);

AVX512_TARGET static inline __m512d vector_exp(__m512d x0) {
    __m512d e0;
    EXP_REDUCE(0);
    EXP_TAYLOR_STEPS(EXP_STEP_ONE)
    EXP_SCALE(0);
    return e0;
}

/// Each step applied to all eight vectors before the next, so eight independent chains are in
/// flight (one step's multiply and add take ~5 cycles; the pipes take two of each per cycle). The
/// empty asm after each step keeps them interleaved: without it the compiler's scheduler (tuned
/// for no CPU in particular) puts each chain's operations back together, the core's FP scheduler
/// fills with operations waiting on one chain, and the loop runs 2x slower. Every lane's
/// operations are vector_exp's: the same bits.
#define EXP_STEP_EIGHT(c) \
    EXP_STEP(0, c); EXP_STEP(1, c); EXP_STEP(2, c); EXP_STEP(3, c); EXP_STEP(4, c); EXP_STEP(5, c); EXP_STEP(6, c); EXP_STEP(7, c); \
    __asm__("" : "+v"(p0), "+v"(p1), "+v"(p2), "+v"(p3), "+v"(p4), "+v"(p5), "+v"(p6), "+v"(p7));

/// e0...e7 = exp(x0...x7).
#define VECTOR_EXP8() do { \
    EXP_REDUCE(0); EXP_REDUCE(1); EXP_REDUCE(2); EXP_REDUCE(3); EXP_REDUCE(4); EXP_REDUCE(5); EXP_REDUCE(6); EXP_REDUCE(7); \
    EXP_TAYLOR_STEPS(EXP_STEP_EIGHT) \
    EXP_SCALE(0); EXP_SCALE(1); EXP_SCALE(2); EXP_SCALE(3); EXP_SCALE(4); EXP_SCALE(5); EXP_SCALE(6); EXP_SCALE(7); \
} while (0)

/// Lanes 0 to 7 added in order, as the Swift loop `for l in 0..<8 { sum += sums[l] }`.
AVX512_TARGET static double add_lanes_in_order(__m512d sums) {
    double lanes[8];
    _mm512_storeu_pd(lanes, sums);
    double sum = 0;
    for (int l = 0; l < 8; l++) sum += lanes[l];
    return sum;
}

AVX512_TARGET double moepack_avx512_log_sum_exp(const float *x, long count) {
    // The lane maximum `v > m ? v : m` is MAXPS(v, m): a NaN v keeps m.
    __m256 lanesMaximum = _mm256_set1_ps(-INFINITY);
    long i = 0;
    for (; i + 8 <= count; i += 8) lanesMaximum = _mm256_max_ps(_mm256_loadu_ps(x + i), lanesMaximum);
    float maxima[8];
    _mm256_storeu_ps(maxima, lanesMaximum);
    double maximum = -INFINITY;
    for (int l = 0; l < 8; l++) if ((double)maxima[l] > maximum) maximum = (double)maxima[l];
    for (long j = i; j < count; j++) if ((double)x[j] > maximum) maximum = (double)x[j];
    __m512d sums = _mm512_setzero_pd();
    const __m512d shift = _mm512_set1_pd(maximum);
    // Eight vectors' exponentials at a time, added to the sums in order: the one-vector loop's bits.
    for (i = 0; i + 64 <= count; i += 64) {
#define LOAD_SHIFTED(k) __m512d x##k = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8 * k)), shift), e##k
        LOAD_SHIFTED(0); LOAD_SHIFTED(1); LOAD_SHIFTED(2); LOAD_SHIFTED(3); LOAD_SHIFTED(4); LOAD_SHIFTED(5); LOAD_SHIFTED(6); LOAD_SHIFTED(7);
#undef LOAD_SHIFTED
        VECTOR_EXP8();
        sums = _mm512_add_pd(_mm512_add_pd(_mm512_add_pd(_mm512_add_pd(sums, e0), e1), e2), e3);
        sums = _mm512_add_pd(_mm512_add_pd(_mm512_add_pd(_mm512_add_pd(sums, e4), e5), e6), e7);
    }
    for (; i + 8 <= count; i += 8) sums = _mm512_add_pd(sums, vector_exp(_mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i)), shift)));
    double sum = add_lanes_in_order(sums);
    for (long j = i; j < count; j++) sum += exp((double)x[j] - maximum);
    return maximum + log(sum);
}

AVX512_TARGET double moepack_avx512_kl_divergence(const float *base, const double *model, long count) {
    __m512d sums = _mm512_setzero_pd();
    long i = 0;
    for (; i + 64 <= count; i += 64) {
#define LOAD_BASE(k) __m512d x##k = _mm512_cvtps_pd(_mm256_loadu_ps(base + i + 8 * k)), e##k
        LOAD_BASE(0); LOAD_BASE(1); LOAD_BASE(2); LOAD_BASE(3); LOAD_BASE(4); LOAD_BASE(5); LOAD_BASE(6); LOAD_BASE(7);
#undef LOAD_BASE
        VECTOR_EXP8();
#define ADD_TERM(k) sums = _mm512_add_pd(sums, _mm512_mul_pd(e##k, _mm512_sub_pd(x##k, _mm512_loadu_pd(model + i + 8 * k))))
        ADD_TERM(0); ADD_TERM(1); ADD_TERM(2); ADD_TERM(3); ADD_TERM(4); ADD_TERM(5); ADD_TERM(6); ADD_TERM(7);
#undef ADD_TERM
    }
    for (; i + 8 <= count; i += 8) {
        __m512d lb = _mm512_cvtps_pd(_mm256_loadu_ps(base + i));
        __m512d lm = _mm512_loadu_pd(model + i);
        sums = _mm512_add_pd(sums, _mm512_mul_pd(vector_exp(lb), _mm512_sub_pd(lb, lm)));
    }
    double sum = add_lanes_in_order(sums);
    for (long j = i; j < count; j++) sum += exp((double)base[j]) * ((double)base[j] - model[j]);
    return sum;
}

#else

int moepack_avx512_softmax_supported(void) { return 0; }
double moepack_avx512_log_sum_exp(const float *x, long count) {
    (void)x; (void)count;
    __builtin_trap();
}
double moepack_avx512_kl_divergence(const float *base, const double *model, long count) {
    (void)base; (void)model; (void)count;
    __builtin_trap();
}

#endif
