"""rnnlyap: Lyapunov spectra of recurrent neural networks.

    import rnnlyap
    r = rnnlyap.spectrum(n=500, g=3)                          # a random rate network
    r = rnnlyap.spectrum(n=500, weights="levy", alpha=1.5)   # heavy-tailed weights
    r = rnnlyap.spectrum(J=matrix, model="map")               # a given square matrix
    r = rnnlyap.trained_spectrum(lstm, x)                     # a torch nn.RNN/GRU/LSTM (or its state_dict)
    s = rnnlyap.sweep(g=np.arange(0.5, 3.01, 0.25), n=[100, 200], ensemble=4)
    pandas.DataFrame(s["table"])                              # one row per grid point

Results are dicts with the keys of the command line's result JSON (exponents, stderr, summary,
params, ...), with numpy arrays for the exponents. Options are those of `rnnlyap spectrum` with
'-' -> '_'. Every function computes on a worker thread with the GIL released; Ctrl-C stops it
within about a second with KeyboardInterrupt, and `progress=callable(phase, done, total)` is called
on the calling thread. Bad input raises rnnlyap.InvalidInput (a ValueError) naming the argument; a
run that fails (e.g. its state overflows) raises rnnlyap.Error (a RuntimeError). The full guide is
docs/python.md.
"""
import collections.abc
import functools
import inspect
import json
import math
import numbers
import operator
import os
import re
import sys
import tempfile

import numpy as np

from . import _rnnlyap
from ._rnnlyap import Error, InvalidInput, compiled_backends, version  # noqa: F401

__all__ = ["spectrum", "trained_spectrum", "sweep", "InvalidInput", "Error", "version",
           "compiled_backends"]

_RANDOM_MODELS = ("rate", "map")
_TRAINED_MODELS = ("rnn", "gru", "lstm")
_SEED_MAX = 2**64 - 1
_INT_MAX = 2**31 - 1

# --------------------------------------------------------------------------------------------------
# Messages: the library's messages name command-line flags; here they name the Python arguments.

_FLAG = re.compile(r"--([a-z][a-z0-9-]*)( (?=[-+]?\.?[0-9]))?")
_FLAG_NAMES = {"weights-file": "J", "inputs": "inputs"}


def _python_names(message):
    """'--t-ons 0.25 is not ...' -> 't_ons=0.25 is not ...', '--t-sim must' -> 't_sim must'."""
    def repl(m):
        name = _FLAG_NAMES.get(m.group(1), m.group(1).replace("-", "_"))
        return name + ("=" if m.group(2) else "")
    return _FLAG.sub(repl, message)


def _call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except InvalidInput as e:
        raise InvalidInput(_python_names(str(e))) from None
    except Error as e:
        raise Error(_python_names(str(e))) from None


# --------------------------------------------------------------------------------------------------
# Argument checks: types here, values (ranges, combinations) in the library, as for the command line.

def _is_bool(v):
    return isinstance(v, (bool, np.bool_))


def _int(name, v, lo, hi):
    if _is_bool(v):
        raise InvalidInput(f"{name} must be an integer, got {v!r}")
    try:
        i = operator.index(v)  # int and numpy integers; not floats, strings or bools
    except TypeError:
        raise InvalidInput(f"{name} must be an integer, got {v!r}") from None
    if i < lo or i > hi:
        raise InvalidInput(f"{name} must be an integer in {lo} ... {hi}, got {i}")
    return int(i)


def _real(name, v):
    if isinstance(v, np.ndarray) and v.ndim == 0:  # np.array(2.0): its number
        v = v[()]
    if _is_bool(v) or not isinstance(v, numbers.Real):
        raise InvalidInput(f"{name} must be a real number, got {v!r}")
    f = float(v)
    if not math.isfinite(f):
        raise InvalidInput(f"{name} must be finite, got {f}")
    return f


def _flag(name, v):
    if not _is_bool(v):
        raise InvalidInput(f"{name} must be True or False, got {v!r}")
    return bool(v)


def _choice(name, v, choices):
    if not isinstance(v, str) or v not in choices:
        raise InvalidInput(f"{name} must be one of {', '.join(repr(c) for c in choices)}, got {v!r}")
    return v


def _clv_options(o, clv, clv_stats, clv_window, clv_transient):
    o["clv"] = _flag("clv", clv)
    o["clv_stats"] = _flag("clv_stats", clv_stats)
    # None: all of the averaging time. An explicit 0 is refused, as the program's --clv-window 0
    # (it would silently mean "all").
    if clv_window is not None:
        o["clv_window"] = _real("clv_window", clv_window)
        if o["clv_window"] == 0:
            raise InvalidInput("clv_window=0 is refused: leave it out (None) to keep all of the "
                               "averaging time")
    if clv_transient is not None:
        o["clv_transient"] = _real("clv_transient", clv_transient)


def _callback(progress):
    if progress is not None and not callable(progress):
        raise InvalidInput(f"progress must be None or a callable(phase, done, total), got {progress!r}")
    return progress


