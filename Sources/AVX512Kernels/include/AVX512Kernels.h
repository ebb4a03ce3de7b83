#ifndef MOEPACK_AVX512_KERNELS_H
#define MOEPACK_AVX512_KERNELS_H

// Kernels compiled for AVX-512 from C. Swift has no per-function target attributes; clang's
// `__attribute__((target(...)))` compiles these functions for AVX-512 while the rest of the package
// stays baseline x86-64. On other architectures the `supported` functions return 0 and the others
// trap: callers check first.
//
//   BF16Products.c       the engine's `--precision bf16` products.
//   SoftmaxReductions.c  log-softmax's two f64 row reductions, the same bits as QuantKernels'
//                        SoftmaxKernels in half the instructions.

// BF16 matrix products for the engine's `--precision bf16` mode: y[m×n] = x[m×k] · Wᵀ with x and W
// rounded to BF16 (round to nearest even, as PyTorch's .to(torch.bfloat16)) and every product
// accumulated in f32 by AVX-512 BF16's VDPBF16PS, pair by pair along k in one fixed order.
//
// Callers check `moepack_bf16_supported()` (the CPU's flags) before calling anything else.
//
// Layouts (k is padded to an even count; a "pair" is two BF16 values in one u32, the lower index
// in the low half):
//   rows   row r of a matrix: pairs(k) u32 words, word p = (v[r][2p], v[r][2p+1]).
//   panels W's rows in panels of 32 (the last one padded with zero rows); panel j holds, for each
//          pair p, 32 words: row 32j+i's pair p at word p·32 + i. One panel is 32·pairs(k) words.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Rows per weight panel.
enum { MOEPACK_BF16_PANEL_ROWS = 32 };

/// 1 when this build has the AVX-512 BF16 kernels (x86-64) and the CPU runs them.
int moepack_bf16_supported(void);

/// `rows` rows of `columns` f32 values (row r at `source + r·stride`) as BF16 pair rows.
void moepack_bf16_pack_rows(const float *source, long rows, long columns, long stride, uint32_t *destination);

/// Rows [0, rows) of W (`columns` f32 values each, row r at `source + r·stride`) as
/// ceil(rows/32) panels.
void moepack_bf16_pack_panels(const float *source, long rows, long columns, long stride, uint32_t *destination);

/// The panels of W = sourceᵀ (`columns` rows of `rows` values) from `rows` rows of `columns` f32
/// values (row r at `source + r·stride`): the same words `moepack_bf16_pack_panels` makes of the
/// transposed matrix, without writing it (the right operand of P·c in BF16 attention).
void moepack_bf16_pack_transposed_panels(const float *source, long rows, long columns, long stride, uint32_t *destination);

/// y[m×n] = x · Wᵀ: `x` m pair rows of `columns` values, `panels` the panels holding W's rows
/// [0, n) (n need not be a multiple of 32), y row i at `y + i·ldy`. Each y element is the same
/// sequence of operations whatever m and n are, so results do not depend on how work is split.
void moepack_bf16_multiply(long m, long n, long columns, const uint32_t *x, const uint32_t *panels, float *y, long ldy);

/// 1 when this build has the AVX-512 softmax reductions (x86-64) and the CPU runs them (AVX-512 F).
int moepack_avx512_softmax_supported(void);

/// `log Σ exp(x)` of `count` f32 values in f64, bit for bit QuantKernels' `SoftmaxKernels.logSumExp`.
double moepack_avx512_log_sum_exp(const float *x, long count);

/// `Σ exp(b) · (b − m)` in f64, bit for bit QuantKernels' `SoftmaxKernels.klDivergence`.
double moepack_avx512_kl_divergence(const float *base, const double *model, long count);

#ifdef __cplusplus
}
#endif

#endif
