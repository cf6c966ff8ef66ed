# bench/nn_torch.py — the PyTorch (CPU) port of moonlab.nn's model for bench/nn.lua: same architecture
# (byte embedding, pre-norm RMSNorm, RoPE half-split, causal SDPA, SwiGLU, untied head, cross-entropy,
# AdamW), same sizes. Prints "TRAIN <median s/step>", "GEN <tokens/s>", "MEM <peak RSS growth KiB>".
# Usage: python3 bench/nn_torch.py THREADS LAYERS D_MODEL HEADS D_FF CONTEXT BATCH RUNS GEN_TOKENS
import math, resource, sys, time
import torch
import torch.nn.functional as F

th, L, D, H, FF, C, B, RUNS, NGEN = map(int, sys.argv[1:10])
torch.set_num_threads(th)
torch.manual_seed(0)
V, Dh = 256, D // H
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

def rmsnorm(x, w, eps=1e-5):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w

inv = 10000.0 ** (-torch.arange(0, Dh // 2, dtype=torch.float32) * 2 / Dh)
ang = torch.arange(C, dtype=torch.float32)[:, None] * inv[None, :]
COS, SIN = ang.cos(), ang.sin()

def rope(x, t0=0):  # x [B,H,T,Dh]
    T = x.shape[2]
    c, s = COS[t0:t0 + T], SIN[t0:t0 + T]
    a, b = x[..., :Dh // 2], x[..., Dh // 2:]
    return torch.cat([a * c - b * s, a * s + b * c], -1)

def P(*shape, std=0.02):
    return torch.nn.Parameter(torch.randn(*shape) * std)

params = {"wte": P(V, D), "lnf": torch.nn.Parameter(torch.ones(D)), "head": P(D, V)}
for l in range(L):
    for n, s in (("wq", (D, D)), ("wk", (D, D)), ("wv", (D, D)), ("wo", (D, D)), ("w1", (D, FF)),
                 ("w3", (D, FF)), ("w2", (FF, D))):
        params[f"{n}{l}"] = P(*s)
    params[f"ln1{l}"] = torch.nn.Parameter(torch.ones(D))
    params[f"ln2{l}"] = torch.nn.Parameter(torch.ones(D))
p = params

def forward(tok):
    Bn, T = tok.shape
    x = p["wte"][tok]
    for l in range(L):
        h = rmsnorm(x, p[f"ln1{l}"])
        q = (h @ p[f"wq{l}"]).view(Bn, T, H, Dh).transpose(1, 2)
        k = (h @ p[f"wk{l}"]).view(Bn, T, H, Dh).transpose(1, 2)
        v = (h @ p[f"wv{l}"]).view(Bn, T, H, Dh).transpose(1, 2)
        q, k = rope(q), rope(k)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(Dh)
        s = s.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
        y = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(Bn, T, D)
        x = x + y @ p[f"wo{l}"]
        h2 = rmsnorm(x, p[f"ln2{l}"])
        x = x + (F.silu(h2 @ p[f"w1{l}"]) * (h2 @ p[f"w3{l}"])) @ p[f"w2{l}"]
    return rmsnorm(x, p["lnf"]) @ p["head"]

opt = torch.optim.AdamW(list(params.values()), lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1)
tok = torch.randint(0, V, (B, C))
tgt = torch.randint(0, V, (B, C))

def step():
    t0 = time.perf_counter()
    loss = F.cross_entropy(forward(tok).view(-1, V), tgt.view(-1))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0)
    opt.step()
    opt.zero_grad()
    return time.perf_counter() - t0

step()
ts = sorted(step() for _ in range(RUNS))
print("TRAIN", ts[len(ts) // 2])
print("MEM", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base)

@torch.no_grad()
def generate(n):  # greedy, KV cache
    kc = [torch.zeros(1, H, C, Dh) for _ in range(L)]
    vc = [torch.zeros(1, H, C, Dh) for _ in range(L)]
    t0 = time.perf_counter()
    cur = torch.tensor([[1]])
    for t in range(n):
        x = p["wte"][cur]
        for l in range(L):
            h = rmsnorm(x, p[f"ln1{l}"])
            q = rope((h @ p[f"wq{l}"]).view(1, 1, H, Dh).transpose(1, 2), t)
            k = rope((h @ p[f"wk{l}"]).view(1, 1, H, Dh).transpose(1, 2), t)
            v = (h @ p[f"wv{l}"]).view(1, 1, H, Dh).transpose(1, 2)
            kc[l][:, :, t] = k[:, :, 0]
            vc[l][:, :, t] = v[:, :, 0]
            s = (q @ kc[l][:, :, :t + 1].transpose(-1, -2)) / math.sqrt(Dh)
            y = (torch.softmax(s, -1) @ vc[l][:, :, :t + 1]).transpose(1, 2).reshape(1, 1, D)
            x = x + y @ p[f"wo{l}"]
            h2 = rmsnorm(x, p[f"ln2{l}"])
            x = x + (F.silu(h2 @ p[f"w1{l}"]) * (h2 @ p[f"w3{l}"])) @ p[f"w2{l}"]
        cur = (rmsnorm(x, p["lnf"]) @ p["head"]).argmax(-1)
    return n / (time.perf_counter() - t0)

generate(8)
g = sorted(generate(NGEN) for _ in range(3))
print("GEN", g[1])
