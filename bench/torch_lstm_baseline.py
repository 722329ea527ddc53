#!/usr/bin/env python3
"""Baseline for trained networks: the full (h, c) Lyapunov spectrum of a torch.nn.LSTM driven by
input sequences, as a plain PyTorch loop in the published style — a dense 2N × 2N Jacobian every
step, Q ← J Q, torch.linalg.qr every step, log|diag R| accumulated after the warm-ups. Two ways to
get the Jacobian: `autograd` (torch.autograd.functional.jacobian, vectorised) and `analytic` (the
dense matrix assembled from the gate derivatives). With --batched (analytic only) the B sequences
advance together — batched Jacobians, torch.bmm and a batched torch.linalg.qr — as published code
does to fill a GPU. Prints one JSON object.

    torch_lstm_baseline.py --hidden 512 --steps 1000 --batch 10 --jacobian autograd --device cpu
The network and inputs come from --seed (torch.manual_seed), the same ones bench/run_trained.sh
hands to rnnlyap through W.npz and X.npy.
"""
import argparse
import json
import time

import numpy as np
import torch


def emit(a, result):
    """Prints the result object, and writes it to --out-json when given."""
    line = json.dumps(result)
    print(line)
    if a.out_json:
        with open(a.out_json, "w") as f:
            f.write(line + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True, help="W.npz (state_dict of a 1-layer LSTM)")
    ap.add_argument("--inputs", required=True, help="X.npy, B x T x I")
    ap.add_argument("--t-warmup", type=int, default=100)
    ap.add_argument("--t-ons-warmup", type=int, default=100)
    ap.add_argument("--jacobian", choices=["autograd", "analytic"], default="autograd")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batched", action="store_true", help="all sequences at once (analytic)")
    ap.add_argument("--sequences", type=int, default=0,
                    help="only the first S sequences (0: all); `seconds` is then for S of them")
    ap.add_argument("--out-json", default=None,
                    help="also write the result object to this file")
    a = ap.parse_args()
    if a.batched and a.jacobian != "analytic":
        ap.error("--batched needs --jacobian analytic")
    torch.set_default_dtype(torch.float64)
    dev = torch.device(a.device)
    sd = {k: torch.tensor(v, device=dev) for k, v in np.load(a.weights).items()}
    x_all = torch.tensor(np.load(a.inputs), device=dev)
    if x_all.dim() == 2:
        x_all = x_all[None]
    if a.sequences > 0:
        x_all = x_all[: a.sequences]
    n = sd["weight_hh_l0"].shape[1]
    cell = torch.nn.LSTMCell(x_all.shape[2], n).to(dev)
    cell.load_state_dict({k[:-3]: v for k, v in sd.items()})
    w_hh = sd["weight_hh_l0"]

    def step(s, x):
        h, c = cell(x[None], (s[None, :n], s[None, n:]))
        return torch.cat([h[0], c[0]])

    def analytic(s, x):
        h, c = s[:n], s[n:]
        a_ = sd["weight_ih_l0"] @ x + sd["bias_ih_l0"] + w_hh @ h + sd["bias_hh_l0"]
        ai, af, ag, ao = a_.split(n)
        i, f, g, o = torch.sigmoid(ai), torch.sigmoid(af), torch.tanh(ag), torch.sigmoid(ao)
        c1 = f * c + i * g
        di, df, dg, do = i * (1 - i), f * (1 - f), 1 - g * g, o * (1 - o)
        wi, wf, wg, wo = w_hh.split(n)
        dc_dh = (df * c)[:, None] * wf + (di * g)[:, None] * wi + (i * dg)[:, None] * wg
        t1 = torch.tanh(c1)
        dh_dh = (do * t1)[:, None] * wo + (o * (1 - t1 * t1))[:, None] * dc_dh
        dh_dc = torch.diag(o * (1 - t1 * t1) * f)
        J = torch.cat([torch.cat([dh_dh, dh_dc], 1), torch.cat([dc_dh, torch.diag(f)], 1)], 0)
        return J, torch.cat([o * t1, c1])

    if a.batched:
        t_total, lam = batched(a, sd, x_all, n, dev)
        emit(a, {"seconds": t_total, "jacobian": "analytic-batched", "hidden": n,
                          "batch": int(x_all.shape[0]), "steps": int(x_all.shape[1]),
                          "max_exponent": float(lam.max()), "mean_exponent": float(lam.mean()),
                          "torch": torch.__version__, "threads": torch.get_num_threads()})
        return

    results, t_total = [], 0.0
    for b in range(x_all.shape[0]):
        x = x_all[b]
        s = torch.zeros(2 * n, device=dev)
        gen = torch.Generator(device="cpu").manual_seed(1)
        q, _ = torch.linalg.qr(torch.randn(2 * n, 2 * n, generator=gen).to(dev))
        logs = torch.zeros(2 * n, device=dev)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.no_grad():
            for t in range(a.t_warmup):
                s = step(s, x[t])
        for t in range(a.t_warmup, x.shape[0]):
            if a.jacobian == "autograd":
                J = torch.autograd.functional.jacobian(lambda z: step(z, x[t]), s, vectorize=True)
                with torch.no_grad():
                    s = step(s, x[t])
            else:
                with torch.no_grad():
                    J, s = analytic(s, x[t])
            with torch.no_grad():
                q, r = torch.linalg.qr(J @ q)
                if t >= a.t_warmup + a.t_ons_warmup:
                    logs += torch.log(torch.abs(torch.diagonal(r)))
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t_total += time.perf_counter() - t0
        results.append((logs / (x.shape[0] - a.t_warmup - a.t_ons_warmup)).cpu().numpy())
    lam = np.mean(results, axis=0)
    emit(a, {"seconds": t_total, "jacobian": a.jacobian, "hidden": n, "batch": int(x_all.shape[0]),
                      "steps": int(x_all.shape[1]), "max_exponent": float(lam.max()),
                      "mean_exponent": float(lam.mean()), "torch": torch.__version__,
                      "threads": torch.get_num_threads()})


