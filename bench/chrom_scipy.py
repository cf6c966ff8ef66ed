"""SciPy peer of chrom.fit (bench/chrom.lua): least_squares on a NumPy FFT inversion of the
same column model (Gaussian injection, no dispersion, y = sum_k A_k c_k(t)).
Usage: python3 chrom_scipy.py data.txt runs   (data: lines "t y"; first line: Da kappa A guesses)
Prints: median seconds, SSR, then the fitted parameters."""
import sys, time
import numpy as np
from scipy.optimize import least_squares

lines = open(sys.argv[1]).read().split("\n")
p0 = np.array([float(v) for v in lines[0].split()])
width, t0 = [float(v) for v in lines[1].split()]
data = np.array([[float(v) for v in l.split()] for l in lines[2:] if l.strip()])
t, y = data[:, 0], data[:, 1]
dt, tmax = t[1] - t[0], t[-1]
# Fourier series f(t) = e^{ct}/T [F(c)/2 + sum_k Re F(c + i k pi/T) e^{i k pi t/T}] by one irfft
wmax = np.sqrt(-2 * np.log(1e-17)) / width
m = int(np.ceil(dt * wmax / np.pi * 1.02))
L = int(2 ** np.ceil(np.log2(2 * 2 * tmax / (dt / m))))
T = L * (dt / m) / 2
N = int(np.ceil(wmax * T / np.pi)) + 1
c = -np.log(1e-15) / (2 * T)
s = c + 1j * np.pi * np.arange(N) / T
base = np.exp(-s * t0 + 0.5 * s * s * width ** 2 - s + 1j * np.pi * np.arange(N) * t[0] / T)
ect = np.exp(c * t) / T

def model(p):
    Da, ka, A = p[0::3], p[1::3], p[2::3]
    G = (A[:, None] * np.exp(-Da[:, None] * s / (s + ka[:, None]))).sum(0) * base
    X = np.zeros(L // 2 + 1, complex)
    X[:N] = G
    X[0] = X[0].real / 2
    X[1:N] /= 2
    return ect * np.fft.irfft(X, L)[: m * len(t): m] * L

res = lambda p: model(p) - y
runs, times = int(sys.argv[2]), []
for _ in range(runs):
    t1 = time.perf_counter()
    r = least_squares(res, p0, method="lm", xtol=1e-12, ftol=1e-12)
    times.append(time.perf_counter() - t1)
print(float(np.median(times)))
print(repr(float(2 * r.cost)))
print(" ".join(repr(float(v)) for v in r.x))
