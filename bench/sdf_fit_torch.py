# bench/sdf_fit_torch.py — one VolSDF training step of a 128³ grid SDF in PyTorch on CPU, the reference of
# bench/sdf_fit.lua: error-bounded sampling at the current β (bench/sdf_torch.py, the reference code's
# ErrorBoundSampler, vectorised, no gradient), trilinear grid values / normals / colours, the Laplace density,
# volume-rendering weights, Lambert radiance, the L1 colour loss and its backward pass through autograd to the
# grid values, the colour grid and β_param (VolSDF, Yariv et al. 2021, §3).
# Usage: python3 bench/sdf_fit_torch.py values.npy rays.npy threads runs beta
#        values.npy [res,res,res] f64 over [-1.5,1.5]³ (x slowest); rays.npy [R,9] origin, direction, target rgb
#        -> prints "TORCH <median s> <samples/ray> <loss>"
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sdf_torch  # noqa: E402

LO, HI = -1.5, 1.5
LIGHT = torch.tensor([0.4, 0.8, 0.45], dtype=torch.float64)
LIGHT = LIGHT / LIGHT.norm()
AMBIENT = 0.25


def trilinear(G, C, p):
    """d, grad d, albedo of the grid at points p [M,3]; G [res³] and C [res³,3] flat (x slowest)."""
    res = round(G.numel() ** (1 / 3))
    h = (HI - LO) / (res - 1)
    q = p.clamp(LO, HI)
    mask = (p == q).to(p.dtype)
    s = (q - LO) / h
    i = s.floor().clamp(0, res - 2)
    f = s - i
    i = i.long()
    d = torch.zeros(p.shape[0], dtype=p.dtype)
    g = torch.zeros(p.shape[0], 3, dtype=p.dtype)
    col = torch.zeros(p.shape[0], 3, dtype=p.dtype)
    for c in range(8):
        b = [(c >> 0) & 1, (c >> 1) & 1, (c >> 2) & 1]
        idx = (i[:, 0] + b[0]) * res * res + (i[:, 1] + b[1]) * res + (i[:, 2] + b[2])
        wa = [f[:, a] if b[a] else 1 - f[:, a] for a in range(3)]
        da = [(1.0 if b[a] else -1.0) / h * mask[:, a] for a in range(3)]
        v = G[idx]
        d = d + wa[0] * wa[1] * wa[2] * v
        g = g + torch.stack([da[0] * wa[1] * wa[2], wa[0] * da[1] * wa[2], wa[0] * wa[1] * da[2]], -1) * v[:, None]
        col = col + (wa[0] * wa[1] * wa[2])[:, None] * C[idx]
    out = p - q
    dist = out.norm(dim=-1)
    g = g + out / dist.clamp(min=1e-300)[:, None] * (dist > 0).to(p.dtype)[:, None]
    return d + dist, g, col


def step(G, C, bp, o, u, target, beta_min=1e-4):
    beta = bp.abs() + beta_min
    with torch.no_grad():
        flat = G.detach()
        sdf_torch.scene_sdf = lambda p: trilinear(flat, C.detach(), p)[0]
        z, _, _ = sdf_torch.sample(o, u, float(beta), near=1.0, far=6.0, N_eval=64, N_samples=32, N_extra=16)
    R, N = z.shape
    p = (o[:, None, :] + z[:, :, None] * u[:, None, :]).reshape(-1, 3)
    d, g, alb = trilinear(G, C, p)
    d, alb = d.reshape(R, N), alb.reshape(R, N, 3)
    e = torch.exp(-d.abs() / beta)
    sigma = torch.where(d > 0, 0.5 * e, 1 - 0.5 * e) / beta
    dl = torch.cat([z[:, 1:] - z[:, :-1], torch.zeros(R, 1, dtype=z.dtype)], -1)
    tau = dl * sigma
    T = torch.exp(-torch.cumsum(torch.cat([torch.zeros(R, 1, dtype=z.dtype), tau[:, :-1]], -1), -1))
    w = (1 - torch.exp(-tau)) * T
    n = g / g.norm(dim=-1, keepdim=True).clamp(min=1e-300)
    k = AMBIENT + (1 - AMBIENT) * (n @ LIGHT).clamp(min=0)
    rad = alb * k.reshape(R, N, 1)
    op = w.sum(-1, keepdim=True)
    rgb = (w[..., None] * rad).sum(1) + (1 - op) * 1.0
    loss = (rgb - target).abs().mean()
    loss.backward()
    return float(loss), N


def main():
    G0 = torch.from_numpy(np.load(sys.argv[1]).reshape(-1).copy())
    rays = torch.from_numpy(np.load(sys.argv[2]))
    threads, runs, beta = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    torch.set_num_threads(threads)
    o, u, target = rays[:, :3].contiguous(), rays[:, 3:6].contiguous(), rays[:, 6:9].contiguous()
    G = G0.clone().requires_grad_(True)
    C = torch.full((G0.numel(), 3), 0.5, dtype=torch.float64, requires_grad=True)
    bp = torch.tensor(beta, dtype=torch.float64, requires_grad=True)
    times = []
    for r in range(runs + 1):
        G.grad = C.grad = bp.grad = None
        t0 = time.perf_counter()
        loss, N = step(G, C, bp, o, u, target)
        if r > 0:
            times.append(time.perf_counter() - t0)
    times.sort()
    print("TORCH %.6f %d %.6f" % (times[len(times) // 2], N, loss))


if __name__ == "__main__":
    main()
