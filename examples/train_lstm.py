#!/usr/bin/env python3
"""Lyapunov spectra while training: a small LSTM learns to recall its input from `delay` steps ago;
after every epoch rnnlyap computes the full (h, c) spectrum of the network driven by held-out
sequences, and the script plots λ_max, the mean exponent and the spectra over training.

    PYTHONPATH=build/python /usr/bin/python3 examples/train_lstm.py --epochs 30 --out lstm_training.png
(or after `pip install .`, plain python). Needs torch and matplotlib.
"""
import argparse
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import rnnlyap  # noqa: E402


def batch(rng, size, steps, delay):
    x = rng.standard_normal((size, steps, 1))
    y = np.zeros_like(x)
    y[:, delay:] = x[:, :-delay]
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--delay", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--steps-per-epoch", type=int, default=40)
    ap.add_argument("--out", default="lstm_training.png")
    a = ap.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    lstm = torch.nn.LSTM(1, a.hidden, batch_first=True)
    readout = torch.nn.Linear(a.hidden, 1)
    opt = torch.optim.Adam(list(lstm.parameters()) + list(readout.parameters()), lr=3e-3)
    x_eval = rng.standard_normal((4, 600, 1))  # 4 held-out sequences: one spectrum each

    history = []
    for epoch in range(a.epochs + 1):
        if epoch > 0:
            for _ in range(a.steps_per_epoch):
                x, y = batch(rng, 32, 60, a.delay)
                out, _ = lstm(x)
                loss = torch.nn.functional.mse_loss(readout(out)[:, a.delay:], y[:, a.delay:])
                opt.zero_grad()
                loss.backward()
                opt.step()
        with torch.no_grad():
            x, y = batch(rng, 64, 60, a.delay)
            out, _ = lstm(x)
            val = torch.nn.functional.mse_loss(readout(out)[:, a.delay:], y[:, a.delay:]).item()
        t0 = time.perf_counter()
        r = rnnlyap.trained_spectrum(lstm.state_dict(), x_eval, model="lstm", t_warmup=100, t_ons_warmup=100)
        history.append(dict(epoch=epoch, loss=val, spectrum=r["exponents"], stderr=r["stderr"],
                            lmax=r["summary"]["max_exponent"], lmax_se=r["summary_stderr"]["max_exponent"],
                            mean=r["summary"]["mean_exponent"], seconds=time.perf_counter() - t0))
        print(f"epoch {epoch:3d}  loss {val:.4f}  lambda_max {history[-1]['lmax']:+.4f}  "
              f"mean {history[-1]['mean']:+.4f}  ({history[-1]['seconds']:.2f} s for 4 spectra)")

    ep = np.array([h["epoch"] for h in history])
    fig, ax = plt.subplots(1, 3, figsize=(15, 4.2))
    ax[0].errorbar(ep, [h["lmax"] for h in history], yerr=[h["lmax_se"] for h in history], fmt="o-", ms=3,
                   label="λ_max")
    ax[0].plot(ep, [h["mean"] for h in history], "s-", ms=3, label="mean exponent")
    ax[0].axhline(0, color="k", lw=0.6)
    ax[0].set_xlabel("epoch")
    ax[0].set_ylabel("exponent [1/step]")
    ax[0].legend(frameon=False)
    ax[0].set_title(f"LSTM N={a.hidden}, delayed recall (delay {a.delay})", fontsize=9)
    ax[1].semilogy(ep, [h["loss"] for h in history], "o-", ms=3, color="C3")
    ax[1].set_xlabel("epoch")
    ax[1].set_ylabel("validation MSE")
    cmap = plt.get_cmap("viridis")
    k = len(history[0]["spectrum"])
    for h in history:
        ax[2].plot(np.arange(1, k + 1) / k, h["spectrum"], color=cmap(h["epoch"] / max(1, a.epochs)), lw=0.9)
    ax[2].set_xlabel("i / 2N  (full (h, c) spectrum)")
    ax[2].set_ylabel("λ_i [1/step]")
    ax[2].set_title("spectra over training (dark: early, light: late)", fontsize=9)
    fig.tight_layout()
    fig.savefig(a.out, dpi=120)
    print(f"train_lstm: wrote {a.out}")


if __name__ == "__main__":
    main()
