/* sce_math.h -- vectorizable exp and log1p of our own, for float64 and float32.
 *
 * Every function here is branch-free straight-line code (selects compile to blends), with no libm
 * call and no table, so that GCC vectorizes the loops that inline them: 4 doubles / 8 floats per
 * AVX2 instruction.  Only integer operations that AVX2 has are used (64-bit add, and, logical
 * shifts): no int64 <-> double conversion and no 64-bit arithmetic shift; integers are moved in and
 * out of doubles with the 1.5 * 2^52 "shifter" trick instead.
 *
 * Polynomial coefficients come from csrc/derive_coefficients.py (least squares at Chebyshev nodes
 * in 60-digit arithmetic).  Measured maximum errors (tests/test_math.py, against np.longdouble,
 * >= 1e6 points over the whole range plus special points) are documented in README.md:
 * the test asserts exp <= 2 ULP and log1p <= 4 ULP in both precisions.
 *
 * The float32 versions compute in float32 throughout (as the float64 ones do in float64).
 */
#ifndef SCE_MATH_H
#define SCE_MATH_H

#include <stdint.h>

#define SCE_INLINE static inline __attribute__((always_inline))

/* Bit casts through unions (C99 allows reading another member), not memcpy: under `omp simd` GCC
 * turns the address-taken temporaries of memcpy into per-lane arrays and stops vectorizing. */
SCE_INLINE uint64_t sce_bits_f64(double x) { union { double d; uint64_t u; } v; v.d = x; return v.u; }
SCE_INLINE double sce_from_bits_f64(uint64_t u) { union { double d; uint64_t u; } v; v.u = u; return v.d; }
SCE_INLINE uint32_t sce_bits_f32(float x) { union { float f; uint32_t u; } v; v.f = x; return v.u; }
SCE_INLINE float sce_from_bits_f32(uint32_t u) { union { float f; uint32_t u; } v; v.u = u; return v.f; }

/* ------------------------------------------------------------------------------------------ */
/* float64                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/* Adding 1.5 * 2^52 rounds a |v| < 2^51 to the nearest integer, which then sits in the low
 * mantissa bits. */
#define SCE_SHIFT_F64 0x1.8p52
/* ln 2 split in two: LN2_HI has 31 significant bits, so n * LN2_HI is exact for |n| < 2^22
 * (we need |n| <= 1077), with or without FMA contraction. */
#define SCE_LN2_HI_F64 0x1.62e42fee00000p-1
#define SCE_LN2_LO_F64 0x1.a39ef35793c76p-33
#define SCE_LOG2E_F64 0x1.71547652b82fep+0

/* 2^n for an integer-valued double n in [-1022, 1023]: put n + 1023 in the exponent field. */
SCE_INLINE double sce_exp2i_f64(double n)
{
    return sce_from_bits_f64(sce_bits_f64(n + (SCE_SHIFT_F64 + 1023.0)) << 52);
}

/* e^r - 1 for |r| <= ln2/2: r + r^2 q(r), q of degree 9 as q_even(r^2) + r q_odd(r^2), each half by
 * Horner's rule: two independent chains of 4 multiply-adds (dependency depth 6, where plain Horner has
 * 10), with no product beyond r^2 and no register copies (Estrin's scheme needs r^4, r^8 and a copy
 * of r for each of its pairs, operations that the wide vectors' two ports pay for). */
SCE_INLINE double sce_expm1_reduced_f64(double r)
{
    double r2 = r * r;
    double qo = 0x1.ae95bdeea1f52p-26;
    qo = qo * r2 + 0x1.71de65b13e5b6p-19;
    qo = qo * r2 + 0x1.a01a0188133e1p-13;
    qo = qo * r2 + 0x1.1111111114d4ep-7;
    qo = qo * r2 + 0x1.555555555554cp-3;
    double qe = 0x1.28915868f9a43p-22;
    qe = qe * r2 + 0x1.a019b9374e778p-16;
    qe = qe * r2 + 0x1.6c16c1787f848p-10;
    qe = qe * r2 + 0x1.5555555553d88p-5;
    qe = qe * r2 + 0x1.0000000000001p-1;
    return r + r2 * (qe + r * qo);
}

/* e^x, <= 1 ULP observed (normal and subnormal results), exact specials:
 * e^-inf = 0, e^+inf = +inf, NaN -> NaN.
 * x = n ln2 + r with |r| <= ln2/2, e^x = e^r 2^n1 2^n2 with n = n1 + n2: the two-step scale keeps
 * each factor a normal power of two, so results that overflow become +inf and results in the
 * subnormal range are rounded once, correctly. */