def batched(a, sd, x_all, n, dev):
    """All sequences at once: J is B x 2N x 2N, Q <- bmm(J, Q), batched QR. Returns (seconds,
    the exponents averaged over the sequences)."""
    bsz, steps = x_all.shape[0], x_all.shape[1]
    w_ih, w_hh = sd["weight_ih_l0"], sd["weight_hh_l0"]
    bias = sd["bias_ih_l0"] + sd["bias_hh_l0"]
    wi, wf, wg, wo = w_hh.split(n)
    h = torch.zeros(bsz, n, device=dev)
    c = torch.zeros(bsz, n, device=dev)
    gen = torch.Generator(device="cpu").manual_seed(1)
    q0, _ = torch.linalg.qr(torch.randn(2 * n, 2 * n, generator=gen).to(dev))
    q = q0.expand(bsz, 2 * n, 2 * n).clone()
    logs = torch.zeros(bsz, 2 * n, device=dev)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    with torch.no_grad():
        for t in range(steps):
            a_ = x_all[:, t] @ w_ih.T + h @ w_hh.T + bias
            ai, af, ag, ao = a_.split(n, dim=1)
            i, f, g, o = torch.sigmoid(ai), torch.sigmoid(af), torch.tanh(ag), torch.sigmoid(ao)
            c1 = f * c + i * g
            t1 = torch.tanh(c1)
            if t >= a.t_warmup:
                di, df, dg, do = i * (1 - i), f * (1 - f), 1 - g * g, o * (1 - o)
                dc_dh = (df * c)[:, :, None] * wf + (di * g)[:, :, None] * wi + (i * dg)[:, :, None] * wg
                dh_dh = (do * t1)[:, :, None] * wo + (o * (1 - t1 * t1))[:, :, None] * dc_dh
                dh_dc = torch.diag_embed(o * (1 - t1 * t1) * f)
                J = torch.cat([torch.cat([dh_dh, dh_dc], 2), torch.cat([dc_dh, torch.diag_embed(f)], 2)], 1)
                q, r = torch.linalg.qr(torch.bmm(J, q))
                if t >= a.t_warmup + a.t_ons_warmup:
                    logs += torch.log(torch.abs(torch.diagonal(r, dim1=1, dim2=2)))
            h, c = o * t1, c1
    if dev.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    lam = (logs / (steps - a.t_warmup - a.t_ons_warmup)).mean(0).cpu().numpy()
    return seconds, lam


if __name__ == "__main__":
    main()
