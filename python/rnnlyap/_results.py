"""Results of the rnnlyap package: the library's result (the result JSON's structure, as Python
objects from the bindings) as a dict with numpy arrays, and a sweep's grid and transitions as dicts
of columns."""
import numpy as np


def _floats(v, null=np.nan):
    return np.asarray([null if x is None else x for x in v], dtype=float)


def _exponents(v):
    """Exponents: None (null in JSON) is −∞ (a direction annihilated exactly: a unit that is off, a
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


def _result(r):
    _run_arrays(r)
    for m in r.get("members", []):
        _run_arrays(m)
    return r


def _spectrum_result(r, trace, vectors):
    """rnnlyap.spectrum's result: the covariant vectors, the members' exponents as one B x k array
    and the trace added to the result dict."""
    if vectors is not None:
        r["clv"]["vectors"] = vectors
    if "members" in r:
        r["exponents_per_member"] = np.stack([m["exponents"] for m in r["members"]])
    if trace is not None:
        r["trace"] = {"time": trace[0], "estimates": trace[1]}
    return r


def _trained_result(r, vectors):
    """rnnlyap.trained_spectrum's result: the sequences' exponents as one B x k array, and the
    covariant vectors (one sequence) also at the top level."""
    r["exponents_per_sequence"] = np.stack([m["exponents"] for m in r["members"]])
    if "clv" in r["members"][0]:
        r["clv"] = r["members"][0]["clv"]
        if vectors is not None:
            r["clv"]["vectors"] = vectors
    return r


# --------------------------------------------------------------------------------------------------
# Sweeps.

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