SCE_INLINE double sce_exp_f64(double x)
{
    /* Beyond 710 e^x overflows (limit 709.78); below -746 it rounds to 0 (limit -745.13).
     * Clamping keeps n within [-1077, 1025] so that both halves of 2^n stay normal.
     * NaN fails both comparisons and passes through. */
    x = x > 710.0 ? 710.0 : x;
    x = x < -746.0 ? -746.0 : x;
    double n = (x * SCE_LOG2E_F64 + SCE_SHIFT_F64) - SCE_SHIFT_F64;
    double r = (x - n * SCE_LN2_HI_F64) - n * SCE_LN2_LO_F64;
    double p = 1.0 + sce_expm1_reduced_f64(r);
    double n1 = (n * 0.5 + SCE_SHIFT_F64) - SCE_SHIFT_F64;
    double n2 = n - n1;
    return (p * sce_exp2i_f64(n1)) * sce_exp2i_f64(n2);
}

/* e^x for x <= 0 (or NaN), as accurate as sce_exp_f64 with a cheaper scale: n <= 0 here, so
 * 2^(n+64) is a normal number for every n >= -1077, e^r 2^(n+64) is exact, and the one product
 * with the constant 2^-64 rounds the result (correctly into the subnormal range, exactly above it).
 * 2^(n+64) comes straight from the bits of the rounded x log2(e) + SHIFT, whose low bits hold n. */
SCE_INLINE double sce_exp_nonpos_f64(double x)
{
    x = x < -746.0 ? -746.0 : x; /* e^x rounds to 0 below -745.13; keeps n >= -1077 */
    double t = x * SCE_LOG2E_F64 + SCE_SHIFT_F64;
    double n = t - SCE_SHIFT_F64;
    double r = (x - n * SCE_LN2_HI_F64) - n * SCE_LN2_LO_F64;
    double y = sce_expm1_reduced_f64(r);
    double scale = sce_from_bits_f64((sce_bits_f64(t) + (1023 + 64)) << 52); /* 2^(n+64) */
    return (scale + scale * y) * 0x1p-64;
}

/* k ln2 + log(1 + f) for an integer-valued k and f in [sqrt2/2 - 1, sqrt2 - 1], given s = f / (2 + f)
 * (rounded) and lo = k LN2_LO plus any small correction: log(1 + f) = 2 atanh s = f - s (f - R(s^2))
 * with R(t) = t P(t) (P: degree 6).  s only enters the correction term s (f - R), about f^2 / 2, so an
 * ULP or two of error in s moves the result by a fraction of an ULP. */
SCE_INLINE double sce_log_reduced_f64(double k, double f, double s, double lo)
{
    double t = s * s;
    double t2 = t * t;
    /* P = P_even(t^2) + t P_odd(t^2), each by Horner's rule (see sce_expm1_reduced_f64) */
    double Pe = 0x1.2b5726b357134p-3;
    Pe = Pe * t2 + 0x1.7462b3d0fabd6p-3;
    Pe = Pe * t2 + 0x1.2492492dee5a0p-2;
    Pe = Pe * t2 + 0x1.5555555555558p-1;
    double Po = 0x1.39fe7a28d6e94p-3;
    Po = Po * t2 + 0x1.c71c62e8d3992p-3;
    Po = Po * t2 + 0x1.9999999995300p-2;
    double R = t * (Pe + t * Po);
    return k * SCE_LN2_HI_F64 + (f - (s * (f - R) - lo));
}

/* log(u) + corr for a finite u >= 2^-1022 and a small correction corr (the rounding error of a
 * preceding 1 + x, divided by u).  u = 2^k m with m in [sqrt2/2, sqrt2), f = m - 1 (exact). */
SCE_INLINE double sce_log_core_f64(double u, double corr)
{
    /* Offset the bits so that the exponent field of ix is that of u * sqrt2: k = floor(log2(u*sqrt2)).
     * u > 0 keeps ix positive, so logical shifts suffice. */
    const uint64_t sqrt_half = 0x3fe6a09e667f3bcdULL; /* bits of sqrt(2)/2 */
    uint64_t ix = sce_bits_f64(u) + (0x3ff0000000000000ULL - sqrt_half);
    double k = sce_from_bits_f64((ix >> 52) + sce_bits_f64(SCE_SHIFT_F64)) - (SCE_SHIFT_F64 + 1023.0);
    double m = sce_from_bits_f64((ix & 0x000fffffffffffffULL) + sqrt_half);
    double f = m - 1.0;
    return sce_log_reduced_f64(k, f, f / (2.0 + f), k * SCE_LN2_LO_F64 + corr);
}

/* log(1 + x), <= 1 ULP observed.  log1p(+-0) = +-0, log1p(-1) = -inf, x < -1 -> NaN, +inf -> +inf,
 * NaN -> NaN. */
SCE_INLINE double sce_log1p_f64(double x)
{
    double u = 1.0 + x;
    /* (x - (u - 1)) is the rounding error of 1 + x (exact while u < 2^53); dividing by u turns it
     * into the first-order correction of log(u).  Guard u against 0 / negative / inf so the core
     * only sees valid input; the specials are selected at the end. */
    double ug = (u >= 0x1p-1022 && u <= 0x1.fffffffffffffp+1023) ? u : 1.0;
    double corr = (x - (ug - 1.0)) / ug;
    double res = sce_log_core_f64(ug, corr);
    res = (x == -1.0) ? -__builtin_inf() : res;
    res = (x < -1.0) ? __builtin_nan("") : res;
    res = (x == __builtin_inf()) ? x : res;
    res = (x == 0.0) ? x : res; /* log1p(-0) = -0 */
    res = (x != x) ? x : res;
    return res;
}