def _real_array(name, v):
    """A real (float or integer) array of float64, C order; torch tensors on any device."""
    if hasattr(v, "detach") and hasattr(v, "is_complex"):  # a torch tensor
        if v.is_complex():
            raise InvalidInput(f"{name} must be real, got a complex tensor")
        if str(v.dtype) == "torch.bool":  # one rule with numpy's bool arrays and .npy files
            raise InvalidInput(f"{name} must be a real (float or integer) array, got dtype torch.bool")
        v = v.detach().cpu().double().numpy()
    try:
        a = np.asarray(v)
    except Exception as e:  # ragged nested lists and the like
        raise InvalidInput(f"{name} is not an array: {e}") from None
    if a.dtype.kind not in "fiu":
        raise InvalidInput(f"{name} must be a real (float or integer) array, got dtype {a.dtype}")
    if a.size == 0:
        raise InvalidInput(f"{name} is empty (shape {a.shape})")
    a = np.ascontiguousarray(a, dtype=np.float64)
    bad = ~np.isfinite(a)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InvalidInput(f"{name} has a non-finite entry at {where}: {a[where]}")
    return a


def _common(o, k, t_warmup, t_ons_warmup, t_sim, t_ons, seed, backend, device, precision, qr,
            threads):
    """The options every model has, checked and put into the options dict `o`."""
    o.update(
        k=None if k is None else _int("k", k, 1, _INT_MAX),
        t_warmup=_real("t_warmup", t_warmup),
        t_ons_warmup=_real("t_ons_warmup", t_ons_warmup),
        t_sim=_real("t_sim", t_sim),
        t_ons=_real("t_ons", t_ons),
        seed=_int("seed", seed, 0, _SEED_MAX),
        backend=_choice("backend", backend, ("auto", "cpu", "cuda")),
        device=_int("device", device, 0, _INT_MAX),
        precision=_choice("precision", precision, ("fp64", "fp32")),
        qr=_choice("qr", qr, ("householder", "cholesky2", "auto")),
        threads=_int("threads", threads, 0, _INT_MAX),
        weights_file="", inputs_file="",
    )
    return o


def _part_seeds(o, network_seed=None, state_seed=None, basis_seed=None, noise_seed=None):
    """The seeds of single parts (each defaults to `seed`), checked into `o`."""
    for name, v in (("network_seed", network_seed), ("state_seed", state_seed),
                    ("basis_seed", basis_seed), ("noise_seed", noise_seed)):
        if v is not None:
            o[name] = _int(name, v, 0, _SEED_MAX)
    if "noise_seed" in o and not o.get("input_std", 0) > 0:
        raise InvalidInput("noise_seed applies with input_std > 0 only (there is no noise)")
    return o


def _is_path(v):
    return isinstance(v, (str, bytes, os.PathLike))


class _GivenState:
    """A given initial state for the library: a path to an .npy file is passed on as it is (as the
    command line's --initial-state); an array goes through a temporary .npy file (removed on exit)."""

    def __init__(self, o, initial_state):
        self.path = None
        if initial_state is None:
            return
        if "state_seed" in o:
            raise InvalidInput("state_seed and initial_state exclude each other (the state is given)")
        if _is_path(initial_state):
            path = os.fsdecode(os.fspath(initial_state))
            if not path:
                raise InvalidInput("initial_state must be an array or the path of an .npy file, got "
                                   "an empty string")
            o["initial_state_file"] = path  # the library refuses what is not a regular file
            return
        h0 = _real_array("initial_state", initial_state).ravel()
        if h0.size == 0:
            raise InvalidInput("initial_state is empty")
        fd, self.path = tempfile.mkstemp(suffix=".npy", prefix="rnnlyap-h0-")
        with os.fdopen(fd, "wb") as f:
            np.save(f, h0)
        o["initial_state_file"] = self.path

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        if self.path:
            os.unlink(self.path)
            if isinstance(error, InvalidInput) and self.path in str(error):
                raise InvalidInput(str(error).replace(self.path, "<array>")) from None

    def name_in(self, r):
        if self.path and "params" in r:
            r["params"]["initial_state_file"] = "<array>"
        for m in r.get("members", []):
            if self.path and "params" in m:
                m["params"]["initial_state_file"] = "<array>"
        return r


