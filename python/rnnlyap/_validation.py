"""Argument checks of the rnnlyap package: types here, values (ranges, combinations) in the library,
as for the command line; the library's messages with the Python argument names in place of the
command-line flags; the refusal of the arguments each function does not take (the library words it);
a given initial state; grids of rnnlyap.sweep."""
import functools
import inspect
import math
import numbers
import operator
import os
import re
import tempfile

import numpy as np

from . import _rnnlyap
from ._rnnlyap import Error, InvalidInput

_RANDOM_MODELS = ("rate", "map")
_TRAINED_MODELS = ("rnn", "gru", "lstm")
_SEED_MAX = 2**64 - 1
_INT_MAX = 2**31 - 1

# --------------------------------------------------------------------------------------------------
# Messages: a message about one option comes with that option named as Python spells it (the
# library's table of options, through the bindings: "t_ons=0.25 is not ..."); the command-line flags
# the rest of a message names are rewritten here to the Python arguments.

_FLAG = re.compile(r"--([a-z][a-z0-9-]*)( (?=[-+]?\.?[0-9]))?")
_FLAG_NAMES = _rnnlyap.option_names()  # "t-sim": "t_sim", "weights-file": "J"
_VALUES = _rnnlyap.option_values()  # each choice's values: "qr": ("householder", ...)


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


def _choice(name, v, choices=None):
    """One of `choices`, by default all the values of the option `name`."""
    choices = _VALUES[name] if choices is None else choices
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
        backend=_choice("backend", backend),
        device=_int("device", device, 0, _INT_MAX),
        precision=_choice("precision", precision),
        qr=_choice("qr", qr),
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


def _refusing(fn):
    """Keyword arguments that `fn` does not take but another function of the package or the command
    line does raise InvalidInput naming them and what they are for (the library's table,
    rnnlyap/option_table.hpp: python_refusal); any other unknown name raises TypeError, as Python
    does. help() shows fn's own signature."""
    params = inspect.signature(fn).parameters

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        for name in kwargs:
            if name not in params:
                refusal = _rnnlyap.refusal(fn.__name__, name)
                if refusal is not None:
                    raise InvalidInput(refusal)
                raise TypeError(f"{fn.__name__}() got an unexpected keyword argument {name!r}")
        return fn(*args, **kwargs)
    return wrapper


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
        o["integrator"] = _choice("integrator", "euler" if integrator is None else integrator)
        o["dt"] = 0.1 if dt is None else _real("dt", dt)
    return o


# --------------------------------------------------------------------------------------------------
# The network of rnnlyap.spectrum.

def _network(o, J, n, g, weights, alpha, bias_std):
    """A given matrix J or a random network's n, g, weights and alpha, checked into `o`; returns J
    as a float64 array (None for a random network)."""
    if weights is not None and not isinstance(weights, str):
        raise InvalidInput("weights must be 'gaussian' or 'levy' (a matrix is passed as J=...)")
    if J is not None:
        return _given_matrix(o, J, n, g, weights, alpha, bias_std)
    _random_weights(o, n, g, weights, alpha)
    return None


def _given_matrix(o, J, n, g, weights, alpha, bias_std):
    """J: a square real matrix that sets N; the options of random networks do not apply to it."""
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
    return J


def _random_weights(o, n, g, weights, alpha):
    """n, g, weights and alpha of a random network (defaults 100, 2.0, gaussian, 2.0)."""
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


def _initial_state(o, initial_state):
    """A given initial state as it is (None or a path), or as a flat array of the network's N
    values."""
    if initial_state is not None and not _is_path(initial_state):
        initial_state = _real_array("initial_state", initial_state).ravel()
        if initial_state.size != o["n"]:
            raise InvalidInput(f"initial_state has {initial_state.size} values; the network has "
                               f"N = {o['n']}")
    return initial_state


# --------------------------------------------------------------------------------------------------
# The grids and the partial file of rnnlyap.sweep.

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


def _partial_path(partial):
    """rnnlyap.sweep's `partial`: None -> "" (nothing is kept), else the path as a str."""
    if partial is None:
        return ""
    try:
        path = os.fspath(partial)
    except TypeError:
        raise InvalidInput(f"partial must be None or a path, got {partial!r}") from None
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not path:
        raise InvalidInput("partial must be None or a path, got an empty string")
    return path
