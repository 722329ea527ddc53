"""The Python examples of the docs, run (ctest python_doc_examples, PYTHONPATH=<build>/python).

Every ```python block of docs/python.md and of README.md's "## Python" section is executed, in
order per file and in one namespace per file (a later block may use the names of an earlier one),
in a temporary working directory that holds the files the examples read (W.npy).

The examples use realistic sizes (N = 500, 1000 steps, sweeps of 11 gains, ...), far too slow for
a test. They run against a proxy of the `rnnlyap` module (installed as sys.modules["rnnlyap"]
while a block runs, so `import rnnlyap` in a block gets it) whose spectrum, trained_spectrum and
sweep call the real functions with the example's arguments as written, positional or keyword,
except that sizes and times are capped: n <= 20 (k <= n), t_warmup and t_ons_warmup <= 10, t_sim
<= 30 (trained: t_sim as written, inputs cut to <= 60 steps and <= 2 sequences), ensemble <= 2,
grids cut to <= 3 values. A renamed or removed argument therefore still fails the test (TypeError
or rnnlyap.InvalidInput from the real function), as does a renamed function or result key.

A block that imports an optional package that is not installed (torch, pandas, tqdm, matplotlib)
is skipped with a message, not failed (torch fails instead with RNNLYAP_REQUIRE_TORCH=1, as in CI,
which installs python3-torch); matplotlib draws with the Agg backend. README.md's sketch
uses names it leaves to the reader (`matrix`, `lstm`, `x`); they are defined here, small.

RNNLYAP_DOC_ROOT=<dir> reads README.md and docs/python.md from <dir> instead of the source tree
(to check this test on an edited copy)."""
import ast
import importlib.util
import numbers
import os
import pathlib
import re
import sys
import tempfile
import traceback
import types
import unittest

os.environ["MPLBACKEND"] = "Agg"  # before anything imports matplotlib

try:
    import numpy as np
except ImportError:  # ctest reports exit code 77 as skipped (SKIP_RETURN_CODE)
    print(f"skipped: {sys.executable} has no numpy (configure with -DPython_EXECUTABLE=/usr/bin/python3)")
    sys.exit(77)

import rnnlyap as _real

ROOT = pathlib.Path(os.environ.get("RNNLYAP_DOC_ROOT") or pathlib.Path(__file__).resolve().parents[2])
OPTIONAL = ("torch", "pandas", "tqdm", "matplotlib")

# The caps (see the module's docstring).
MAX_N = 20
MAX_WARMUP = 10
MAX_T_SIM = 30
MAX_ENSEMBLE = 2
MAX_STEPS = 60       # trained: time steps per input sequence
MAX_SEQUENCES = 2    # trained: sequences of a batch
MAX_GRID = 3


# --------------------------------------------------------------------------------------------------
# Extraction