# The options of the command line, by the models they apply to (src/cli/options.cpp, kOptionScopes;
# README "Errors"): an option for another model raises InvalidInput naming it, never ignored.
_RANDOM_ONLY = "the random networks (rate, map) of rnnlyap.spectrum and rnnlyap.sweep"
_TRAINED_ONLY = "the trained models rnn, gru and lstm (rnnlyap.trained_spectrum)"
_NOT_FOR_TRAINED = {
    "n": f"{_RANDOM_ONLY}; a trained model's N comes from its weights",
    "g": f"{_RANDOM_ONLY}; a trained model's weights are not scaled",
    "weights": f"{_RANDOM_ONLY}; a trained model's weights are `network`",
    "J": f"{_RANDOM_ONLY}; a trained model's weights are `network`",
    "alpha": f"{_RANDOM_ONLY} with levy weights",
    "ensemble": f"{_RANDOM_ONLY}; a trained model is one network (give several input sequences)",
    "input_std": f"{_RANDOM_ONLY}; a trained model takes `inputs`",
    "bias_std": f"{_RANDOM_ONLY}; a trained model's biases come from its weights",
    "zero_diagonal": f"{_RANDOM_ONLY}; a trained model's weights are used as they are",
    "integrator": "the rate model (trained models step in discrete time)",
    "dt": "the rate model (trained-model times are in steps)",
    "trace": "single runs of random networks (rnnlyap.spectrum)",
    "partial": "rnnlyap.sweep",
    "state_dict": ("state_dict is now `network`: pass the state_dict (or the module itself) as "
                   "the first argument or network="),
}
_NOT_FOR_RANDOM = {
    "inputs": _TRAINED_ONLY, "network": _TRAINED_ONLY, "state_dict": _TRAINED_ONLY,
    "lstm_h_only": "model 'lstm' (rnnlyap.trained_spectrum)", "batch_first": _TRAINED_ONLY,
    "nonlinearity": _TRAINED_ONLY, "num_layers": _TRAINED_ONLY,
    "weights_file": "the command line; load the matrix (np.load) and pass it as J",
    "inputs_file": "the command line; load the inputs (np.load) and pass them as inputs",
}


def _refusing(scopes, what):
    """Keyword arguments of the command line that `fn` does not take raise InvalidInput naming
    them (`what` names the model family); any other unknown name raises TypeError, as Python does.
    help() shows fn's own signature."""
    def decorate(fn):
        params = inspect.signature(fn).parameters

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            for name in kwargs:
                if name not in params:
                    if name in scopes:
                        scope = scopes[name]
                        raise InvalidInput(scope if scope.startswith(name + " ") else
                                           f"{name} does not apply to {what}; it is for {scope}")
                    raise TypeError(f"{fn.__name__}() got an unexpected keyword argument {name!r}")
            return fn(*args, **kwargs)
        return wrapper
    return decorate


def _random_model(model, integrator, dt, o):
    """model, integrator and dt of rnnlyap.spectrum / rnnlyap.sweep."""
    if isinstance(model, str) and model in _TRAINED_MODELS:
        raise InvalidInput(f"model={model!r} is a trained model: use rnnlyap.trained_spectrum")
    o["model"] = _choice("model", model, _RANDOM_MODELS)
    if o["model"] != "rate":
        for name, v in (("integrator", integrator), ("dt", dt)):
            if v is not None:
                raise InvalidInput(f"{name} does not apply to model={o['model']!r} (it is for the "
                                   "rate model; map times are in steps)")
    else:
        o["integrator"] = _choice("integrator", "euler" if integrator is None else integrator,
                                  ("euler", "rk4"))
        o["dt"] = 0.1 if dt is None else _real("dt", dt)
    return o


def _floats(v, null=np.nan):
    return np.asarray([null if x is None else x for x in v], dtype=float)


def _exponents(v):
    """Exponents from JSON: null there is −∞ (a direction annihilated exactly: a unit that is off, a
    singular matrix), since NaN and +∞ stop a run instead."""
    return _floats(v, null=-np.inf)


def _summary(s):
    """The mean and the sum of a spectrum holding −∞ are −∞ (null in JSON)."""
    for key in ("mean_exponent", "sum"):
        if key in s and s[key] is None:
            s[key] = -np.inf


def _ftle_arrays(f):
    for key in ("q", "quantiles", "mean", "std"):
        f[key] = np.asarray([[np.nan if x is None else x for x in row] for row in f[key]], dtype=float) \
            if key == "quantiles" else _floats(f[key])


def _clv_arrays(c):
    for key in ("convergence", "ipr", "n_ipr", "exponents", "stderr"):
        if key in c:
            c[key] = _floats(c[key])
    if c.get("angle"):
        for key in ("q", "quantiles"):
            c["angle"][key] = _floats(c["angle"][key])


def _run_arrays(r):
    """One run's (or an ensemble's top level's) JSON lists as numpy arrays, in place."""
    if "exponents" in r:
        r["exponents"] = _exponents(r["exponents"])
    if "stderr" in r:
        r["stderr"] = _floats(r["stderr"])
    if isinstance(r.get("summary"), dict):
        _summary(r["summary"])
    if "ftle" in r:
        _ftle_arrays(r["ftle"])
    if "clv" in r:
        _clv_arrays(r["clv"])


def _result(text):
    r = json.loads(text)
    _run_arrays(r)
    for m in r.get("members", []):
        _run_arrays(m)
    return r


# --------------------------------------------------------------------------------------------------

_SPECTRUM_DOC_OPTIONS = """
    Schedule and numerics (times in τ for `rate`, in steps for `map` and trained models):
      k            number of exponents (default: all; a partial spectrum costs ∝ k)
      t_warmup     state-only warm-up (100)
      t_ons_warmup basis warm-up, logs discarded (100)
      t_sim        averaging time ({t_sim})
      t_ons        time between re-orthonormalisations, a whole number of steps (1)
      seed         0 ... 2**64-1: {seeded} (1)
      backend      "auto" (a GPU when present and the run fits), "cpu" or "cuda"
      device       CUDA device index (0)
      precision    "fp64" or "fp32"
      qr           "householder", "cholesky2" or "auto" (README, "Precision and QR")
      threads      CPU BLAS threads; 0 keeps the library's default
      progress     None or callable(phase: str, done: int, total: int), called on this thread
                   about every 0.1 s while the run advances ({tqdm})
"""