/* ------------------------------------------------------------------------------------------ */
/* float32: same algorithms, float constants                                                   */
/* ------------------------------------------------------------------------------------------ */

#define SCE_SHIFT_F32 0x1.8p23f
/* LN2_HI has 16 significant bits: n * LN2_HI exact for |n| < 2^8 (we need |n| <= 151). */
#define SCE_LN2_HI_F32 0x1.62e4p-1f
#define SCE_LN2_LO_F32 0x1.7f7d1cp-20f
#define SCE_LOG2E_F32 0x1.715476p+0f

SCE_INLINE float sce_exp2i_f32(float n)
{
    return sce_from_bits_f32(sce_bits_f32(n + (SCE_SHIFT_F32 + 127.0f)) << 23);
}

/* e^r - 1 for |r| <= ln2/2 in float32: r + r^2 q(r) with q of degree 4. */
SCE_INLINE float sce_expm1_reduced_f32(float r)
{
    float r2 = r * r;
    float q = (0x1p-1f + 0x1.5554dep-3f * r) + (0x1.5555eap-5f + 0x1.120afcp-7f * r) * r2
              + 0x1.6c37ecp-10f * (r2 * r2);
    return r + r2 * q;
}

SCE_INLINE float sce_exp_f32(float x)
{
    /* e^x overflows float above 88.73 and rounds to 0 below -103.98; clamp to keep |n| <= 151. */
    x = x > 89.0f ? 89.0f : x;
    x = x < -104.0f ? -104.0f : x;
    float n = (x * SCE_LOG2E_F32 + SCE_SHIFT_F32) - SCE_SHIFT_F32;
    float r = (x - n * SCE_LN2_HI_F32) - n * SCE_LN2_LO_F32;
    float p = 1.0f + sce_expm1_reduced_f32(r);
    float n1 = (n * 0.5f + SCE_SHIFT_F32) - SCE_SHIFT_F32;
    float n2 = n - n1;
    return (p * sce_exp2i_f32(n1)) * sce_exp2i_f32(n2);
}

/* e^x for x <= 0 (or NaN): 2^(n+32) is normal for every n >= -151 (see sce_exp_nonpos_f64). */
SCE_INLINE float sce_exp_nonpos_f32(float x)
{
    x = x < -104.0f ? -104.0f : x;
    float t = x * SCE_LOG2E_F32 + SCE_SHIFT_F32;
    float n = t - SCE_SHIFT_F32;
    float r = (x - n * SCE_LN2_HI_F32) - n * SCE_LN2_LO_F32;
    float y = sce_expm1_reduced_f32(r);
    float scale = sce_from_bits_f32((sce_bits_f32(t) + (127 + 32)) << 23); /* 2^(n+32) */
    return (scale + scale * y) * 0x1p-32f;
}

/* k ln2 + log(1 + f) given s = f / (2 + f) and lo (see sce_log_reduced_f64); P of degree 2. */
SCE_INLINE float sce_log_reduced_f32(float k, float f, float s, float lo)
{
    float t = s * s;
    float P = (0x1.55555cp-1f + 0x1.997c3ap-2f * t) + 0x1.2ee4cap-2f * (t * t);
    float R = t * P;
    return k * SCE_LN2_HI_F32 + (f - (s * (f - R) - lo));
}

/* log(u) + corr for finite u >= 2^-126. */
SCE_INLINE float sce_log_core_f32(float u, float corr)
{
    const uint32_t sqrt_half = 0x3f3504f3u; /* bits of sqrt(2)/2 */
    uint32_t ix = sce_bits_f32(u) + (0x3f800000u - sqrt_half);
    float k = sce_from_bits_f32((ix >> 23) + sce_bits_f32(SCE_SHIFT_F32)) - (SCE_SHIFT_F32 + 127.0f);
    float m = sce_from_bits_f32((ix & 0x007fffffu) + sqrt_half);
    float f = m - 1.0f;
    return sce_log_reduced_f32(k, f, f / (2.0f + f), k * SCE_LN2_LO_F32 + corr);
}

SCE_INLINE float sce_log1p_f32(float x)
{
    float u = 1.0f + x;
    float ug = (u >= 0x1p-126f && u <= 0x1.fffffep+127f) ? u : 1.0f;
    float corr = (x - (ug - 1.0f)) / ug;
    float res = sce_log_core_f32(ug, corr);
    res = (x == -1.0f) ? -__builtin_inff() : res;
    res = (x < -1.0f) ? __builtin_nanf("") : res;
    res = (x == __builtin_inff()) ? x : res;
    res = (x == 0.0f) ? x : res; /* log1p(-0) = -0 */
    res = (x != x) ? x : res;
    return res;
}

#endif /* SCE_MATH_H */