def python_blocks(path, section=None):
    """[(first line number of the code, code)] of the ```python blocks of `path`, or of its
    `section` (a '## ' heading: up to the next '## ' heading)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    lo, hi = 0, len(lines)
    if section is not None:
        starts = [i for i, l in enumerate(lines) if l.strip() == section]
        if not starts:
            raise AssertionError(f"{path} has no section {section!r}")
        lo = starts[0] + 1
        hi = next((i for i in range(lo, len(lines)) if re.match(r"##\s", lines[i])), len(lines))
    blocks, i = [], lo
    while i < hi:
        if re.fullmatch(r"```python\s*", lines[i]):
            end = next((j for j in range(i + 1, hi) if re.fullmatch(r"```\s*", lines[j])), None)
            if end is None:
                raise AssertionError(f"{path}:{i + 1}: unterminated ```python block")
            blocks.append((i + 2, "\n".join(lines[i + 1:end]) + "\n"))
            i = end
        i += 1
    return blocks


def imported_modules(code):
    """Top-level names of the modules a block imports."""
    names = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def required(names):
    """Those of the missing optional packages `names` whose absence is a failure: torch where
    RNNLYAP_REQUIRE_TORCH=1."""
    return [m for m in names if m == "torch" and os.environ.get("RNNLYAP_REQUIRE_TORCH") == "1"]


def installed(name):
    if name in sys.modules and sys.modules[name] is None:  # blocked
        return False
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


# --------------------------------------------------------------------------------------------------
# The proxy: the real functions, with sizes and times capped and every other argument as written.

def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _cap(v, hi):
    """min(v, hi) for a number; anything else (a wrong type the real function must refuse) as is."""
    return min(v, hi) if _is_real(v) else v


def _pick(values):
    return values if len(values) <= MAX_GRID else [values[0], values[len(values) // 2], values[-1]]


def _cap_sizes(values):
    """Sizes capped at MAX_N, distinct ones kept distinct and in the same order (the smallest
    capped lowest)."""
    ranks = {v: r for r, v in enumerate(sorted(set(values)))}
    top = len(ranks) - 1
    return [min(v, MAX_N - 4 * (top - ranks[v])) if _is_int(v) else v for v in values]


def _cut_grid(v, sizes=False):
    """A grid as the examples give it (a number, a sequence or array, a string), cut to at most
    MAX_GRID values (sizes: also capped), in the same form; a string becomes "a,b,c"."""
    if v is None:
        return v
    if isinstance(v, str):
        try:  # the library's own parser; a string it refuses is passed on for the real call
            values = [float(x) for x in _real._rnnlyap.parse_grid(v, "--n" if sizes else "--g")]
        except Exception:
            return v
        values = _pick(values)
        if sizes:
            return ",".join(str(x) for x in _cap_sizes([int(x) for x in values]))
        return ",".join(repr(x) for x in values)
    if _is_real(v) or isinstance(v, np.generic):
        return _cap_sizes([v])[0] if sizes else v
    if isinstance(v, np.ndarray) and v.ndim == 1:
        values = _pick(list(v))
        return np.array(_cap_sizes([int(x) for x in values]) if sizes else values, dtype=v.dtype)
    if isinstance(v, (list, tuple)):
        values = _pick(list(v))
        return type(v)(_cap_sizes(values) if sizes else values)
    return v


def _times(kw, t_sim=True):
    for name in ("t_warmup", "t_ons_warmup"):
        kw[name] = _cap(kw.get(name, MAX_WARMUP), MAX_WARMUP)
    if t_sim:
        kw["t_sim"] = _cap(kw.get("t_sim", MAX_T_SIM), MAX_T_SIM)


def _arg(args, kw, index, name):
    """(value, present) of a parameter that may be passed positionally."""
    if len(args) > index:
        return args[index], True
    return kw.get(name), name in kw


def _set_arg(args, kw, index, name, value):
    if len(args) > index:
        args[index] = value
    else:
        kw[name] = value


def spectrum(*args, **kw):
    args = list(args)
    if "ensemble" in kw:
        kw["ensemble"] = _cap(kw["ensemble"], MAX_ENSEMBLE)
    _times(kw)
    J, _ = _arg(args, kw, 0, "J")
    if J is None:  # a random network: fewer neurons
        n_in = kw.get("n", 100)
        n = _cap(n_in, MAX_N)
        if "n" in kw or n != n_in:
            kw["n"] = n
        if _is_int(n) and _is_int(n_in) and n < n_in:
            if _is_int(kw.get("k")) and kw["k"] <= n_in:
                kw["k"] = min(kw["k"], n)
            if kw.get("initial_state") is not None:
                kw["initial_state"] = np.asarray(kw["initial_state"])[:n]
    calls.append(("spectrum", tuple(args), dict(kw)))
    return _real.spectrum(*args, **kw)


def trained_spectrum(*args, **kw):
    args = list(args)
    network, _ = _arg(args, kw, 0, "network")
    inputs, present = _arg(args, kw, 1, "inputs")
    if present and hasattr(inputs, "ndim") and hasattr(inputs, "shape"):
        batch_first = kw.get("batch_first")
        if batch_first is None:  # as trained_spectrum decides: the module's own, True for a dict
            batch_first = getattr(network, "batch_first", True)
        if inputs.ndim == 2:
            inputs = inputs[:MAX_STEPS]
        elif inputs.ndim == 3:
            inputs = (inputs[:MAX_SEQUENCES, :MAX_STEPS] if batch_first else
                      inputs[:MAX_STEPS, :MAX_SEQUENCES])
        inputs = inputs.clone() if hasattr(inputs, "clone") else inputs.copy()
        _set_arg(args, kw, 1, "inputs", inputs)
    _times(kw, t_sim=False)  # t_sim=0 (the default) averages the rest of the cut sequences
    calls.append(("trained_spectrum", tuple(args), dict(kw)))
    return _real.trained_spectrum(*args, **kw)


def sweep(*args, **kw):
    args = list(args)
    g, present = _arg(args, kw, 0, "g")
    if present:
        _set_arg(args, kw, 0, "g", _cut_grid(g))
    if "alpha" in kw:
        kw["alpha"] = _cut_grid(kw["alpha"])
    kw["n"] = _cut_grid(kw.get("n", 100), sizes=True)
    if "ensemble" in kw:
        kw["ensemble"] = _cap(kw["ensemble"], MAX_ENSEMBLE)
    if _is_int(kw.get("k")):
        kw["k"] = min(kw["k"], MAX_N - 4 * (MAX_GRID - 1))
    _times(kw)
    calls.append(("sweep", tuple(args), dict(kw)))
    return _real.sweep(*args, **kw)


calls = []  # (function, args, kwargs) of every call the examples made, as passed on
proxy = types.ModuleType("rnnlyap", _real.__doc__)
proxy.__dict__.update({k: v for k, v in vars(_real).items() if not k.startswith("__")})
proxy.__file__ = _real.__file__
proxy.spectrum, proxy.trained_spectrum, proxy.sweep = spectrum, trained_spectrum, sweep


# --------------------------------------------------------------------------------------------------
# The tests: one per block, in order (test_block_01, test_block_02, ...).

class DocExamples(unittest.TestCase):
    path = None      # the document
    section = None   # its section, or None for all of it

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="rnnlyap-doc-")
        cls.cwd = os.getcwd()
        os.chdir(cls.tmp.name)
        rng = np.random.default_rng(0)  # the matrix docs/python.md loads: N = 12, g = 1.5
        np.save("W.npy", 1.5 * rng.standard_normal((12, 12)) / np.sqrt(12))
        cls.namespace = {"__name__": "__doc_example__"}
        cls.skipped = []  # blocks skipped so far, for the names they would have defined

    @classmethod
    def tearDownClass(cls):
        os.chdir(cls.cwd)
        cls.tmp.cleanup()

    def prepare(self, namespace):
        """Names a document's examples use without defining them."""

    def run_block(self, index):
        line, code = self.blocks[index]
        where = f"{self.path.relative_to(ROOT)}:{line} (python block {index + 1})"
        missing = sorted(m for m in imported_modules(code) & set(OPTIONAL) if not installed(m))
        if required(missing):
            self.fail(f"{where} imports torch, which {sys.executable} lacks (RNNLYAP_REQUIRE_TORCH=1)")
        if missing:
            self.skipped.append(where)
            self.skipTest(f"{where} imports {', '.join(missing)}, which {sys.executable} lacks")
        self.prepare(self.namespace)
        # Padded so that tracebacks name the document's own lines.
        compiled = compile("\n" * (line - 1) + code, str(self.path), "exec")
        saved = sys.modules.get("rnnlyap")
        sys.modules["rnnlyap"] = proxy
        try:
            exec(compiled, self.namespace)
        except ImportError as e:  # e.g. pandas' DataFrame.plot without matplotlib
            needed = [m for m in OPTIONAL if not installed(m) and
                      ((e.name or "").split(".")[0] == m or m in str(e))]
            if required(needed):
                raise self.failureException(
                    f"{where} needs torch, which {sys.executable} lacks (RNNLYAP_REQUIRE_TORCH=1)") from None
            if needed:
                self.skipped.append(where)
                self.skipTest(f"{where} needs {', '.join(needed)}, which {sys.executable} lacks")
            raise self.failureException(f"{where} failed:\n{traceback.format_exc()}") from None
        except NameError as e:
            if self.skipped:
                self.skipTest(f"{where}: {e}, defined by a skipped block ({'; '.join(self.skipped)})")
            raise self.failureException(f"{where} failed:\n{traceback.format_exc()}") from None
        except Exception:
            raise self.failureException(f"{where} failed:\n{traceback.format_exc()}") from None
        finally:
            if saved is None:
                sys.modules.pop("rnnlyap", None)
            else:
                sys.modules["rnnlyap"] = saved
            if "matplotlib.pyplot" in sys.modules:
                sys.modules["matplotlib.pyplot"].close("all")