@_refusing(_NOT_FOR_RANDOM, "rnnlyap.spectrum (models rate and map)")
def spectrum(J=None, *, model="rate", n=None, g=None, weights=None, alpha=None,
             zero_diagonal=False, k=None, integrator=None, dt=None, t_warmup=100.0,
             t_ons_warmup=100.0, t_sim=1000.0, t_ons=1.0, input_std=0.0, bias_std=0.0, seed=1,
             ensemble=1, backend="auto", device=0, precision="fp64", qr="householder", threads=0,
             progress=None, trace=False, network_seed=None, state_seed=None, basis_seed=None,
             noise_seed=None, initial_state=None, ftle_window=0.0, clv=False, clv_stats=False,
             clv_window=None, clv_transient=None):
    """The Lyapunov spectrum of a random network, or of the given square matrix J.

        rnnlyap.spectrum(n=500, g=3)                         # gaussian J_ij ~ N(0, g²/N)
        rnnlyap.spectrum(n=500, weights="levy", alpha=1.5)   # J_ij = g N^(-1/α) S_α
        rnnlyap.spectrum(J=matrix, model="map", ensemble=8)  # one matrix, 8 initial conditions

    Model (the CLI's `rnnlyap spectrum`):
      J            None, or a square real matrix (numpy array or torch tensor): it sets N, and g,
                   weights and alpha do not apply; an `n` that differs from its size is refused.
                   A positional first argument is J.
      model        "rate": τ dh/dt = -h + J tanh(h) + b (+ noise); "map": h <- J tanh(h) + b
                   (+ noise)
      n            neurons of a random network (100)
      g            gain (2.0)
      weights      "gaussian" (default) or "levy"
      alpha        tail index of levy weights, in (0, 2] (2.0); only with weights="levy"
      zero_diagonal  J_ii = 0 (also applied to a given J)
      integrator   "euler" (default) or "rk4"; rate model only
      dt           Euler/RK4 step in τ, in (0, 1] (0.1); rate model only
      input_std    σ of the white-noise input (0)
      bias_std     random networks: bias b_i ~ N(0, bias_std²) drawn from the seed (0: no bias)
      ensemble     B runs with seeds seed ... seed+B-1: B random networks, or for a given J the
                   same matrix from B initial states (and noise)
      network_seed, state_seed, basis_seed, noise_seed
                   the seed of one part alone (default: seed; in an ensemble seed + m for the
                   parts not given: network_seed=7, ensemble=20 is 20 initial conditions of
                   one network); network_seed not with J, noise_seed only with input_std > 0
      initial_state  the initial state (N values: an array, a tensor, or the path of an .npy
                   file) instead of one drawn from the state seed
      ftle_window  finite-time exponents over windows of this length (a whole number of t_ons;
                   0: none): result["ftle"] holds per exponent the quantiles q (5, 25, 50, 75,
                   95 %) of the window estimates as a k × 5 array, their mean and std
      clv          True: result["clv"]["vectors"], the covariant Lyapunov vectors (Ginelli et al.
                   2007) at the middle of the clv window, an N × k array of unit columns in the
                   order of the exponents (single runs only)
      clv_stats    True: result["clv"] holds their statistics over the window: "ipr" and "n_ipr"
                   (localisation), "exponents" and "stderr" (each vector's own growth rate),
                   "angle" (quantiles of the smallest angle between the unstable and stable
                   subspaces, or None)
      clv_window   the first clv_window of the averaging time is kept for them (a whole number of
                   t_ons; None: all of it; memory: window/t_ons · k² + 101 · N · k doubles at most)
      clv_transient  backward steps (in time) discarded before an instant is used (default:
                   t_ons_warmup); the window must be at least twice as long
      trace        True: result["trace"] = {"time": (T,), "estimates": (T, k)}, the running
                   estimate after every averaged re-orthonormalisation (single runs only; its
                   last row equals result["exponents"])
    {options}
    Returns the result JSON as a dict: "exponents" and "stderr" (numpy arrays, QR order),
    "summary" (max_exponent, mean_exponent, sum, n_positive, ky_dimension, ks_entropy),
    "summary_stderr" (the standard errors of those but n_positive; batch means), "params" (the
    options as used), "backend", "device", "precision", "timing", "schedule", "warnings". With
    ensemble > 1 the top level holds the means over the members with their standard errors
    ("stderr", "summary_stderr"), "members" each member's result, and "exponents_per_member" is a
    B × k array.

    Progress with tqdm:

        from tqdm import tqdm
        with tqdm(unit="step") as bar:
            def show(phase, done, total):
                bar.total = total
                bar.set_description(phase, refresh=False)
                bar.update(done - bar.n)
            r = rnnlyap.spectrum(n=1000, g=3, progress=show)

    Ctrl-C raises KeyboardInterrupt within about a second. Bad arguments raise InvalidInput
    naming them; a run whose exponents would not be finite raises rnnlyap.Error.
    """
    o = _common({}, k, t_warmup, t_ons_warmup, t_sim, t_ons, seed, backend, device, precision, qr,
                threads)
    _random_model(model, integrator, dt, o)
    o["zero_diagonal"] = _flag("zero_diagonal", zero_diagonal)
    o["input_std"] = _real("input_std", input_std)
    o["bias_std"] = _real("bias_std", bias_std)
    o["ftle_window"] = _real("ftle_window", ftle_window)
    _clv_options(o, clv, clv_stats, clv_window, clv_transient)
    o["ensemble"] = _int("ensemble", ensemble, 1, _INT_MAX)
    _part_seeds(o, network_seed, state_seed, basis_seed, noise_seed)
    if J is not None and network_seed is not None:
        raise InvalidInput("network_seed does not apply to a given matrix J (its weights are given)")
    trace = _flag("trace", trace)
    _callback(progress)
    if trace and o["ensemble"] > 1:
        raise InvalidInput(f"trace=True is for single runs, not with ensemble={o['ensemble']}")
    if weights is not None and not isinstance(weights, str):
        raise InvalidInput("weights must be 'gaussian' or 'levy' (a matrix is passed as J=...)")
    if J is not None:
        J = _real_array("J", J)
        if J.ndim != 2 or J.shape[0] != J.shape[1]:
            raise InvalidInput(f"J must be a square matrix, got shape {J.shape}")
        size = J.shape[0]
        if n is not None and _int("n", n, 1, _INT_MAX) != size:
            raise InvalidInput(f"n={n} contradicts J, which is {size} x {size} (N comes from J)")
        for name, v in (("g", g), ("weights", weights), ("alpha", alpha),
                        ("bias_std", bias_std or None)):
            if v is not None:
                raise InvalidInput(f"{name} does not apply to a given matrix J (it is used as it "
                                   "is; scale J instead)" if name == "g" else
                                   f"{name} does not apply to a given matrix J (it is for random "
                                   "networks)")
        o.update(n=size, weights="file", weights_file="<array>")
    else:
        o["n"] = 100 if n is None else _int("n", n, 1, _INT_MAX)
        o["g"] = 2.0 if g is None else _real("g", g)
        if weights == "file":
            raise InvalidInput("weights='file' needs the matrix: pass it as J=...")
        o["weights"] = _choice("weights", "gaussian" if weights is None else weights,
                               ("gaussian", "levy"))
        if o["weights"] == "levy":
            o["alpha"] = 2.0 if alpha is None else _real("alpha", alpha)
        elif alpha is not None:
            raise InvalidInput(f"alpha applies to weights='levy' only ({o['weights']} weights have "
                               "no tail index)")
    if initial_state is not None and not _is_path(initial_state):
        initial_state = _real_array("initial_state", initial_state).ravel()
        if initial_state.size != o["n"]:
            raise InvalidInput(f"initial_state has {initial_state.size} values; the network has "
                               f"N = {o['n']}")
    with _GivenState(o, initial_state) as given:
        text, tr, vectors = _call(_rnnlyap.spectrum_json, json.dumps(o), J, progress, trace)
        r = given.name_in(_result(text))
    if vectors is not None:
        r["clv"]["vectors"] = vectors
    if "members" in r:
        r["exponents_per_member"] = np.stack([m["exponents"] for m in r["members"]])
    if tr is not None:
        r["trace"] = {"time": tr[0], "estimates": tr[1]}
    return r


