"""Derive the polynomial coefficients used by csrc/sce_math.h.

Run ``python csrc/derive_coefficients.py`` (needs mpmath) to reproduce them.  Each fit is a
weighted least-squares fit at Chebyshev nodes carried out in 60-digit arithmetic, which lands
within a small factor of the minimax error; the coefficients are then rounded to the target
precision and the error of the *rounded* polynomial is reported.

exp:  e^r = 1 + r + r^2 q(r)  on |r| <= ln(2)/2, q fitted to (e^r - 1 - r) / r^2.
log:  log(1+f) = 2 atanh(s) = f - s (f - R(s^2)),  s = f / (2 + f),  |s| <= (sqrt2-1)/(sqrt2+1),
      R(t) = t P(t) with P fitted to (2 atanh(sqrt t)/sqrt t - 2) / t  (= 2/3 + 2t/5 + ...).
"""
import mpmath as mp

mp.mp.dps = 60


def fit(func, lo, hi, degree, n_nodes=400):
    """Least-squares polynomial (monomial coefficients, low order first), relative weight."""
    nodes = [(lo + hi) / 2 + (hi - lo) / 2 * mp.cos(mp.pi * (2 * j + 1) / (2 * n_nodes))
             for j in range(n_nodes)]
    A = mp.matrix(n_nodes, degree + 1)
    b = mp.matrix(n_nodes, 1)
    for i, x in enumerate(nodes):
        fx = func(x)
        for k in range(degree + 1):
            A[i, k] = x ** k / fx
        b[i] = 1
    coef = mp.lu_solve(A.T * A, A.T * b)
    return [coef[k] for k in range(degree + 1)]


def exp_q(r):
    if abs(r) < mp.mpf("1e-20"):
        return mp.mpf(1) / 2 + r / 6
    return (mp.exp(r) - 1 - r) / r ** 2


def log_p(t):
    if t < mp.mpf("1e-30"):
        return mp.mpf(2) / 3 + 2 * t / 5
    s = mp.sqrt(t)
    return (2 * mp.atanh(s) / s - 2) / t


def rounded(coefs, digits):
    import numpy as np
    dt = np.float64 if digits == 53 else np.float32
    return [float(dt(float(c))) for c in coefs]


def report(name, coefs, func, lo, hi):
    worst = 0
    for j in range(2001):
        x = lo + (hi - lo) * j / 2000
        p = sum(mp.mpf(c) * x ** k for k, c in enumerate(coefs))
        worst = max(worst, abs(p / func(x) - 1))
    print(f"{name}: max relative error of rounded fit {mp.nstr(worst, 3)}")
    for k, c in enumerate(coefs):
        print(f"  c{k} = {float(c).hex()}  /* {c!r} */")


if __name__ == "__main__":
    half_ln2 = mp.log(2) / 2
    smax = (mp.sqrt(2) - 1) / (mp.sqrt(2) + 1)
    for prec, name, deg_exp, deg_log in [(53, "f64", 9, 6), (24, "f32", 4, 2)]:
        qe = rounded(fit(exp_q, -half_ln2, half_ln2, deg_exp), prec)
        report(f"exp q(r) {name} degree {deg_exp}", qe, exp_q, -half_ln2, half_ln2)
        pl = rounded(fit(log_p, mp.mpf(0), smax ** 2, deg_log), prec)
        report(f"log P(t) {name} degree {deg_log}", pl, log_p, mp.mpf(0), smax ** 2)
