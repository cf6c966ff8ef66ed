# bench/sdf_torch.py — the VolSDF error-bounded sampler written in vectorised PyTorch on CPU, following the
# reference code's ErrorBoundSampler (Yariv et al. 2021, github.com/lioryariv/volsdf, model/ray_sampler.py) in its
# evaluation mode (linspace u, deterministic extra samples), with the bench scene (sphere + box + torus, union).
# Used by bench/sdf.lua as the reference of the C sampler: same rays, same thread count.
# Usage: python3 bench/sdf_torch.py rays.npy threads runs beta [scene [out.npy]]
#        -> prints "TORCH <median s> <evals/ray> <mean t>"; scene "bench" (default) or "sphere" (|p| - 0.8, exact);
#        out.npy receives the final depths [R, 98] (spec/sdf_torch_spec.lua compares them with the C sampler).
import sys
import time

import numpy as np
import torch


SCENE = "bench"


def scene_sdf(p):
    if SCENE == "sphere":
        return p.norm(dim=-1) - 0.8
    # union(sphere r .6 at (-.9,0,0), box size .8 at (.9,0,0), torus R .6 r .2 at (0,.9,0)), as in bench/sdf.lua
    a = (p - torch.tensor([-0.9, 0.0, 0.0], dtype=p.dtype)).norm(dim=-1) - 0.6
    q = (p - torch.tensor([0.9, 0.0, 0.0], dtype=p.dtype)).abs() - 0.4
    b = q.clamp(min=0).norm(dim=-1) + q.max(dim=-1).values.clamp(max=0)
    t = p - torch.tensor([0.0, 0.9, 0.0], dtype=p.dtype)
    tq = torch.stack([(t[..., 0] ** 2 + t[..., 2] ** 2).sqrt() - 0.6, t[..., 1]], -1)
    c = tq.norm(dim=-1) - 0.2
    return torch.minimum(torch.minimum(a, b), c)


def density(sdf, beta):
    alpha = 1 / beta
    return alpha * (0.5 + 0.5 * sdf.sign() * torch.expm1(-sdf.abs() / beta))


def get_error_bound(beta, sdf, z_vals, dists, d_star):
    dens = density(sdf.reshape(z_vals.shape), beta)
    shifted = torch.cat([torch.zeros(dists.shape[0], 1, dtype=z_vals.dtype), dists * dens[:, :-1]], dim=-1)
    integral_estimation = torch.cumsum(shifted, dim=-1)
    error_per_section = torch.exp(-d_star / beta) * (dists ** 2.) / (4 * beta ** 2)
    error_integral = torch.cumsum(error_per_section, dim=-1)
    bound_opacity = (torch.clamp(torch.exp(error_integral), max=1.e6) - 1.0) * torch.exp(-integral_estimation[:, :-1])
    return bound_opacity.max(-1)[0]


