"""Vectorised NumPy peer of moe.fit_em (softmax gate, d = 1): the same EM as csrc/moe — E-step posteriors,
exact weighted least squares for the experts, one Newton (IRLS) step with backtracking on the gate's expected
complete log-likelihood, the last expert's gate fixed at its start. Used by bench/moe.lua.

Usage: python3 bench/moe_em_numpy.py X.npy Y.npy start.npy iterations runs
start.npy: [K, 5] rows (beta0, beta1, a, b, sigma). Prints "NUMPY <median seconds> <final loglik>".
"""
import sys
import time
import numpy as np

LOG2PI = np.log(2 * np.pi)


def log_gate(b0, b1, x):
    l = x[:, None] * b1[None, :] + b0[None, :]
    m = l.max(axis=1, keepdims=True)
    return l - (m + np.log(np.exp(l - m).sum(axis=1, keepdims=True)))


def estep(p, x, y):
    b0, b1, a, b, s = p
    lg = log_gate(b0, b1, x)
    z = (y[:, None] - (a[None, :] * x[:, None] + b[None, :])) / s[None, :]
    l = lg - np.log(s)[None, :] - 0.5 * LOG2PI - 0.5 * z * z
    m = l.max(axis=1, keepdims=True)
    lt = m[:, 0] + np.log(np.exp(l - m).sum(axis=1))
    return np.exp(l - lt[:, None]), lt.sum()


def experts(r, x, y, p, floor):
    b0, b1, a, b, s = p
    w = r.sum(axis=0)
    sx, sxx = r.T @ x, r.T @ (x * x)
    sy, sxy, syy = r.T @ y, r.T @ (x * y), r.T @ (y * y)
    det = sxx * w - sx * sx
    a2 = (sxy * w - sx * sy) / det
    b2 = (sxx * sy - sx * sxy) / det
    rss = syy - 2 * (a2 * sxy + b2 * sy) + a2 * a2 * sxx + 2 * a2 * b2 * sx + b2 * b2 * w
    s2 = np.maximum(np.sqrt(np.maximum(rss, 0) / w), floor)
    return b0, b1, a2, b2, s2


def gate_q(b0, b1, x, r):
    return (r * log_gate(b0, b1, x)).sum()


def gate_newton(r, x, p):
    b0, b1, a, b, s = p
    K = len(b0)
    Kf = K - 1
    lg = log_gate(b0, b1, x)
    g = np.exp(lg)
    J = np.stack([np.ones_like(x), x], axis=1)            # [n, 2]
    dl = r - g                                              # [n, K]
    grad = np.concatenate([(J * dl[:, i:i + 1]).sum(axis=0) for i in range(Kf)])
    H = np.zeros((2 * Kf, 2 * Kf))
    for i in range(Kf):
        for j in range(Kf):
            w = g[:, i] * ((i == j) - g[:, j])
            H[2 * i:2 * i + 2, 2 * j:2 * j + 2] = (J * w[:, None]).T @ J
    d = np.linalg.solve(H, grad)
    q0 = (r * lg).sum()
    slope = grad @ d
    th = np.concatenate([np.stack([b0[:Kf], b1[:Kf]], axis=1).ravel()])
    alpha = 1.0
    for _ in range(12):
        if alpha * slope <= 1e-12 * (abs(q0) + 1):
            break
        tn = th + alpha * d
        nb0, nb1 = b0.copy(), b1.copy()
        nb0[:Kf], nb1[:Kf] = tn[0::2], tn[1::2]
        q1 = gate_q(nb0, nb1, x, r)
        if np.isfinite(q1) and q1 >= q0 + 1e-4 * alpha * slope and q1 >= q0:
            return nb0, nb1, a, b, s
        alpha *= 0.5
    return p


def fit(x, y, start, iters):
    p = tuple(start[:, j].copy() for j in range(5))
    floor = 1e-3 * y.std()
    r, ll = estep(p, x, y)
    for _ in range(iters):
        p = experts(r, x, y, p, floor)
        p = gate_newton(r, x, p)
        r, ll = estep(p, x, y)
    return ll


def main():
    x = np.load(sys.argv[1]).reshape(-1)
    y = np.load(sys.argv[2]).reshape(-1)
    start = np.load(sys.argv[3])
    iters, runs = int(sys.argv[4]), int(sys.argv[5])
    fit(x, y, start, 2)
    ts, ll = [], 0.0
    for _ in range(runs):
        t0 = time.perf_counter()
        ll = fit(x, y, start, iters)
        ts.append(time.perf_counter() - t0)
    ts.sort()
    print("NUMPY", ts[len(ts) // 2], repr(ll))


if __name__ == "__main__":
    main()