spectrum.__wrapped__.__doc__ = spectrum.__doc__ = spectrum.__wrapped__.__doc__.replace(
    "{options}", _SPECTRUM_DOC_OPTIONS.format(
        t_sim=1000, seeded="weights, initial state, initial basis and noise",
        tqdm="see the tqdm example below"))


# --------------------------------------------------------------------------------------------------
# Trained networks.

_MODES = {"RNN_TANH": ("rnn", "tanh"), "RNN_RELU": ("rnn", "relu"), "GRU": ("gru", None),
          "LSTM": ("lstm", None)}
_GATES = {1: "rnn", 3: "gru", 4: "lstm"}


def _torch_module(obj):
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def _module_network(mod):
    """(state_dict, model, nonlinearity, batch_first) of a torch nn.RNN/GRU/LSTM; its num_layers
    layers are in the state_dict (weight_ih_l0, weight_ih_l1, ...)."""
    import torch
    if not isinstance(mod, torch.nn.RNNBase) or mod.mode not in _MODES:
        raise InvalidInput(f"network must be a torch nn.RNN, nn.GRU or nn.LSTM (or a state_dict), got "
                           f"{type(mod).__name__}; for a model that contains one, pass that "
                           "submodule (e.g. model.lstm)")
    if mod.bidirectional:
        raise InvalidInput(f"network: {type(mod).__name__}(bidirectional=True) is not supported: only "
                           "unidirectional networks are")
    if getattr(mod, "proj_size", 0) > 0:
        raise InvalidInput(f"network: LSTM(proj_size={mod.proj_size}) is not supported: networks with "
                           "projections are not")
    model, nonlinearity = _MODES[mod.mode]
    return mod.state_dict(), model, nonlinearity, bool(mod.batch_first)


