"""rnnlyap: Lyapunov spectra of recurrent neural networks.

    import rnnlyap
    r = rnnlyap.spectrum(n=500, g=3)                       # random rate network
    r = rnnlyap.spectrum(weights=J, model="map")           # a given square matrix
    r = rnnlyap.trained_spectrum(model.state_dict(), x, model="lstm")   # a trained torch LSTM

Results are dicts with the keys of the result JSON (exponents, stderr, summary, params, ...);
exponents and stderr are numpy arrays. Options are those of `rnnlyap spectrum` with '-' → '_'.
The GIL is released while a spectrum is computed. Bad input raises rnnlyap.InvalidInput
(a ValueError).
"""
import json
import operator

import numpy as np

from ._rnnlyap import InvalidInput, compiled_backends, version  # noqa: F401
from . import _rnnlyap

__all__ = ["spectrum", "trained_spectrum", "InvalidInput", "version", "compiled_backends"]

_DEFAULTS = dict(model="rate", integrator="euler", n=100, g=2.0, weights="gaussian", alpha=2.0,
                 weights_file="", zero_diagonal=False, k=None, dt=0.1, t_warmup=100.0,
                 t_ons_warmup=100.0, t_sim=1000.0, t_ons=1.0, input_std=0.0, seed=1, backend="auto",
                 device=0, precision="fp64", qr="householder", threads=0, ensemble=1,
                 inputs_file="", lstm_h_only=False)


def _options(overrides):
    unknown = set(overrides) - set(_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
    o = dict(_DEFAULTS, **overrides)
    try:
        o["device"] = operator.index(o["device"])  # ints and numpy integers, not floats
    except TypeError:
        o["device"] = -1
    if o["device"] < 0 or isinstance(overrides.get("device"), bool):
        raise InvalidInput(f"device must be an integer >= 0, got {overrides['device']!r}")
    if o["k"] is None:
        o["k"] = 0  # resolved below
    return o


def _arrays(result):
    for key in ("exponents", "stderr"):
        result[key] = np.asarray([np.nan if v is None else v for v in result[key]], dtype=float)
    for m in result.get("members", []):
        m["exponents"] = np.asarray(m["exponents"], dtype=float)
    return result


def spectrum(weights=None, **options):
    """Spectrum of a random network (gaussian or levy weights, see `rnnlyap spectrum --help`), or of
    the square matrix `weights` (then `n` comes from it and `g` is not applied)."""
    o = _options(options)
    if weights is not None:
        weights = np.ascontiguousarray(weights, dtype=float)
        o["weights"], o["n"] = "file", int(weights.shape[0]) if weights.ndim == 2 else 0
        o["weights_file"] = "<array>"
    if not o["k"]:
        o["k"] = o["n"]
    return _arrays(json.loads(_rnnlyap.spectrum_json(json.dumps(o), weights)))


def _numpy(v):
    if hasattr(v, "detach"):  # a torch tensor
        v = v.detach().cpu().numpy()
    return np.ascontiguousarray(v, dtype=float)


def trained_spectrum(state_dict, inputs, model="lstm", **options):
    """Spectra of a trained single-layer rnn/gru/lstm (PyTorch state_dict: numpy arrays or tensors)
    driven by `inputs` (T x input_size, or B x T x input_size for one spectrum per sequence).
    t_sim=0 (the default here) averages every step after the warm-ups. With a batch, the result's
    top level holds means over sequences and "exponents_per_sequence" is a B x k array."""
    options.setdefault("t_sim", 0.0)
    o = _options(dict(options, model=model))
    sd = {k: _numpy(v) for k, v in state_dict.items()}
    hh = next((v for k, v in sd.items() if k.endswith("weight_hh_l0")), None)
    n = int(hh.shape[1]) if hh is not None else 0
    o["n"] = n
    if not o["k"]:
        o["k"] = 2 * n if model == "lstm" and not o["lstm_h_only"] else n
    r = _arrays(json.loads(_rnnlyap.trained_json(json.dumps(o), sd, _numpy(inputs))))
    if "members" in r:
        r["exponents_per_sequence"] = np.stack([m["exponents"] for m in r["members"]])
    return r
