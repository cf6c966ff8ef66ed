#!/usr/bin/env python3
"""Peer for bench/gp.lua: median seconds of scikit-learn's
GaussianProcessRegressor.log_marginal_likelihood(theta, eval_gradient=True) for an energy-only
ConstantKernel(1.3) * RBF (ARD, l = 1) GP with alpha 1e-4 on the data of bench/gp.lua (X.npy, y.npy in DIR).
Usage: gp_sklearn.py DIR runs  -> prints 'median_seconds lml'"""
import sys, time
import numpy as np
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel as C

X = np.load(sys.argv[1] + "/X.npy")
y = np.load(sys.argv[1] + "/y.npy")
runs = int(sys.argv[2])
d = X.shape[1]
k = C(1.3) * RBF([1.0] * d)
g = GaussianProcessRegressor(kernel=k, alpha=1e-4, optimizer=None, normalize_y=False).fit(X, y)
theta = g.kernel_.theta
g.log_marginal_likelihood(theta, eval_gradient=True)
ts = []
for _ in range(runs):
    t0 = time.perf_counter()
    v, gr = g.log_marginal_likelihood(theta, eval_gradient=True)
    ts.append(time.perf_counter() - t0)
ts.sort()
print(ts[len(ts) // 2], v)