def _state_dict_model(sd):
    """The model a state_dict's weight_hh_l0 (G·N × N) determines: G = 1, 3, 4 for rnn, gru, lstm."""
    shapes = [v.shape for key, v in sd.items()
              if key == "weight_hh_l0" or key.endswith(".weight_hh_l0")]
    if len(shapes) != 1:
        raise InvalidInput("network: " + ("no weight_hh_l0" if not shapes else
                                          "more than one weight_hh_l0") +
                           " to tell the model from; give model='rnn', 'gru' or 'lstm'")
    s = shapes[0]
    if len(s) != 2 or s[1] == 0 or s[0] % s[1] or s[0] // s[1] not in _GATES:
        raise InvalidInput(f"network: weight_hh_l0 has shape {tuple(s)}, which is (G*N, N) for no "
                           "G in 1 (rnn), 3 (gru), 4 (lstm)")
    return _GATES[s[0] // s[1]]


@_refusing(_NOT_FOR_TRAINED, "rnnlyap.trained_spectrum (trained models rnn, gru, lstm)")
def trained_spectrum(network, inputs, model=None, *, batch_first=None, nonlinearity=None,
                     lstm_h_only=False, k=None, t_warmup=100.0, t_ons_warmup=100.0, t_sim=0.0,
                     t_ons=1.0, seed=1, backend="auto", device=0, precision="fp64",
                     qr="householder", threads=0, progress=None, initial_state=None,
                     ftle_window=0.0, clv=False, clv_stats=False, clv_window=None,
                     clv_transient=None):
    """Lyapunov spectra of a trained recurrent network driven by input sequences: one spectrum
    per sequence (exponents per step). The tangent space is every layer's state, layer 0
    first: L·N exponents for rnn and gru, 2·L·N for the LSTM (docs/trained.md).

        lstm = torch.nn.LSTM(3, 64, batch_first=True)     # ... trained
        r = rnnlyap.trained_spectrum(lstm, x)             # x: (B, T, 3) as lstm reads it
        r = rnnlyap.trained_spectrum(lstm.state_dict(), x_np, model="lstm")

      network      a torch nn.RNN, nn.GRU or nn.LSTM module (any num_layers; unidirectional, no
                   projections), or its state_dict (a mapping of PyTorch names to numpy arrays or
                   tensors: weight_ih_l0, weight_hh_l0, optionally bias_ih_l0, bias_hh_l0, and
                   the same with _l1, _l2, ... for stacked layers; a module prefix such as
                   "rnn." is allowed)
      inputs       numpy array or tensor: (T, I) is one sequence; a 3-D array is a batch, read as
                   (B, T, I) when batch_first is true and as (T, B, I) (transposed here) when not
      model        "rnn", "gru" or "lstm": from the module; for a state_dict the gate count of
                   weight_hh_l0 (G·N × N with G = 1, 3, 4) determines it unless given
      batch_first  how a 3-D `inputs` is laid out: default the module's batch_first, and True for
                   a state_dict. Never guessed from the shape.
      nonlinearity the rnn's "tanh" or "relu": a module's own; a state_dict does not record it,
                   so "tanh" unless given
      lstm_h_only  LSTM: propagate ∂h'/∂h with c held fixed (N exponents per layer) instead of
                   the full (h, c) tangent space (2N per layer, h block first)
      initial_state  the state to start from (the state's size: h, or h then c per layer for
                   the LSTM; an array, a tensor or the path of an .npy file) instead of 0
      ftle_window  finite-time exponents over windows of this many steps (as for spectrum)
      clv, clv_stats, clv_window, clv_transient
                   covariant Lyapunov vectors, as for spectrum (one input sequence only):
                   result["clv"] (also in result["members"][0]); the vectors have the state's
                   size (2N per layer for the full LSTM)
    {options}
    The state starts at zero (PyTorch's default h0, c0) unless initial_state. The first t_warmup
    steps move the state only, the next t_ons_warmup also the basis; t_sim=0 (the default here) averages every step
    after that. Returns the result JSON as a dict: the top level holds the means over sequences
    ("exponents", "stderr": their standard errors, "summary", "summary_stderr"), "members" each
    sequence's result, and "exponents_per_sequence" is a B × k array.
    """
    if _torch_module(network):
        sd, module_model, module_nl, module_bf = _module_network(network)
        if model is not None and model != module_model:
            raise InvalidInput(f"model={model!r} contradicts the network, a {type(network).__name__} "
                               f"(model {module_model!r})")
        if nonlinearity is not None and module_nl is not None and nonlinearity != module_nl:
            raise InvalidInput(f"nonlinearity={nonlinearity!r} contradicts the network's "
                               f"nonlinearity={module_nl!r}")
        model, nonlinearity = module_model, module_nl or nonlinearity
        if batch_first is None:
            batch_first = module_bf
    elif isinstance(network, collections.abc.Mapping):
        sd = network
    else:
        raise InvalidInput("network must be a torch nn.RNN, nn.GRU or nn.LSTM or its state_dict (a "
                           f"mapping of names to arrays), got {type(network).__name__}")
    sd = {str(key): _real_array(f"network[{key!r}]", v) for key, v in sd.items()}
    if model is None:
        model = _state_dict_model(sd)
    if isinstance(model, str) and model in _RANDOM_MODELS:
        raise InvalidInput(f"model={model!r} is a random network: use rnnlyap.spectrum")
    model = _choice("model", model, _TRAINED_MODELS)
    o = _common({"model": model}, k, t_warmup, t_ons_warmup, t_sim, t_ons, seed, backend, device,
                precision, qr, threads)
    if nonlinearity is not None:
        if model != "rnn":
            raise InvalidInput(f"nonlinearity does not apply to model={model!r} (it is for rnn; gru "
                               "and lstm have PyTorch's fixed nonlinearities)")
        o["nonlinearity"] = _choice("nonlinearity", nonlinearity, ("tanh", "relu"))
    o["lstm_h_only"] = _flag("lstm_h_only", lstm_h_only)
    o["ftle_window"] = _real("ftle_window", ftle_window)
    _clv_options(o, clv, clv_stats, clv_window, clv_transient)
    if o["lstm_h_only"] and model != "lstm":
        raise InvalidInput(f"lstm_h_only does not apply to model={model!r} (it is for lstm)")
    _callback(progress)
    batch_first = True if batch_first is None else _flag("batch_first", batch_first)
    x = _real_array("inputs", inputs)
    layout = "(T, input_size)"
    if x.ndim == 2:
        x = x[np.newaxis]
    elif x.ndim == 3:
        layout = "(B, T, input_size)" if batch_first else "(T, B, input_size), batch_first=False"
        if not batch_first:
            x = np.ascontiguousarray(x.transpose(1, 0, 2))
    else:
        raise InvalidInput(f"inputs must be (T, input_size) or a batch of sequences (3-D), got "
                           f"shape {x.shape}")
    try:
        with _GivenState(o, initial_state) as given:
            text, vectors = _call(_rnnlyap.trained_json, json.dumps(o), sd, x, progress)
    except InvalidInput as e:
        if "input sequence has" in str(e) or "features per step" in str(e):
            raise InvalidInput(f"{e} (inputs of shape {tuple(np.shape(inputs))} read as {layout})") from None
        raise
    r = given.name_in(_result(text))
    r["exponents_per_sequence"] = np.stack([m["exponents"] for m in r["members"]])
    if "clv" in r["members"][0]:
        r["clv"] = r["members"][0]["clv"]
        if vectors is not None:
            r["clv"]["vectors"] = vectors
    return r


trained_spectrum.__wrapped__.__doc__ = trained_spectrum.__doc__ = \
    trained_spectrum.__wrapped__.__doc__.replace(
        "{options}", _SPECTRUM_DOC_OPTIONS.format(
            t_sim="0: every step after the warm-ups", seeded="the initial tangent basis",
            tqdm="a tqdm example is in help(rnnlyap.spectrum)"))


# --------------------------------------------------------------------------------------------------
# Sweeps.

def _grid(name, v, whole=False):
    """A grid: "START:STOP:STEP" or "a,b,c" (as on the command line), a number, or a sequence."""
    if isinstance(v, str):
        values = list(_call(_rnnlyap.parse_grid, v, "--" + name))
    elif _is_bool(v) or isinstance(v, (numbers.Number, np.generic)):
        values = [v]
    else:
        try:
            values = list(np.asarray(v).ravel()) if hasattr(v, "__array__") else list(v)
        except TypeError:
            raise InvalidInput(f"{name} must be a number, a sequence of numbers or a "
                               f"'START:STOP:STEP' string, got {v!r}") from None
    if not values:
        raise InvalidInput(f"{name} has no values")
    if whole:
        return [_int(f"{name} (each value)", int(x) if isinstance(x, float) and x.is_integer() else x,
                     1, _INT_MAX) for x in values]
    return [_real(f"{name} (each value)", x) for x in values]


_SWEEP_SCOPES = dict(_NOT_FOR_RANDOM)
_SWEEP_SCOPES.update(
    bias_std="single random networks and ensembles (rnnlyap.spectrum), as on the command line",
    J="rnnlyap.spectrum; a sweep draws its networks (gaussian, or levy with alpha)",
    weights="rnnlyap.spectrum; a sweep's weights are gaussian, or levy when alpha is given",
    trace="single runs (rnnlyap.spectrum)",
)


@_refusing(_SWEEP_SCOPES, "rnnlyap.sweep (grids of random networks)")
def sweep(g, *, alpha=None, n=100, model="rate", zero_diagonal=False, k=None, integrator=None,
          dt=None, t_warmup=100.0, t_ons_warmup=100.0, t_sim=1000.0, t_ons=1.0, input_std=0.0,
          seed=1, ensemble=1, backend="auto", device=0, precision="fp64", qr="householder",
          threads=0, partial=None, progress=None, network_seed=None, state_seed=None,
          basis_seed=None, noise_seed=None):
    """Ensembles of random networks over a grid of gain g, tail index alpha and size n, and the
    gain where λ_max crosses zero (the CLI's `rnnlyap sweep`).

        s = rnnlyap.sweep(g=np.arange(0.5, 3.01, 0.25), n=[100, 200], ensemble=4, model="map")
        df = pandas.DataFrame(s["table"])          # one row per grid point
        s = rnnlyap.sweep(g="0.5:3:0.25", alpha=[1, 1.5, 2], n=250)

      g          gains: a number, a sequence/array, or "START:STOP:STEP" / "g1,g2,..."
      alpha      None (gaussian weights) or tail indices of levy weights (as g)
      n          sizes: an integer, a sequence, or a string as g (100)
      ensemble   networks per grid point, seeds seed ... seed+B-1 at every point (1)
      partial    None (the default: nothing is written), or the path of a JSON-lines file where
                 finished points are kept: an interrupted sweep given the same path continues
                 (the file stays when the sweep is complete; delete it to compute afresh). It is
                 read back, so it must be a regular file or not exist yet; a symlink is written
                 through (its target replaced, the link kept); a directory, FIFO, device or
                 missing folder raises InvalidInput before anything is computed
      model, zero_diagonal, integrator, dt, input_std, network_seed, state_seed, basis_seed,
      noise_seed: as for rnnlyap.spectrum
    {options}
    Every point is the ensemble rnnlyap.spectrum(n=n, g=g, ensemble=ensemble, seed=seed, ...)
    would compute. Returns a dict: "table", a dict of equal-length 1-D numpy arrays (one entry
    per grid point: g, alpha (NaN for gaussian), n, ensemble, k, max_exponent, ky_dimension,
    ky_dimension_per_n, ks_entropy, ks_entropy_per_n, fraction_positive, mean_exponent, each with
    its "_stderr", and seconds), so that pandas.DataFrame(s["table"]) is the table; "transitions",
    likewise a dict of columns (alpha, n, g_cross, g_cross_stderr, g_star_predicted; NaN where
    there is none), "members": per grid point the members' spectra (an ensemble × k array),
    "params" (the options as used) and the sweep JSON's other keys ("warnings").

    progress(phase, done, total) is called before each grid point with phase = the point's label
    ("g=0.5 N=100") and done/total counted in points, and at the end with ("done", total, total).
    Ctrl-C raises KeyboardInterrupt within about a second (the grid point in progress is dropped;
    with `partial`, the finished ones are kept).
    """
    o = _common({}, k, t_warmup, t_ons_warmup, t_sim, t_ons, seed, backend, device, precision, qr,
                threads)
    _random_model(model, integrator, dt, o)
    o["zero_diagonal"] = _flag("zero_diagonal", zero_diagonal)
    o["input_std"] = _real("input_std", input_std)
    o["ensemble"] = _int("ensemble", ensemble, 1, _INT_MAX)
    o["weights"] = "gaussian"
    _part_seeds(o, network_seed, state_seed, basis_seed, noise_seed)
    _callback(progress)
    gs = _grid("g", g)
    alphas = [] if alpha is None else _grid("alpha", alpha)
    ns = _grid("n", n, whole=True)
    if partial is None:
        path = ""
    else:
        try:
            path = os.fspath(partial)
        except TypeError:
            raise InvalidInput(f"partial must be None or a path, got {partial!r}") from None
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not path:
            raise InvalidInput("partial must be None or a path, got an empty string")
    text = _call(_rnnlyap.sweep_json, json.dumps(o), gs, alphas, ns, path, progress)
    raw = json.loads(text)
    return _sweep_result(raw)


sweep.__wrapped__.__doc__ = sweep.__doc__ = sweep.__wrapped__.__doc__.replace(
    "{options}", _SPECTRUM_DOC_OPTIONS.format(
        t_sim=1000, seeded="weights, initial states, initial bases and noise",
        tqdm="a tqdm example is in help(rnnlyap.spectrum)"))


_FIRST_COLUMNS = ("g", "alpha", "n", "ensemble", "k")


def _columns(rows):
    """A list of flat dicts -> a dict of equal-length 1-D arrays (None -> NaN); lists are left out."""
    keys = [key for key in (rows[0] if rows else {}) if not isinstance(rows[0][key], (list, dict))]
    keys.sort(key=lambda c: (_FIRST_COLUMNS.index(c) if c in _FIRST_COLUMNS else len(_FIRST_COLUMNS)))
    out = {}
    for key in keys:
        values = [row.get(key) for row in rows]
        if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            out[key] = np.asarray(values, dtype=np.int64)
        else:
            out[key] = _floats(values)
    return out


def _sweep_result(raw):
    grid = raw.get("grid", [])
    r = {"table": _columns(grid), "transitions": _columns(raw.get("transition", [])),
         "params": raw.get("params", {})}
    for key in raw:
        if key not in ("grid", "transition", "params"):
            r[key] = raw[key]
    if grid and "members" in grid[0]:
        r["members"] = [np.asarray([_floats(m.get("exponents", m) if isinstance(m, dict) else m)
                                    for m in p["members"]]) for p in grid]
    return r