def doc_case(name, path, section=None, minimum=1):
    """A TestCase of the python blocks of `path` (its `section`): test_block_NN for each."""
    blocks = python_blocks(path, section)

    def test_found(self):
        self.assertGreaterEqual(len(blocks), minimum,
                                f"{path} ({section or 'whole file'}): no ```python example found")

    attrs = {"path": path, "section": section, "blocks": blocks, "test_00_found": test_found}
    for i in range(len(blocks)):
        attrs[f"test_block_{i + 1:02d}_line_{blocks[i][0]}"] = (
            lambda self, i=i: self.run_block(i))
    return type(name, (DocExamples,), attrs)


PythonMd = doc_case("PythonMd", ROOT / "docs" / "python.md", minimum=5)
_ReadmePython = doc_case("ReadmePython", ROOT / "README.md", "## Python")


class ReadmePython(_ReadmePython):
    def prepare(self, namespace):
        # The README's sketch leaves `matrix`, `lstm` and `x` to the reader.
        rng = np.random.default_rng(1)
        namespace.setdefault("matrix", 0.8 * rng.standard_normal((12, 12)) / np.sqrt(12))
        if installed("torch") and "lstm" not in namespace:
            import torch
            torch.manual_seed(0)
            namespace["lstm"] = torch.nn.LSTM(input_size=3, hidden_size=16, batch_first=True)
            namespace["x"] = torch.randn(4, 200, 3)


del _ReadmePython


class ProxyCaps(unittest.TestCase):
    """The proxy itself: it cuts what it should and passes everything else on."""

    def test_grids(self):
        self.assertEqual(_cut_grid("0.5:3:0.25"), "0.5,1.75,3.0")
        self.assertEqual(_cut_grid([1, 1.5, 2]), [1, 1.5, 2])
        self.assertEqual(list(_cut_grid(np.arange(0.5, 3.01, 0.25))), [0.5, 1.75, 3.0])
        self.assertEqual(_cut_grid([100, 200], sizes=True), [16, 20])
        self.assertEqual(_cut_grid(250, sizes=True), 20)
        self.assertEqual(_cut_grid("100,200,300,400", sizes=True), "12,16,20")

    def test_unknown_argument_fails(self):
        with self.assertRaises(TypeError):
            spectrum(n=500, g=3, no_such_option=1)
        with self.assertRaises(TypeError):
            sweep(g=[1, 2], no_such_option=1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
