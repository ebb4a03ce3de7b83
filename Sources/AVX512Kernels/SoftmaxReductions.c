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

/// VectorExp.exp: Cody–Waite reduction, the Taylor series to r^13/13!, 2^n from its bit pattern;
/// lanes outside [-708, 709] and NaN lanes take the C library's exp.
AVX512_TARGET static inline __m512d vector_exp(__m512d x) {
    __mmask8 inRange = _mm512_cmp_pd_mask(x, _mm512_set1_pd(-708), _CMP_GE_OQ) & _mm512_cmp_pd_mask(x, _mm512_set1_pd(709), _CMP_LE_OQ);
    __m512d y = _mm512_maskz_mov_pd(inRange, x);
    const __m512d roundingShift = _mm512_set1_pd(0x1.8p52);
    __m512d shifted = _mm512_add_pd(_mm512_mul_pd(y, _mm512_set1_pd(1.44269504088896338700e+00)), roundingShift);
    __m512d n = _mm512_sub_pd(shifted, roundingShift);
    __m512d r = _mm512_sub_pd(
        _mm512_sub_pd(y, _mm512_mul_pd(n, _mm512_set1_pd(6.93147180369123816490e-01))), _mm512_mul_pd(n, _mm512_set1_pd(1.90821492927058770002e-10)));
    __m512d p = _mm512_set1_pd(1.6059043836821613e-10);
#define HORNER(c) p = _mm512_add_pd(_mm512_mul_pd(p, r), _mm512_set1_pd(c))
    HORNER(2.08767569878681e-09);
    HORNER(2.505210838544172e-08);
    HORNER(2.755731922398589e-07);
    HORNER(2.7557319223985893e-06);
    HORNER(2.48015873015873e-05);
    HORNER(0.0001984126984126984);
    HORNER(0.001388888888888889);
    HORNER(0.008333333333333333);
    HORNER(0.041666666666666664);
    HORNER(0.16666666666666666);
    HORNER(0.5);
    HORNER(1.0);
#undef HORNER
    p = _mm512_add_pd(_mm512_mul_pd(p, r), _mm512_set1_pd(1.0));
    __m512i bits = _mm512_slli_epi64(_mm512_add_epi64(_mm512_castpd_si512(shifted), _mm512_set1_epi64(1023)), 52);
    __m512d result = _mm512_mul_pd(p, _mm512_castsi512_pd(bits));
    if (inRange != 0xFF) {
        double lanes[8], inputs[8];
        _mm512_storeu_pd(lanes, result);
        _mm512_storeu_pd(inputs, x);
        for (int lane = 0; lane < 8; lane++) {
            if (!((inRange >> lane) & 1)) lanes[lane] = exp(inputs[lane]);
        }
        result = _mm512_loadu_pd(lanes);
    }
    return result;
}

/// vector_exp of four vectors, each step applied to all four before the next. One vector's 14
/// dependent multiply-adds leave the FP scheduler full of waiting operations (the loop ran at
/// ~30 cycles per vector); four independent chains in program order keep the pipes busy. Every
/// lane's operations are vector_exp's, so the results are the same bits.
AVX512_TARGET static inline void vector_exp4(const __m512d x[4], __m512d result[4]) {
    const __m512d roundingShift = _mm512_set1_pd(0x1.8p52);
    __mmask8 inRange[4];
    __m512d shifted[4], r[4], p[4];
    for (int k = 0; k < 4; k++) {
        inRange[k] = _mm512_cmp_pd_mask(x[k], _mm512_set1_pd(-708), _CMP_GE_OQ) & _mm512_cmp_pd_mask(x[k], _mm512_set1_pd(709), _CMP_LE_OQ);
        __m512d y = _mm512_maskz_mov_pd(inRange[k], x[k]);
        shifted[k] = _mm512_add_pd(_mm512_mul_pd(y, _mm512_set1_pd(1.44269504088896338700e+00)), roundingShift);
        __m512d n = _mm512_sub_pd(shifted[k], roundingShift);
        r[k] = _mm512_sub_pd(
            _mm512_sub_pd(y, _mm512_mul_pd(n, _mm512_set1_pd(6.93147180369123816490e-01))), _mm512_mul_pd(n, _mm512_set1_pd(1.90821492927058770002e-10)));
        p[k] = _mm512_set1_pd(1.6059043836821613e-10);
    }
#define HORNER4(c) for (int k = 0; k < 4; k++) p[k] = _mm512_add_pd(_mm512_mul_pd(p[k], r[k]), _mm512_set1_pd(c))
    HORNER4(2.08767569878681e-09);
    HORNER4(2.505210838544172e-08);
    HORNER4(2.755731922398589e-07);
    HORNER4(2.7557319223985893e-06);
    HORNER4(2.48015873015873e-05);
    HORNER4(0.0001984126984126984);
    HORNER4(0.001388888888888889);
    HORNER4(0.008333333333333333);
    HORNER4(0.041666666666666664);
    HORNER4(0.16666666666666666);
    HORNER4(0.5);
    HORNER4(1.0);
    HORNER4(1.0);
#undef HORNER4
    for (int k = 0; k < 4; k++) {
        __m512i bits = _mm512_slli_epi64(_mm512_add_epi64(_mm512_castpd_si512(shifted[k]), _mm512_set1_epi64(1023)), 52);
        result[k] = _mm512_mul_pd(p[k], _mm512_castsi512_pd(bits));
        if (inRange[k] != 0xFF) {
            double lanes[8], inputs[8];
            _mm512_storeu_pd(lanes, result[k]);
            _mm512_storeu_pd(inputs, x[k]);
            for (int lane = 0; lane < 8; lane++) {
                if (!((inRange[k] >> lane) & 1)) lanes[lane] = exp(inputs[lane]);
            }
            result[k] = _mm512_loadu_pd(lanes);
        }
    }
}

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
    // Four vectors' exponentials at a time, added to the sums in order: the one-vector loop's bits.
    for (i = 0; i + 32 <= count; i += 32) {
        __m512d v[4], e[4];
        for (int k = 0; k < 4; k++) v[k] = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8 * k)), shift);
        vector_exp4(v, e);
        for (int k = 0; k < 4; k++) sums = _mm512_add_pd(sums, e[k]);
    }
    for (; i + 8 <= count; i += 8) sums = _mm512_add_pd(sums, vector_exp(_mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i)), shift)));
    double sum = add_lanes_in_order(sums);
    for (long j = i; j < count; j++) sum += exp((double)x[j] - maximum);
    return maximum + log(sum);
}

AVX512_TARGET double moepack_avx512_kl_divergence(const float *base, const double *model, long count) {
    __m512d sums = _mm512_setzero_pd();
    long i = 0;
    for (; i + 32 <= count; i += 32) {
        __m512d lb[4], e[4];
        for (int k = 0; k < 4; k++) lb[k] = _mm512_cvtps_pd(_mm256_loadu_ps(base + i + 8 * k));
        vector_exp4(lb, e);
        for (int k = 0; k < 4; k++) sums = _mm512_add_pd(sums, _mm512_mul_pd(e[k], _mm512_sub_pd(lb[k], _mm512_loadu_pd(model + i + 8 * k))));
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
