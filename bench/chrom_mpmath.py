"""Independent reference for the chromatography outlet without dispersion (bench/chrom.lua and
spec/chrom_outlet_spec.lua): mpmath's inverse Laplace transform (Talbot) at 50 digits (30 lose ~1e-11
of the peak to cancellation at Da = 200).

The outlet transform is C_in(s) amp exp(-tau (s + Da s/(s + kappa))) (the paper's C(x, s) for constant
or compressible velocity). Delays and the inlet's jumps and kinks defeat a direct inversion near them,
so the inlet is written as a sum of shifted steps and ramps, c_in = sum_i J_i H(t - b_i) + S_i (t - b_i)_+,
and each piece's response is the inverse of the smooth, delay-free phi_m(s) = amp exp(-tau Da s/(s+kappa))
/ s^m (m = 1 steps, m = 2 ramps) taken at t - tau - b_i > 0 (30 digits make the cancellation between
pieces harmless). A Gaussian injection (a smooth inlet, but a two-sided delay that Talbot's contour
cannot take) is inverted directly by de Hoog's method.

Usage: python3 chrom_mpmath.py cases.txt
  one case per line: Da;kappa;P;x;kind;width;t0;inj_t;inj_c;times[;Pe]  (lists space-separated; Pe > 0:
  dispersion, transfer exp(x (Pe/2)(1 - sqrt(1 + 4 h/Pe))) without a delay, so tau = 0 below)
Prints one line per case: the outlet at each time (repr floats)."""
import sys
import mpmath as mp

mp.mp.dps = 50


def tau_amp(P, x):
    if P <= 1 + mp.mpf("1e-12"):
        return x, mp.mpf(1)
    P2, P3 = P * P, P ** 3
    tau = (P3 - (P2 - (P2 - 1) * x) ** mp.mpf(1.5)) / (P3 - 1)
    vel = lambda y: (P3 - 1) / (mp.mpf(1.5) * (P2 - 1) * mp.sqrt(P2 - (P2 - 1) * y))
    return tau, vel(0) / vel(x)


def pieces(kind, width, ti, ci):
    """(b_i, J_i, S_i): jumps and slope changes of the inlet (pulse or piecewise-linear data)."""
    if kind == "pulse":
        return [(mp.mpf(0), 1 / width, mp.mpf(0)), (width, -1 / width, mp.mpf(0))]
    out, prev = [], mp.mpf(0)
    n = len(ti)
    for i in range(n):
        m = (ci[i + 1] - ci[i]) / (ti[i + 1] - ti[i]) if i + 1 < n else mp.mpf(0)
        J = ci[0] if i == 0 else (-ci[-1] if i == n - 1 else mp.mpf(0))
        out.append((ti[i], J, m - prev))
        prev = m
    return out


def main():
    for line in open(sys.argv[1]):
        if not line.strip():
            continue
        f = line.rstrip("\n").split(";")
        Da, kappa, P, x = (mp.mpf(v) for v in f[:4])
        kind, width, t0 = f[4], mp.mpf(f[5]), mp.mpf(f[6])
        ti = [mp.mpf(v) for v in f[7].split()]
        ci = [mp.mpf(v) for v in f[8].split()]
        times = [mp.mpf(v) for v in f[9].split()]
        Pe = mp.mpf(f[10]) if len(f) > 10 and f[10].strip() else mp.mpf(0)
        tau, amp = tau_amp(P, x)
        h = lambda s: s + Da * s / (s + kappa)
        if Pe > 0:  # G(s) = exp(x (Pe/2)(1 - sqrt(1 + 4h/Pe))): no pure delay
            lnG = lambda s: x * (Pe / 2) * (1 - mp.sqrt(1 + 4 * h(s) / Pe))
            tau = mp.mpf(0)
        else:  # exp(-tau h) = e^{-tau s} exp(-tau Da s/(s + kappa)): the delay is taken out below
            lnG = lambda s: -tau * Da * s / (s + kappa)
        res = []
        if kind == "gaussian":
            F = lambda s: amp * mp.exp(-s * (t0 + tau) + s * s * width ** 2 / 2 + lnG(s))
            for t in times:
                res.append(mp.invertlaplace(F, t, method="dehoog"))
        else:
            ps = pieces(kind, width, ti, ci)
            phi = {m: (lambda s, m=m: amp * mp.exp(lnG(s)) / s ** m) for m in (1, 2)}
            for t in times:
                acc = mp.mpf(0)
                for b, J, S in ps:
                    u = t - tau - b
                    if u <= 0:
                        continue
                    if J != 0:
                        acc += J * mp.invertlaplace(phi[1], u, method="talbot")
                    if S != 0:
                        acc += S * mp.invertlaplace(phi[2], u, method="talbot")
                res.append(acc)
        print(" ".join(repr(float(v)) for v in res))
        sys.stdout.flush()


main()