def sample(cam_loc, ray_dirs, beta0, near=0.0, far=6.0, N_eval=128, N_samples=64, N_extra=32, eps=0.1,
           beta_iters=10, max_total_iters=5):
    R = ray_dirs.shape[0]
    dt = ray_dirs.dtype
    evals = 0
    z_vals = torch.linspace(near, far, N_eval, dtype=dt).unsqueeze(0).repeat(R, 1)
    samples, samples_idx = z_vals, None
    dists = z_vals[:, 1:] - z_vals[:, :-1]
    bound = (1.0 / (4.0 * torch.log(torch.tensor(eps + 1.0, dtype=dt)))) * (dists ** 2.).sum(-1)
    beta = torch.sqrt(bound)
    total_iters, not_converge = 0, True
    while not_converge and total_iters < max_total_iters:
        points = cam_loc.unsqueeze(1) + samples.unsqueeze(2) * ray_dirs.unsqueeze(1)
        samples_sdf = scene_sdf(points.reshape(-1, 3))
        evals += samples_sdf.numel()
        if samples_idx is not None:
            sdf_merge = torch.cat([sdf.reshape(-1, z_vals.shape[1] - samples.shape[1]),
                                   samples_sdf.reshape(-1, samples.shape[1])], -1)
            sdf = torch.gather(sdf_merge, 1, samples_idx).reshape(-1, 1)
        else:
            sdf = samples_sdf
        d = sdf.reshape(z_vals.shape)
        dists = z_vals[:, 1:] - z_vals[:, :-1]
        a, b, c = dists, d[:, :-1].abs(), d[:, 1:].abs()
        first_cond = a.pow(2) + b.pow(2) <= c.pow(2)
        second_cond = a.pow(2) + c.pow(2) <= b.pow(2)
        d_star = torch.zeros(z_vals.shape[0], z_vals.shape[1] - 1, dtype=dt)
        d_star[first_cond] = b[first_cond]
        d_star[second_cond] = c[second_cond]
        s = (a + b + c) / 2.0
        area_before_sqrt = s * (s - a) * (s - b) * (s - c)
        mask = ~first_cond & ~second_cond & (b + c - a > 0)
        d_star[mask] = (2.0 * torch.sqrt(area_before_sqrt[mask])) / (a[mask])
        d_star = (d[:, 1:].sign() * d[:, :-1].sign() == 1) * d_star
        curr_error = get_error_bound(beta0, sdf, z_vals, dists, d_star)
        beta[curr_error <= eps] = beta0
        beta_min, beta_max = beta0 * torch.ones(R, dtype=dt), beta
        for _ in range(beta_iters):
            beta_mid = (beta_min + beta_max) / 2.
            curr_error = get_error_bound(beta_mid.unsqueeze(-1), sdf, z_vals, dists, d_star)
            beta_max[curr_error <= eps] = beta_mid[curr_error <= eps]
            beta_min[curr_error > eps] = beta_mid[curr_error > eps]
        beta = beta_max
        dens = density(sdf.reshape(z_vals.shape), beta.unsqueeze(-1))
        dists = torch.cat([dists, torch.tensor([1e10], dtype=dt).unsqueeze(0).repeat(dists.shape[0], 1)], -1)
        free_energy = dists * dens
        shifted_free_energy = torch.cat([torch.zeros(dists.shape[0], 1, dtype=dt), free_energy[:, :-1]], dim=-1)
        alpha = 1 - torch.exp(-free_energy)
        transmittance = torch.exp(-torch.cumsum(shifted_free_energy, dim=-1))
        weights = alpha * transmittance
        total_iters += 1
        not_converge = beta.max() > beta0
        if not_converge and total_iters < max_total_iters:
            N = N_eval
            bins = z_vals
            error_per_section = torch.exp(-d_star / beta.unsqueeze(-1)) * (dists[:, :-1] ** 2.) / (4 * beta.unsqueeze(-1) ** 2)
            error_integral = torch.cumsum(error_per_section, dim=-1)
            bound_opacity = (torch.clamp(torch.exp(error_integral), max=1.e6) - 1.0) * transmittance[:, :-1]
            pdf = bound_opacity
            pdf = pdf / torch.sum(pdf, -1, keepdim=True)
        else:
            N = N_samples
            bins = z_vals
            pdf = weights[..., :-1] + 1e-5
            pdf = pdf / torch.sum(pdf, -1, keepdim=True)
        cdf = torch.cumsum(pdf, -1)
        cdf = torch.cat([torch.zeros_like(cdf[..., :1]), cdf], -1)
        u = torch.linspace(0., 1., steps=N, dtype=dt).unsqueeze(0).repeat(cdf.shape[0], 1).contiguous()
        inds = torch.searchsorted(cdf, u, right=True)
        below = torch.max(torch.zeros_like(inds - 1), inds - 1)
        above = torch.min((cdf.shape[-1] - 1) * torch.ones_like(inds), inds)
        inds_g = torch.stack([below, above], -1)
        matched_shape = [inds_g.shape[0], inds_g.shape[1], cdf.shape[-1]]
        cdf_g = torch.gather(cdf.unsqueeze(1).expand(matched_shape), 2, inds_g)
        bins_g = torch.gather(bins.unsqueeze(1).expand(matched_shape), 2, inds_g)
        denom = (cdf_g[..., 1] - cdf_g[..., 0])
        denom = torch.where(denom < 1e-5, torch.ones_like(denom), denom)
        t = (u - cdf_g[..., 0]) / denom
        samples = bins_g[..., 0] + t * (bins_g[..., 1] - bins_g[..., 0])
        if not_converge and total_iters < max_total_iters:
            z_vals, samples_idx = torch.sort(torch.cat([z_vals, samples], -1), -1)
    z_samples = samples
    near_t, far_t = near * torch.ones(R, 1, dtype=dt), far * torch.ones(R, 1, dtype=dt)
    # the reference computes these indices in float32 (torch's default dtype), which can round an index down by one;
    # exact arithmetic here, as the C sampler
    sampling_idx = torch.linspace(0, z_vals.shape[1] - 1, N_extra, dtype=torch.float64).long()
    z_vals_extra = torch.cat([near_t, far_t, z_vals[:, sampling_idx]], -1)
    z_vals, _ = torch.sort(torch.cat([z_samples, z_vals_extra], -1), -1)
    # the final samples are evaluated for rendering, as the C sampler does (its weights need them)
    pts = cam_loc.unsqueeze(1) + z_vals.unsqueeze(2) * ray_dirs.unsqueeze(1)
    w_sdf = scene_sdf(pts.reshape(-1, 3)).reshape(z_vals.shape)
    evals += (N_samples + 2) * R
    dens = density(w_sdf, beta0)
    dl = torch.cat([z_vals[:, 1:] - z_vals[:, :-1], torch.full((R, 1), 1e10, dtype=dt)], -1)
    fe = dl * dens
    trans = torch.exp(-torch.cumsum(torch.cat([torch.zeros(R, 1, dtype=dt), fe[:, :-1]], -1), -1))
    w = (1 - torch.exp(-fe)) * trans
    return z_vals, w, evals / R


def main():
    rays = np.load(sys.argv[1])
    global SCENE
    threads, runs, beta = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    if len(sys.argv) > 5:
        SCENE = sys.argv[5]
    torch.set_num_threads(threads)
    o = torch.from_numpy(rays[:, :3].copy())
    u = torch.from_numpy(rays[:, 3:].copy())
    with torch.no_grad():
        z, w, ev = sample(o, u, beta)  # warm-up
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            z, w, ev = sample(o, u, beta)
            times.append(time.perf_counter() - t0)
    times.sort()
    if len(sys.argv) > 6:  # one ray per batch (the per-ray convergence of the C sampler), for the spec
        with torch.no_grad():
            z = torch.cat([sample(o[i:i + 1], u[i:i + 1], beta)[0] for i in range(o.shape[0])], 0)
        np.save(sys.argv[6], z.numpy())
    print("TORCH %.6f %.2f %.6f" % (times[len(times) // 2], ev, float(z.mean())))


if __name__ == "__main__":
    main()
