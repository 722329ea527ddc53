"""Tests of the Python module (run by ctest with PYTHONPATH=<build>/python).

Independent truth as in the C++ suite: a given map below onset has the exact spectrum log|μ_i|
(numpy eigenvalues); a trained rnn with zero input and biases sits at h = 0 where its Jacobian is
W_hh, a GRU's there is ½ I + ¼ W_hn; an ensemble's members and a sweep's grid points equal the
separate runs with the same seeds; keyword options equal the command line's flags (the program
itself, when it is built next to the module); Ctrl-C (SIGINT) raises KeyboardInterrupt within 3 s
of the signal; every refused input raises InvalidInput naming the Python argument."""
import inspect
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

try:
    import numpy as np
except ImportError:  # ctest reports exit code 77 as skipped (SKIP_RETURN_CODE)
    print(f"skipped: {sys.executable} has no numpy (configure with -DPython_EXECUTABLE=/usr/bin/python3)")
    sys.exit(77)

import rnnlyap

try:
    import torch
except ImportError:
    torch = None


def require_torch(test):
    """Skips `test` where torch is missing, or fails it with RNNLYAP_REQUIRE_TORCH=1 (CI, which
    installs python3-torch: a skip there would hide a broken installation)."""
    if torch is None:
        if os.environ.get("RNNLYAP_REQUIRE_TORCH") == "1":
            test.fail(f"RNNLYAP_REQUIRE_TORCH=1 but {sys.executable} cannot import torch")
        test.skipTest("no torch")


# Short schedules: the tests check identities, not converged values.
QUICK = dict(t_warmup=20, t_ons_warmup=20, t_sim=100, backend="cpu")


def _no_nan(*arrays):
    for a in arrays:
        a = np.asarray(a)
        if a.dtype.kind in "fc" and np.isnan(a).any():
            raise AssertionError(f"a compared value is NaN: {a}")


def assert_allclose(actual, desired, **kw):
    """numpy's assert_allclose, but a NaN in either fails (numpy counts NaN as equal to NaN, so two
    all-NaN results would pass)."""
    _no_nan(actual, desired)
    np.testing.assert_allclose(actual, desired, equal_nan=False, **kw)


def assert_array_equal(actual, desired, **kw):
    """numpy's assert_array_equal, but a NaN in either fails (numpy passes NaN against NaN)."""
    _no_nan(actual, desired)
    np.testing.assert_array_equal(actual, desired, **kw)


def exact_sorted(mat):
    return np.sort(np.log(np.abs(np.linalg.eigvals(mat))))[::-1]


def assert_exact(exponents, exact, t):
    """A constant map's spectrum `exponents` (QR order, as the program reports it) against the exact
    exponents `exact` (descending), each within C/T with C = log k + 3: the estimator's error for a
    constant map is O(1/T), its constant the log of the random start's misalignment (log k + 1)
    plus the complex pairs' oscillation (log of their Jordan bases' condition numbers, 2 here;
    tests/test_exact_below_onset.cpp computes it). The program's standard errors play no part.
    Not sorted: exponents whose exact values are apart must come out in descending order."""
    exponents = np.asarray(exponents, dtype=float)
    assert exponents.shape == exact.shape, (exponents.shape, exact.shape)
    assert np.all(np.isfinite(exponents)), exponents
    tol = (np.log(len(exact)) + 3) / t
    assert_allclose(exponents, exact, rtol=0, atol=tol)


def below_onset(n, g, seed):
    rng = np.random.default_rng(seed)
    return g * rng.standard_normal((n, n)) / np.sqrt(n)


def cli_program():
    """The rnnlyap program of the build tree the module comes from (<build>/src/cli/rnnlyap)."""
    build = pathlib.Path(rnnlyap.__file__).resolve().parents[2]
    exe = build / "src" / "cli" / "rnnlyap"
    return exe if exe.is_file() and os.access(exe, os.X_OK) else None


class Spectrum(unittest.TestCase):
    def test_given_map_below_onset_is_exact(self):
        J = below_onset(40, 0.6, 0)
        for r in (rnnlyap.spectrum(J, model="map", t_warmup=300, t_sim=1000, backend="cpu"),
                  rnnlyap.spectrum(J=J, model="map", t_warmup=300, t_sim=1000, backend="cpu")):
            self.assertIsInstance(r["exponents"], np.ndarray)
            self.assertEqual(r["params"]["n"], 40)
            self.assertEqual(r["schedule"]["averaged_time"], 1000)
            assert_exact(r["exponents"], exact_sorted(J), 1000)

    def test_bool_arrays_are_refused_from_numpy_and_torch_alike(self):
        # One rule for every front end: the program's .npy reader takes real numbers only, so a
        # bool matrix is refused whether it comes as numpy's or torch's (a mask is not a weight).
        arrays = [np.eye(4, dtype=bool)]
        if torch is not None:
            arrays.append(torch.eye(4, dtype=torch.bool))
        for a in arrays:
            for kwargs in (dict(J=a), dict(n=16, initial_state=a.reshape(-1))):
                with self.assertRaises(rnnlyap.InvalidInput) as cm:
                    rnnlyap.spectrum(model="map", **kwargs, **QUICK)
                self.assertIn("must be a real (float or integer) array", str(cm.exception))
        require_torch(self)

    def test_torch_tensor_and_matching_n_are_accepted(self):
        require_torch(self)
        J = below_onset(12, 0.5, 1)
        a = rnnlyap.spectrum(J, model="map", **QUICK)
        b = rnnlyap.spectrum(torch.tensor(J, dtype=torch.float64), n=12, model="map", **QUICK)
        assert_array_equal(a["exponents"], b["exponents"])

    def test_zero_diagonal_applies_to_a_given_matrix(self):
        J = below_onset(15, 0.7, 2) + 0.5 * np.eye(15)
        J0 = J.copy()
        np.fill_diagonal(J0, 0.0)
        a = rnnlyap.spectrum(J, zero_diagonal=True, model="map", **QUICK)
        b = rnnlyap.spectrum(J0, model="map", **QUICK)
        c = rnnlyap.spectrum(J, model="map", **QUICK)
        assert_array_equal(a["exponents"], b["exponents"])
        self.assertGreater(np.max(np.abs(a["exponents"] - c["exponents"])), 1e-3)
        self.assertTrue(a["params"]["zero_diagonal"])

    def test_result_has_the_contract_keys(self):
        r = rnnlyap.spectrum(n=20, g=3, **QUICK)
        for key in ("exponents", "stderr", "summary", "params", "backend", "device", "precision", "timing"):
            self.assertIn(key, r)
        self.assertEqual(r["exponents"].shape, (20,))
        e = rnnlyap.spectrum(n=20, g=3, ensemble=3, **QUICK)
        self.assertEqual(len(e["members"]), 3)
        self.assertEqual(e["exponents_per_member"].shape, (3, 20))

    def test_keywords_equal_the_command_line(self):
        exe = cli_program()
        if exe is None:
            self.skipTest("the rnnlyap program is not built next to the module")
        cases = [
            (dict(n=30, weights="levy", alpha=1.5, g=0.8, seed=7),
             ["--n", "30", "--weights", "levy", "--alpha", "1.5", "--g", "0.8", "--seed", "7"]),
            (dict(n=25, g=3, model="map", k=5, input_std=0.1, zero_diagonal=True, seed=2**64 - 1),
             ["--n", "25", "--g", "3", "--model", "map", "--k", "5", "--input-std", "0.1",
              "--zero-diagonal", "--seed", str(2**64 - 1)]),
            (dict(n=20, g=2.5, integrator="rk4", dt=0.05, t_ons=0.5),
             ["--n", "20", "--g", "2.5", "--integrator", "rk4", "--dt", "0.05", "--t-ons", "0.5"]),
            (dict(n=20, g=0.8, model="map", bias_std=0.5, seed=3),
             ["--n", "20", "--g", "0.8", "--model", "map", "--bias-std", "0.5", "--seed", "3"]),
            (dict(n=15, g=2, model="map", input_std=0.2, network_seed=4, state_seed=5,
                  basis_seed=6, noise_seed=7),
             ["--n", "15", "--g", "2", "--model", "map", "--input-std", "0.2", "--network-seed",
              "4", "--state-seed", "5", "--basis-seed", "6", "--noise-seed", "7"]),
        ]
        for kw, flags in cases:
            with self.subTest(kw=kw):
                r = rnnlyap.spectrum(threads=1, **kw, **QUICK)
                out = subprocess.run(
                    [str(exe), "spectrum", "--quiet", "--threads", "1", "--backend", "cpu",
                     "--t-warmup", "20", "--t-ons-warmup", "20", "--t-sim", "100", *flags],
                    capture_output=True, text=True, timeout=120)
                self.assertEqual(out.returncode, 0, out.stderr)
                c = json.loads(out.stdout)
                assert_array_equal(r["exponents"], np.asarray(c["exponents"], dtype=float))
                for key in ("weights", "alpha", "g", "n", "k", "seed", "model", "integrator", "dt",
                            "bias_std", "network_seed", "state_seed", "basis_seed", "noise_seed"):
                    self.assertEqual(r["params"].get(key), c["params"].get(key), key)

    def test_trained_keywords_equal_the_command_line(self):
        """The same state_dict and inputs through files: layouts, layers, nonlinearity, defaults."""
        exe = cli_program()
        require_torch(self)
        if exe is None:
            self.skipTest("the rnnlyap program is not built next to the module")
        torch.manual_seed(4)
        x = np.random.default_rng(4).standard_normal((120, 2, 3))  # (T, B, I)
        cases = [(torch.nn.LSTM(3, 5, num_layers=2), "lstm", []),
                 (torch.nn.RNN(3, 6, nonlinearity="relu"), "rnn", ["--nonlinearity", "relu"]),
                 (torch.nn.GRU(3, 4, batch_first=True), "gru", [])]
        with tempfile.TemporaryDirectory() as d:
            for module, model, flags in cases:
                with self.subTest(model=model):
                    xb = x.transpose(1, 0, 2)  # (B, T, I), what the program reads
                    r = rnnlyap.trained_spectrum(module, xb if module.batch_first else x,
                                                 t_warmup=10, t_ons_warmup=10, threads=1)
                    w, xi = os.path.join(d, "w.npz"), os.path.join(d, "x.npy")
                    np.savez(w, **{k: v.detach().numpy() for k, v in module.state_dict().items()})
                    np.save(xi, np.ascontiguousarray(xb))
                    out = subprocess.run(
                        [str(exe), "spectrum", "--quiet", "--threads", "1", "--model", model,
                         "--weights-file", w, "--inputs", xi, "--t-warmup", "10",
                         "--t-ons-warmup", "10", *flags],
                        capture_output=True, text=True, timeout=120)
                    self.assertEqual(out.returncode, 0, out.stderr)
                    c = json.loads(out.stdout)
                    self.assertEqual(len(c["members"]), 2)
                    for b in range(2):
                        # The program reads float32 weights as stored; the module's are float32 too.
                        # JSON's null exponent is −∞ (a relu unit that is off), never NaN.
                        cli = [-np.inf if v is None else v for v in c["members"][b]["exponents"]]
                        assert_allclose(r["exponents_per_sequence"][b], np.asarray(cli, dtype=float),
                                        rtol=0, atol=1e-12)
                    if model == "rnn":
                        self.assertTrue(np.isneginf(r["exponents_per_sequence"]).any(),
                                        "relu units off: exponents of -inf")
                    self.assertEqual(r["params"].get("nonlinearity"), c["params"].get("nonlinearity"))

    def test_initial_state_and_part_seeds(self):
        # A given initial state equals the program's --initial-state run, bit for bit.
        exe = cli_program()
        if exe is None:
            self.skipTest("the rnnlyap program is not built next to the module")
        h0 = np.linspace(-1, 1, 10)
        r = rnnlyap.spectrum(n=10, g=2, model="map", initial_state=h0, threads=1, **QUICK)
        self.assertEqual(r["params"]["initial_state_file"], "<array>")
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "h0.npy")
            np.save(path, h0)
            out = subprocess.run(
                [str(exe), "spectrum", "--quiet", "--threads", "1", "--backend", "cpu", "--n", "10",
                 "--g", "2", "--model", "map", "--t-warmup", "20", "--t-ons-warmup", "20",
                 "--t-sim", "100", "--initial-state", path], capture_output=True, text=True,
                timeout=120)
            self.assertEqual(out.returncode, 0, out.stderr)
            assert_array_equal(r["exponents"], json.loads(out.stdout)["exponents"])
            # The path of an .npy file is the same state (str, PathLike or bytes), named as given.
            for given in (path, pathlib.Path(path), os.fsencode(path)):
                p = rnnlyap.spectrum(n=10, g=2, model="map", initial_state=given, threads=1, **QUICK)
                assert_array_equal(p["exponents"], r["exponents"])
                self.assertEqual(p["params"]["initial_state_file"], path)
            # A path's problems are the library's, named initial_state: too few values, missing.
            np.save(os.path.join(d, "h9.npy"), h0[:9])
            # Not a regular file: refused at once, as the program's --initial-state (a FIFO
            # would block the read, and Ctrl-C with it).
            os.mkfifo(os.path.join(d, "fifo.npy"))
            for bad, says in (("h9.npy", "9 values; a network of N = 10 has 10"),
                              ("missing.npy", "cannot open"), ("", "empty string"),
                              ("fifo.npy", "it is a FIFO, not a regular file"),
                              (".", "it is a directory, not a regular file")):
                with self.assertRaises(rnnlyap.InvalidInput) as cm:
                    rnnlyap.spectrum(n=10, g=2, model="map", initial_state=os.path.join(d, bad)
                                     if bad else "", **QUICK)
                self.assertIn("initial_state", str(cm.exception))
                self.assertIn(says, str(cm.exception))
        # network_seed in an ensemble: member m is the run with seed + m and that network seed.
        e = rnnlyap.spectrum(n=8, g=2, model="map", seed=3, network_seed=11, ensemble=2, threads=1,
                             **QUICK)
        one = rnnlyap.spectrum(n=8, g=2, model="map", seed=4, network_seed=11, threads=1, **QUICK)
        assert_array_equal(e["exponents_per_member"][1], one["exponents"])
        other = rnnlyap.spectrum(n=8, g=2, model="map", seed=4, threads=1, **QUICK)
        self.assertFalse(np.array_equal(other["exponents"], one["exponents"]))

    def test_ftle_windows_average_to_the_exponents(self):
        r = rnnlyap.spectrum(n=20, g=3, model="map", t_warmup=20, t_ons_warmup=20, t_sim=200,
                             ftle_window=20, backend="cpu")
        self.assertEqual(r["ftle"]["windows"], 10)
        self.assertEqual(r["ftle"]["quantiles"].shape, (20, 5))
        assert_allclose(r["ftle"]["mean"], r["exponents"], rtol=1e-12, atol=1e-14)

    def test_covariant_vectors_at_a_fixed_point_are_numpys_eigenvectors(self):
        # J = S D S^-1 (non-normal), the map started at its fixed point h = 0, where the tangent
        # map is J: the covariant vectors are J's eigenvectors by |eigenvalue| (numpy's eig is the
        # truth), and each grows by exactly its eigenvalue. Convergence is ≤ 0.7^100 (the largest
        # ratio of successive |eigenvalues| to the power of the basis warm-up and the backward
        # steps), so only rounding remains.
        rng = np.random.default_rng(5)
        S = rng.standard_normal((5, 5))
        J = S @ np.diag([1.8, -1.2, 0.7, 0.45, -0.2]) @ np.linalg.inv(S)
        r = rnnlyap.spectrum(J, model="map", initial_state=np.zeros(5), t_warmup=0,
                             t_ons_warmup=100, t_sim=200, clv=True, clv_stats=True, backend="cpu")
        V = r["clv"]["vectors"]
        self.assertEqual(V.shape, (5, 5))
        mu, E = np.linalg.eig(J)
        order = np.argsort(-np.abs(mu))
        E = np.real(E[:, order])
        E /= np.linalg.norm(E, axis=0)
        assert_allclose(np.abs(np.sum(V * E, axis=0)), 1, atol=1e-10)
        assert_allclose(r["clv"]["exponents"], np.log(np.abs(mu[order])), atol=1e-9)
        self.assertEqual(r["clv"]["n_unstable"], 2)
        with self.assertRaises(rnnlyap.InvalidInput):
            rnnlyap.spectrum(n=10, clv=True, ensemble=2, t_sim=100, backend="cpu")

    def test_covariant_vectors_carry_their_convergence(self):
        # Eigenvalues 0.9 and 0.85 (exponent gap 0.057 per step) and 30 backward steps to the
        # vectors: vector 4 is off its eigenvector by ~e^-1.7 times a random coefficient, the
        # others by e^-10 or less. The estimate (one angle per vector, radians) is the size of the
        # true error (numpy's eigenvectors) where that is above rounding, and the warning names
        # vector 4 alone.
        rng = np.random.default_rng(42)
        S = rng.standard_normal((6, 6))
        J = S @ np.diag([2.0, 1.4, -0.9, 0.85, -0.35, 0.15]) @ np.linalg.inv(S)
        r = rnnlyap.spectrum(J, model="map", initial_state=np.zeros(6), t_warmup=0,
                             t_ons_warmup=400, t_sim=400, clv=True, clv_window=60,
                             clv_transient=10, backend="cpu")
        c = r["clv"]
        self.assertIsInstance(c["convergence"], np.ndarray)
        self.assertEqual(c["convergence"].shape, (6,))
        self.assertEqual(c["convergence_tolerance"], 0.01)
        V = c["vectors"]
        E = S / np.linalg.norm(S, axis=0)
        truth = np.arccos(np.minimum(1, np.abs(np.sum(V * E, axis=0))))
        self.assertGreater(truth[3], 0.03)
        big = truth > 1e-6
        self.assertTrue(np.all(c["convergence"][big] >= truth[big] / 10), (c["convergence"], truth))
        self.assertTrue(np.all(c["convergence"][big] <= truth[big] * 30), (c["convergence"], truth))
        warned = [w for w in r["warnings"] if "may not have converged" in w]
        self.assertEqual(len(warned), 1, r["warnings"])
        self.assertIn("covariant vector 4 ", warned[0])

    def test_kept_series_beyond_memory_are_refused_before_the_run(self):
        # 10^9 finite-time windows, or a kept trace of 10^9 estimates of 10 exponents: far beyond
        # this machine's memory. Refused before anything runs (a progress report would mean the
        # run began), naming what to change.
        def started(*_):
            raise RuntimeError("the run started")
        with self.assertRaises(rnnlyap.InvalidInput) as e:
            rnnlyap.spectrum(n=10, ftle_window=1, t_sim=1e9, backend="cpu", progress=started)
        self.assertIn("ftle_window", str(e.exception))
        with self.assertRaises(rnnlyap.InvalidInput) as e:
            rnnlyap.spectrum(n=10, t_sim=1e9, trace=True, backend="cpu", progress=started)
        self.assertIn("trace=False", str(e.exception))

    def test_covariant_vectors_of_a_trained_lstm(self):
        rng = np.random.default_rng(2)
        h = 5
        sd = {"weight_ih_l0": 0.5 * rng.standard_normal((4 * h, 2)),
              "weight_hh_l0": 0.8 * rng.standard_normal((4 * h, h))}
        x = rng.standard_normal((1500, 2))
        r = rnnlyap.trained_spectrum(sd, x, model="lstm", clv=True, clv_stats=True, backend="cpu")
        V = r["clv"]["vectors"]
        self.assertEqual(V.shape, (2 * h, 2 * h))  # the state (h, c)
        assert_allclose(np.linalg.norm(V, axis=0), 1, atol=1e-12)
        m = r["members"][0]  # its batch-means errors (the top level's are across sequences)
        err = np.hypot(m["stderr"], r["clv"]["stderr"])
        self.assertTrue(np.all(np.abs(r["clv"]["exponents"] - m["exponents"]) <= 4 * err),
                        (r["clv"]["exponents"], m["exponents"], err))
        with self.assertRaises(rnnlyap.InvalidInput) as e:
            rnnlyap.trained_spectrum(sd, np.stack([x, x]), model="lstm", clv=True, backend="cpu")
        self.assertIn("clv", str(e.exception))

    def test_ensemble_of_a_given_matrix(self):
        J = below_onset(30, 0.5, 3)
        e = rnnlyap.spectrum(J, model="map", ensemble=4, seed=10, t_warmup=100, t_ons_warmup=50,
                             t_sim=400, backend="cpu")
        self.assertEqual(e["exponents_per_member"].shape, (4, 30))
        self.assertEqual([m["seed"] for m in e["members"]], [10, 11, 12, 13])
        for m in range(4):
            one = rnnlyap.spectrum(J, model="map", seed=10 + m, threads=1, t_warmup=100,
                                   t_ons_warmup=50, t_sim=400, backend="cpu")
            assert_allclose(e["exponents_per_member"][m], one["exponents"], rtol=0, atol=1e-12)
        # Different initial conditions, one network: every member has J's exact spectrum.
        for row in e["exponents_per_member"]:
            assert_exact(row, exact_sorted(J), 400)
        self.assertFalse(np.array_equal(e["exponents_per_member"][0], e["exponents_per_member"][1]))

    def test_trace_ends_at_the_result(self):
        r = rnnlyap.spectrum(n=20, g=3, t_ons=0.5, trace=True, **QUICK)
        t, est = r["trace"]["time"], r["trace"]["estimates"]
        self.assertEqual(est.shape, (200, 20))
        assert_allclose(t, 0.5 * np.arange(1, 201), rtol=1e-12)
        assert_allclose(est[-1], r["exponents"], rtol=1e-12, atol=1e-14)
        self.assertNotIn("trace", rnnlyap.spectrum(n=20, g=3, **QUICK))

    def test_progress_is_called_on_the_calling_thread(self):
        calls = []
        main = threading.get_ident()
        r = rnnlyap.spectrum(n=150, g=3, t_sim=600, backend="cpu", threads=1,
                             progress=lambda p, d, t: calls.append((threading.get_ident(), p, d, t)))
        self.assertGreater(r["timing"]["seconds"], 0.3)
        self.assertGreaterEqual(len(calls), 3)
        self.assertTrue(all(c[0] == main for c in calls))
        self.assertTrue({c[1] for c in calls} <= {"warm-up", "basis warm-up", "averaging"})
        done = [c[2] for c in calls]
        self.assertEqual(done, sorted(done))
        self.assertEqual(calls[-1][1:], ("averaging", calls[-1][3], calls[-1][3]))

    def test_progress_of_an_ensemble_and_a_sweep(self):
        calls = []
        rnnlyap.spectrum(n=60, g=3, ensemble=4, t_sim=300, backend="cpu",
                         progress=lambda *a: calls.append(a))
        self.assertEqual(calls[-1][1], calls[-1][2])
        self.assertEqual([c[1] for c in calls], sorted(c[1] for c in calls))
        calls = []
        rnnlyap.sweep(g=[0.5, 1.0], n=10, model="map", progress=lambda *a: calls.append(a), **QUICK)
        self.assertEqual(calls[-1][1:], (2, 2))

    def test_an_exception_in_progress_stops_the_run(self):
        class Stop(Exception):
            pass

        def progress(phase, done, total):
            raise Stop(phase)

        start = time.perf_counter()
        with self.assertRaises(Stop):
            rnnlyap.spectrum(n=200, g=3, t_sim=1e6, backend="cpu", progress=progress)
        self.assertLess(time.perf_counter() - start, 5)

    def test_gil_is_released(self):
        done = threading.Event()
        ticks = 0

        def work():
            rnnlyap.spectrum(n=200, g=3, t_sim=300, backend="cpu", threads=1)
            done.set()

        t = threading.Thread(target=work)
        start = time.perf_counter()
        t.start()
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)
        t.join()
        elapsed = time.perf_counter() - start
        # With the GIL held for the whole run the main thread could not tick at all.
        self.assertGreater(elapsed, 0.2)
        self.assertGreater(ticks, 0.3 * elapsed / 0.0011)

    def test_signatures_are_explicit(self):
        for fn, names in ((rnnlyap.spectrum, ("J", "n", "g", "weights", "alpha", "t_sim", "progress", "trace")),
                          (rnnlyap.trained_spectrum, ("network", "inputs", "model", "batch_first", "progress")),
                          (rnnlyap.sweep, ("g", "alpha", "n", "ensemble", "partial", "progress"))):
            params = inspect.signature(fn).parameters
            for name in names:
                self.assertIn(name, params, fn.__name__)
            self.assertFalse(any(p.kind == p.VAR_KEYWORD for p in params.values()), fn.__name__)
            self.assertIn("progress", fn.__doc__)
        self.assertEqual(inspect.signature(rnnlyap.spectrum).parameters["t_sim"].default, 1000.0)
        self.assertIn("tqdm", rnnlyap.spectrum.__doc__)


class Trained(unittest.TestCase):
    def test_trained_rnn_at_zero_fixed_point(self):
        rng = np.random.default_rng(1)
        n, i = 16, 3
        whh = 0.7 * rng.standard_normal((n, n)) / np.sqrt(n)
        sd = {"weight_ih_l0": rng.standard_normal((n, i)), "weight_hh_l0": whh}
        x = np.zeros((2, 1200, i))
        r = rnnlyap.trained_spectrum(sd, x, model="rnn", t_warmup=10, t_ons_warmup=100)
        self.assertEqual(r["exponents_per_sequence"].shape, (2, n))
        self.assertEqual(r["schedule"]["averaged_time"], 1090)
        for row in r["exponents_per_sequence"]:
            assert_exact(row, exact_sorted(whh), 1090)
        # The model follows from weight_hh_l0's shape (G·N × N, G = 1 for rnn).
        r2 = rnnlyap.trained_spectrum(sd, x, t_warmup=10, t_ons_warmup=100)
        self.assertEqual(r2["params"]["model"], "rnn")
        assert_array_equal(r2["exponents_per_sequence"], r["exponents_per_sequence"])

    def test_modules_at_their_zero_fixed_point(self):
        require_torch(self)
        torch.manual_seed(0)
        for cls in (torch.nn.RNN, torch.nn.GRU):
            with self.subTest(cls=cls.__name__):
                m = cls(2, 12, bias=False)
                with torch.no_grad():
                    m.weight_hh_l0.mul_(2.0)
                whh = m.weight_hh_l0.detach().double().numpy()
                # At h = 0 with zero input: rnn J = W_hh; gru r = z = ½, n = 0: J = ½ I + ¼ W_hn.
                jac = whh if cls is torch.nn.RNN else 0.5 * np.eye(12) + 0.25 * whh[24:36]
                r = rnnlyap.trained_spectrum(m, np.zeros((1500, 2)), t_warmup=10, t_ons_warmup=100)
                self.assertEqual(r["params"]["model"], "rnn" if cls is torch.nn.RNN else "gru")
                assert_exact(r["exponents"], exact_sorted(jac), 1390)

    def test_lstm_state_dict_from_torch(self):
        require_torch(self)
        m = torch.nn.LSTM(3, 8, batch_first=True)
        r = rnnlyap.trained_spectrum(m.state_dict(), np.random.default_rng(2).standard_normal((250, 3)))
        self.assertEqual(r["exponents"].shape, (16,))  # (h, c): 2N
        r = rnnlyap.trained_spectrum(m.state_dict(), np.zeros((250, 3)), lstm_h_only=True)
        self.assertEqual(r["exponents"].shape, (8,))

    def test_module_layouts(self):
        """A batch_first=False module reads (T, B, I); each sequence equals its own 2-D run."""
        require_torch(self)
        torch.manual_seed(1)
        x = np.random.default_rng(3).standard_normal((300, 3, 2))  # (T, B, I)
        m = torch.nn.LSTM(2, 6)  # batch_first=False, PyTorch's default
        opts = dict(t_warmup=20, t_ons_warmup=30)
        r = rnnlyap.trained_spectrum(m, x, **opts)
        self.assertEqual(r["exponents_per_sequence"].shape, (3, 12))
        for b in range(3):
            one = rnnlyap.trained_spectrum(m.state_dict(), x[:, b, :], model="lstm", **opts)
            assert_allclose(r["exponents_per_sequence"][b], one["exponents"], rtol=0, atol=1e-12)
        xb = np.ascontiguousarray(x.transpose(1, 0, 2))  # (B, T, I)
        for kw in (dict(network=m.state_dict()), dict(network=m, batch_first=True)):
            again = rnnlyap.trained_spectrum(inputs=xb, **kw, **opts)
            assert_allclose(again["exponents_per_sequence"], r["exponents_per_sequence"],
                                       rtol=0, atol=1e-12)
        # (B, T, I) given to a batch_first=False module is read as T = 3 steps: refused, saying so.
        with self.assertRaises(rnnlyap.InvalidInput) as cm:
            rnnlyap.trained_spectrum(m, xb, **opts)
        self.assertIn("batch_first=False", str(cm.exception))
        mb = torch.nn.GRU(2, 6, batch_first=True)
        rb = rnnlyap.trained_spectrum(mb, torch.tensor(xb), **opts)
        for b in range(3):
            one = rnnlyap.trained_spectrum(mb, xb[b], **opts)
            assert_allclose(rb["exponents_per_sequence"][b], one["exponents"], rtol=0, atol=1e-12)

    def test_stacked_layers_at_the_zero_fixed_point(self):
        """Two layers with zero input and biases stay at h = 0; the Jacobian is block triangular
        [[W_hh0, 0], [W_ih1 W_hh0, W_hh1]], so the spectrum is log|eig| of W_hh0 and of W_hh1."""
        require_torch(self)
        torch.manual_seed(2)
        m = torch.nn.RNN(2, 10, num_layers=2, bias=False)
        with torch.no_grad():
            m.weight_hh_l0.mul_(2.0)
            m.weight_hh_l1.mul_(1.5)
        r = rnnlyap.trained_spectrum(m, np.zeros((1500, 2)), t_warmup=10, t_ons_warmup=100)
        self.assertEqual(r["exponents"].shape, (20,))
        exact = np.sort(np.concatenate([exact_sorted(m.weight_hh_l0.detach().double().numpy()),
                                        exact_sorted(m.weight_hh_l1.detach().double().numpy())]))[::-1]
        assert_exact(r["exponents"], exact, 1390)

    def test_relu_rnn_in_its_linear_region(self):
        """bias 5 and a weak W_hh: every unit is active at the fixed point, where a relu RNN's
        Jacobian is W_hh (a tanh RNN's there is almost zero)."""
        require_torch(self)
        torch.manual_seed(3)
        m = torch.nn.RNN(2, 10, nonlinearity="relu")
        with torch.no_grad():
            m.weight_hh_l0.copy_(0.3 * torch.randn(10, 10) / np.sqrt(10))
            m.bias_ih_l0.fill_(5.0)
            m.bias_hh_l0.zero_()
        x = np.zeros((1500, 2))
        opts = dict(t_warmup=100, t_ons_warmup=100)
        r = rnnlyap.trained_spectrum(m, x, **opts)
        self.assertEqual(r["params"]["nonlinearity"], "relu")
        assert_exact(r["exponents"], exact_sorted(m.weight_hh_l0.detach().double().numpy()), 1300)
        sd = m.state_dict()
        assert_array_equal(
            rnnlyap.trained_spectrum(sd, x, nonlinearity="relu", **opts)["exponents"], r["exponents"])
        tanh = rnnlyap.trained_spectrum(sd, x, **opts)  # a state_dict does not record relu
        self.assertEqual(tanh["params"]["nonlinearity"], "tanh")
        self.assertLess(np.max(tanh["exponents"]), -5)

    def test_modules_that_are_not_modelled_are_refused(self):
        require_torch(self)
        x = np.zeros((50, 2))
        cases = [
            (torch.nn.LSTM(2, 4, bidirectional=True), "bidirectional"),
            (torch.nn.LSTM(2, 4, proj_size=2), "proj_size"),
            (torch.nn.Linear(2, 4), "network"),
            (torch.nn.Sequential(torch.nn.LSTM(2, 4)), "network"),
        ]
        for module, word in cases:
            with self.subTest(module=repr(module)):
                with self.assertRaises(rnnlyap.InvalidInput) as cm:
                    rnnlyap.trained_spectrum(module, x)
                self.assertIn(word, str(cm.exception))
        with self.assertRaises(rnnlyap.InvalidInput) as cm:
            rnnlyap.trained_spectrum(torch.nn.GRU(2, 4), x, model="lstm")
        self.assertIn("model", str(cm.exception))
        for kw in (dict(nonlinearity="tanh"), dict(nonlinearity="relu")):
            with self.assertRaises(rnnlyap.InvalidInput) as cm:  # contradicts, or not for a GRU
                rnnlyap.trained_spectrum(torch.nn.RNN(2, 4) if kw["nonlinearity"] == "relu"
                                         else torch.nn.GRU(2, 4), x, **kw)
            self.assertIn("nonlinearity", str(cm.exception))


def interrupt_main_after(delay):
    """SIGINT to the main thread after `delay` seconds; returns the timer and the send time."""
    sent = []

    def fire():
        sent.append(time.perf_counter())
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    timer = threading.Timer(delay, fire)
    timer.start()
    return timer, sent


class Interrupts(unittest.TestCase):
    def assert_interrupts(self, run, delay=0.7, within=3.0):
        timer, sent = interrupt_main_after(delay)
        finished = False
        try:
            with self.assertRaises(KeyboardInterrupt):
                run()
                finished = True
                time.sleep(30)  # take the pending signal here rather than in a later test
        finally:
            timer.cancel()
            timer.join()
        self.assertFalse(finished, "the run finished before the signal came")
        self.assertEqual(len(sent), 1)
        self.assertLess(time.perf_counter() - sent[0], within)

    def test_spectrum(self):
        self.assert_interrupts(lambda: rnnlyap.spectrum(n=200, g=3, t_sim=1e6, backend="cpu"))
        # The module is usable afterwards, with the same result as before.
        a = rnnlyap.spectrum(n=20, g=3, **QUICK)
        self.assert_interrupts(lambda: rnnlyap.spectrum(n=200, g=3, t_sim=1e6, backend="cpu", threads=1))
        assert_array_equal(a["exponents"], rnnlyap.spectrum(n=20, g=3, **QUICK)["exponents"])

    def test_ensembles(self):
        self.assert_interrupts(lambda: rnnlyap.spectrum(n=200, g=3, t_sim=1e6, backend="cpu", ensemble=4))
        self.assert_interrupts(lambda: rnnlyap.spectrum(below_onset(200, 0.5, 0), model="map", t_sim=1e7,
                                                        backend="cpu", ensemble=3, threads=1))

    def test_trained(self):
        require_torch(self)
        lstm = torch.nn.LSTM(3, 200)
        x = np.random.default_rng(0).standard_normal((20000, 3))
        self.assert_interrupts(lambda: rnnlyap.trained_spectrum(lstm, x))                 # one sequence
        self.assert_interrupts(lambda: rnnlyap.trained_spectrum(lstm, np.stack([x] * 4, axis=1)))  # threads

    def test_sweep_stops_within_a_grid_point(self):
        self.assert_interrupts(lambda: rnnlyap.sweep(g=np.linspace(0.5, 3, 400), n=60, ensemble=2,
                                                     t_sim=200, backend="cpu"))

    def test_from_a_subprocess(self):
        """Ctrl-C as a terminal sends it: SIGINT to the process running a long spectrum."""
        code = ("import rnnlyap, sys\n"
                "print('ready', flush=True)\n"
                "try:\n"
                "    rnnlyap.spectrum(n=200, g=3, t_sim=1e6, backend='cpu')\n"
                "except KeyboardInterrupt:\n"
                "    print('interrupted', flush=True)\n"
                "    sys.exit(5)\n")
        p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                             env=dict(os.environ))
        try:
            self.assertEqual(p.stdout.readline().strip(), "ready")
            time.sleep(0.7)
            sent = time.perf_counter()
            p.send_signal(signal.SIGINT)
            self.assertEqual(p.wait(timeout=10), 5)
            self.assertLess(time.perf_counter() - sent, 2.0)
            self.assertEqual(p.stdout.read().strip(), "interrupted")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()


class Sweep(unittest.TestCase):
    def test_table_equals_separate_runs(self):
        s = rnnlyap.sweep(g=[0.5, 1.5], n=[20, 30], ensemble=2, seed=5, model="map", **QUICK)
        table = s["table"]
        lengths = {len(v) for v in table.values()}
        self.assertEqual(lengths, {4})
        self.assertTrue(all(v.ndim == 1 for v in table.values()))
        self.assertTrue(np.all(np.isnan(table["alpha"])))
        for i in range(4):
            g, n = float(table["g"][i]), int(table["n"][i])
            e = rnnlyap.spectrum(n=n, g=g, ensemble=2, seed=5, model="map", **QUICK)
            for col, key in (("max_exponent", "max_exponent"), ("ky_dimension", "ky_dimension"),
                             ("ks_entropy", "ks_entropy"), ("mean_exponent", "mean_exponent")):
                self.assertEqual(table[col][i], e["summary"][key], (col, g, n))
                self.assertEqual(table[col + "_stderr"][i], e["summary_stderr"][key], (col, g, n))
            frac = np.mean([np.mean(m["exponents"] > 0) for m in e["members"]])
            self.assertAlmostEqual(table["fraction_positive"][i], frac, places=12)
            assert_array_equal(s["members"][i], e["exponents_per_member"])
        self.assertEqual(sorted(set(zip(table["g"], table["n"]))), [(0.5, 20), (0.5, 30), (1.5, 20), (1.5, 30)])
        self.assertEqual(len(s["transitions"]["n"]), 2)
        try:
            import pandas as pd
        except ImportError:
            return
        self.assertEqual(pd.DataFrame(s["table"]).shape[0], 4)

    def test_levy_grid_and_string_ranges(self):
        s = rnnlyap.sweep(g="0.5:1:0.5", alpha="1.5,2", n="20", **QUICK)
        assert_array_equal(np.sort(s["table"]["alpha"]), [1.5, 1.5, 2, 2])
        i = int(np.argmax((s["table"]["alpha"] == 1.5) & (s["table"]["g"] == 1.0)))
        e = rnnlyap.spectrum(n=20, g=1.0, weights="levy", alpha=1.5, **QUICK)
        self.assertEqual(s["table"]["max_exponent"][i], e["summary"]["max_exponent"])
        self.assertTrue(np.all(np.isfinite(s["transitions"]["g_star_predicted"])))

    def test_partial_file_only_when_asked(self):
        with tempfile.TemporaryDirectory() as d:
            cwd = os.getcwd()
            os.chdir(d)
            try:
                a = rnnlyap.sweep(g=[0.5, 1.0], n=10, model="map", **QUICK)
                self.assertEqual(os.listdir(d), [])
                path = pathlib.Path(d) / "points.jsonl"
                b = rnnlyap.sweep(g=[0.5, 1.0], n=10, model="map", partial=path, **QUICK)
                self.assertTrue(path.is_file())
                c = rnnlyap.sweep(g=[0.5, 1.0], n=10, model="map", partial=str(path), **QUICK)
            finally:
                os.chdir(cwd)
        for r in (b, c):
            assert_array_equal(r["table"]["max_exponent"], a["table"]["max_exponent"])


class BadInput(unittest.TestCase):
    """Every refused input raises InvalidInput (a ValueError) whose message names the Python
    argument and no command-line flag."""

    def assert_refused(self, call, name, **kwargs):
        with self.assertRaises(rnnlyap.InvalidInput, msg=f"{name}: {kwargs}") as cm:
            call(**kwargs)
        self.assertIsInstance(cm.exception, ValueError)
        msg = str(cm.exception)
        self.assertIn(name, msg, kwargs)
        self.assertNotIn("--", msg, kwargs)

    def test_spectrum_options(self):
        nan, inf = float("nan"), float("inf")
        J = below_onset(6, 0.5, 0)
        cases = [
            ("k", dict(n=10, k=0)), ("k", dict(n=10, k=-3)), ("k", dict(n=10, k=11)), ("k", dict(k=2.0)),
            ("n", dict(n=0)), ("n", dict(n=True)), ("n", dict(n=10.5)), ("n", dict(n="10")),
            ("g", dict(g=nan)), ("g", dict(g=-1)), ("g", dict(g=True)), ("g", dict(g=1 + 2j)),
            ("t_sim", dict(t_sim=nan)), ("t_sim", dict(t_sim=inf)), ("t_sim", dict(t_sim=-1)),
            ("t_warmup", dict(t_warmup=inf)), ("t_ons_warmup", dict(t_ons_warmup=-5)),
            ("t_ons", dict(t_ons=0.25)), ("t_ons", dict(t_ons=0)), ("t_ons", dict(t_ons=nan)),
            ("t_sim", dict(t_sim=0.5)),
            ("dt", dict(dt=0)), ("dt", dict(dt=2)), ("dt", dict(dt=nan)),
            ("dt", dict(model="map", dt=0.1)), ("integrator", dict(model="map", integrator="euler")),
            ("integrator", dict(integrator="heun")), ("model", dict(model="lorenz")),
            ("model", dict(model="lstm")),
            ("weights", dict(weights="cauchy")), ("weights", dict(weights="file")), ("weights", dict(weights=J)),
            ("alpha", dict(alpha=1.5)), ("alpha", dict(weights="levy", alpha=0)),
            ("alpha", dict(weights="levy", alpha=2.5)), ("alpha", dict(weights="levy", alpha=nan)),
            ("input_std", dict(input_std=-0.1)), ("input_std", dict(input_std=inf)),
            ("bias_std", dict(bias_std=-1)), ("bias_std", dict(bias_std=nan)),
            ("seed", dict(seed=-1)), ("seed", dict(seed=2**64)), ("seed", dict(seed=1.0)),
            ("seed", dict(seed="1")), ("seed", dict(seed=True)),
            ("ensemble", dict(ensemble=0)), ("ensemble", dict(ensemble=2.0)),
            ("threads", dict(threads=-1)), ("device", dict(device=-1)), ("device", dict(device=False)),
            ("backend", dict(backend="gpu")), ("precision", dict(precision="fp16")), ("qr", dict(qr="svd")),
            ("zero_diagonal", dict(zero_diagonal=1)), ("trace", dict(trace="yes")),
            ("trace", dict(trace=True, ensemble=2)), ("progress", dict(progress=3)),
            ("inputs", dict(inputs=np.zeros((5, 2)))), ("lstm_h_only", dict(lstm_h_only=True)),
            ("weights_file", dict(weights_file="W.npy")),
            # A given matrix J.
            ("J", dict(J=np.ones((3, 4)))), ("J", dict(J=np.ones(3))), ("J", dict(J=np.ones((2, 2, 2)))),
            ("J", dict(J=np.zeros((0, 0)))), ("J", dict(J=np.eye(3) * (1 + 1j))), ("J", dict(J=np.array([["a"]]))),
            ("J", dict(J=np.array([[1.0, nan], [0, 1]]))), ("J", dict(J=np.array([[inf]]))),
            ("J", dict(J=np.eye(3, dtype=bool))),
            ("n", dict(J=J, n=7)), ("g", dict(J=J, g=1.0)), ("weights", dict(J=J, weights="levy")),
            ("alpha", dict(J=J, alpha=1.0)), ("k", dict(J=J, k=7)), ("bias_std", dict(J=J, bias_std=0.1)),
            # Seeds of parts and a given initial state.
            ("network_seed", dict(network_seed=-1)), ("state_seed", dict(state_seed=2**64)),
            ("basis_seed", dict(basis_seed=1.5)), ("noise_seed", dict(noise_seed=3)),
            ("network_seed", dict(J=J, network_seed=3)),
            ("initial_state", dict(n=10, initial_state=np.zeros(9))),
            ("initial_state", dict(n=10, initial_state=np.full(10, nan))),
            ("initial_state", dict(n=10, initial_state=np.zeros(0))),
            ("state_seed", dict(n=10, initial_state=np.zeros(10), state_seed=2)),
            ("ftle_window", dict(ftle_window=2.5)), ("ftle_window", dict(ftle_window=-1)),
            ("ftle_window", dict(t_sim=100, ftle_window=200)),
            ("clv", dict(clv="yes")), ("clv_stats", dict(clv_stats=1)),
            ("clv", dict(clv=True, ensemble=2)), ("clv_window", dict(clv=True, clv_window=2.5)),
            ("clv_window", dict(clv=True, clv_window=0)),  # refused, as --clv-window 0
            ("clv_window", dict(clv_stats=True, t_sim=100, clv_window=200)),
            ("clv_window", dict(clv_window=10)), ("clv_transient", dict(clv_transient=10)),
            ("clv_transient", dict(clv=True, clv_transient=-1)),
        ]
        for name, kwargs in cases:
            with self.subTest(name=name, kwargs=kwargs):
                self.assert_refused(rnnlyap.spectrum, name, **dict(dict(backend="cpu"), **kwargs))
        self.assert_refused(lambda **kw: rnnlyap.spectrum(np.ones((3, 4)), **kw), "J")
        with self.assertRaises(TypeError):
            rnnlyap.spectrum(n=10, no_such_option=1)

    def test_trained_options(self):
        rng = np.random.default_rng(0)
        sd = {"weight_ih_l0": rng.standard_normal((8, 2)), "weight_hh_l0": 0.5 * rng.standard_normal((8, 8))}
        x = np.zeros((60, 2))
        nan = float("nan")
        cases = [
            ("dt", dict(dt=0.1)), ("n", dict(n=8)), ("g", dict(g=1.0)), ("ensemble", dict(ensemble=2)),
            ("input_std", dict(input_std=0.1)), ("zero_diagonal", dict(zero_diagonal=True)),
            ("bias_std", dict(bias_std=0.1)),
            ("integrator", dict(integrator="rk4")), ("weights", dict(weights="levy")),
            ("alpha", dict(alpha=1.5)), ("trace", dict(trace=True)),
            ("lstm_h_only", dict(lstm_h_only=True)), ("k", dict(k=9)), ("k", dict(k=0)),
            ("model", dict(model="map")), ("model", dict(model="transformer")),
            ("nonlinearity", dict(nonlinearity="sigmoid")), ("nonlinearity", dict(nonlinearity=1)),
            ("nonlinearity", dict(nonlinearity="tanh", network={  # a GRU's (24 = 3 * 8)
                "weight_ih_l0": np.ones((24, 2)), "weight_hh_l0": np.ones((24, 8))})),
            ("batch_first", dict(batch_first=1)), ("t_warmup", dict(t_warmup=nan)),
            ("t_sim", dict(t_sim=1000)), ("t_ons", dict(t_ons=1.5)), ("seed", dict(seed=-2)),
            ("inputs", dict(inputs=np.zeros(60))), ("inputs", dict(inputs=np.zeros((1, 60, 2, 1)))),
            ("inputs", dict(inputs=np.zeros((0, 2)))), ("inputs", dict(inputs=np.zeros((60, 2)) * 1j)),
            ("inputs", dict(inputs=np.full((60, 2), nan))), ("inputs", dict(inputs=np.zeros((60, 3)))),
            ("network", dict(network=[1, 2])),
            ("network", dict(network={"weight_ih_l0": sd["weight_ih_l0"]})),
            ("network", dict(network=dict(sd, weight_hh_l0=np.ones((8, 7))))),
            ("network", dict(network=dict(sd, weight_hh_l0=sd["weight_hh_l0"] * 1j))),
            ("network", dict(network=dict(sd, weight_ih_l1=sd["weight_ih_l0"]))),
            ("initial_state", dict(initial_state=np.zeros(7))),  # the rnn's state has 8 values
            ("initial_state", dict(initial_state=np.full(8, nan))),
        ]
        for name, kwargs in cases:
            with self.subTest(name=name, kwargs=kwargs):
                args = dict(network=sd, inputs=x, t_warmup=5, t_ons_warmup=5, backend="cpu")
                args.update(kwargs)
                self.assert_refused(rnnlyap.trained_spectrum, name, **args)

    def test_sweep_options(self):
        nan = float("nan")
        cases = [
            ("g", dict(g=[])), ("g", dict(g=[0.5, nan])), ("g", dict(g="0.5:1")), ("g", dict(g="x")),
            ("g", dict(g=[True])), ("g", dict(g=-1)),
            ("n", dict(n=0)), ("n", dict(n=[10, 1.5])), ("n", dict(n="10,0")),
            ("alpha", dict(alpha=3)), ("alpha", dict(alpha=[1, nan])),
            ("k", dict(k=20, n=[10, 30])), ("dt", dict(model="map", dt=0.1)), ("model", dict(model="gru")),
            ("J", dict(J=np.eye(3))), ("weights", dict(weights="levy")), ("trace", dict(trace=True)),
            ("inputs", dict(inputs=np.zeros((3, 1)))), ("partial", dict(partial="")),
            ("partial", dict(partial=3)), ("ensemble", dict(ensemble=0)), ("seed", dict(seed=0.5)),
            ("bias_std", dict(bias_std=0.1)),
        ]
        for name, kwargs in cases:
            with self.subTest(name=name, kwargs=kwargs):
                args = dict(g=[0.5], n=10, backend="cpu")
                args.update(kwargs)
                self.assert_refused(rnnlyap.sweep, name, **args)

    # Positive controls for the three tables above: each argument they refuse is accepted with a
    # valid value where it applies (a refusal of a valid value fails here), and every refused name
    # has a control or is listed as never applying to that function.
    SPECTRUM_NEVER = {"inputs", "lstm_h_only",  # trained_spectrum's
                      "weights_file"}  # the command line's: Python passes the matrix as J
    TRAINED_NEVER = {"dt", "n", "g", "ensemble", "input_std", "zero_diagonal", "bias_std",
                     "integrator", "weights", "alpha", "trace"}  # fixed by the network or inputs
    SWEEP_NEVER = {"J", "weights", "trace", "inputs", "bias_std"}  # sweep's grid sets these

    @staticmethod
    def refused_names(test):
        """The argument names a refusal test above checks (its source, not a second list)."""
        src = inspect.getsource(test)
        return set(re.findall(r'\("(\w+)", dict\(', src))

    def assert_accepted(self, call, name, **kwargs):
        with self.subTest(name=name, kwargs={k: v for k, v in kwargs.items() if k != "network"}):
            try:
                r = call(**kwargs)
            except rnnlyap.InvalidInput as e:
                self.fail(f"{name} refused where it applies: {e}")
            self.assertIsInstance(r, dict)

    def test_spectrum_options_accepted_where_they_apply(self):
        J = below_onset(6, 0.5, 0)
        quick = dict(n=6, t_warmup=2, t_ons_warmup=2, t_sim=4, backend="cpu")
        cases = [
            ("k", dict(k=3)), ("n", dict(n=7)), ("g", dict(g=0.5)), ("t_sim", dict(t_sim=6)),
            ("t_warmup", dict(t_warmup=0)), ("t_ons_warmup", dict(t_ons_warmup=0)),
            ("t_ons", dict(t_ons=2)), ("t_ons", dict(t_ons=0.2)), ("dt", dict(dt=0.05)),
            ("integrator", dict(integrator="rk4")), ("model", dict(model="map")),
            ("weights", dict(weights="levy")), ("weights", dict(weights="gaussian")),
            ("alpha", dict(weights="levy", alpha=1.5)), ("input_std", dict(input_std=0.1)),
            ("bias_std", dict(bias_std=0.1)), ("seed", dict(seed=0)), ("seed", dict(seed=2**64 - 1)),
            ("ensemble", dict(ensemble=2)), ("threads", dict(threads=1)), ("device", dict(device=0)),
            ("backend", dict(backend="cpu")), ("precision", dict(precision="fp32")),
            ("qr", dict(qr="cholesky2")), ("zero_diagonal", dict(zero_diagonal=True)),
            ("trace", dict(trace=True)), ("progress", dict(progress=lambda *a: None)),
            ("J", dict(J=J)), ("n", dict(J=J, n=6)), ("k", dict(J=J, k=2)),
            ("network_seed", dict(network_seed=3)), ("state_seed", dict(state_seed=2**64 - 1)),
            ("basis_seed", dict(basis_seed=5)), ("noise_seed", dict(input_std=0.1, noise_seed=3)),
            ("initial_state", dict(initial_state=np.zeros(6))),
            ("ftle_window", dict(ftle_window=2)), ("clv", dict(clv=True)),
            ("clv_stats", dict(clv_stats=True)), ("clv_window", dict(clv=True, clv_window=4)),
            ("clv_transient", dict(clv=True, clv_transient=1)),
        ]
        for name, kwargs in cases:
            args = dict(quick)
            if "J" in kwargs:
                args.pop("n")
            args.update(kwargs)
            self.assert_accepted(rnnlyap.spectrum, name, **args)
        covered = {name for name, _ in cases}
        self.assertEqual(self.refused_names(self.test_spectrum_options) - covered - self.SPECTRUM_NEVER,
                         set(), "refused names without a positive control")

    def test_trained_options_accepted_where_they_apply(self):
        rng = np.random.default_rng(0)
        sd = {"weight_ih_l0": rng.standard_normal((8, 2)), "weight_hh_l0": 0.5 * rng.standard_normal((8, 8))}
        gru = {"weight_ih_l0": 0.3 * rng.standard_normal((24, 2)),
               "weight_hh_l0": 0.3 * rng.standard_normal((24, 8))}
        lstm = {"weight_ih_l0": 0.3 * rng.standard_normal((32, 2)),
                "weight_hh_l0": 0.3 * rng.standard_normal((32, 8))}
        x = np.zeros((60, 2))
        cases = [
            ("k", dict(k=3)), ("model", dict(model="rnn")), ("model", dict(network=gru, model="gru")),
            ("nonlinearity", dict(nonlinearity="relu")), ("nonlinearity", dict(nonlinearity="tanh")),
            ("batch_first", dict(inputs=np.zeros((2, 60, 2)), batch_first=True)),
            ("t_warmup", dict(t_warmup=0)), ("t_sim", dict(t_sim=40)), ("t_ons", dict(t_ons=2)),
            ("seed", dict(seed=2)), ("inputs", dict(inputs=np.zeros((2, 60, 2)))),
            ("network", dict(network=gru)), ("network", dict(network=lstm)),
            ("lstm_h_only", dict(network=lstm, lstm_h_only=True)),
            ("initial_state", dict(initial_state=np.zeros(8))),
        ]
        for name, kwargs in cases:
            args = dict(network=sd, inputs=x, t_warmup=5, t_ons_warmup=5, backend="cpu")
            args.update(kwargs)
            self.assert_accepted(rnnlyap.trained_spectrum, name, **args)
        covered = {name for name, _ in cases}
        self.assertEqual(self.refused_names(self.test_trained_options) - covered - self.TRAINED_NEVER,
                         set(), "refused names without a positive control")

    def test_sweep_options_accepted_where_they_apply(self):
        quick = dict(g=[0.5], n=6, t_warmup=2, t_ons_warmup=2, t_sim=4, backend="cpu")
        with tempfile.TemporaryDirectory() as d:
            cases = [
                ("g", dict(g=[0.5, 1.5])), ("g", dict(g="0.5:1:0.5")), ("g", dict(g=0.5)),
                ("g", dict(g="0.5,1")), ("n", dict(n=[6, 8])), ("n", dict(n="6,8")),
                ("alpha", dict(alpha=[1.5, 2])), ("k", dict(n=[6, 8], k=3)),
                ("dt", dict(dt=0.05)), ("model", dict(model="map")),
                ("partial", dict(partial=os.path.join(d, "p.jsonl"))),
                ("ensemble", dict(ensemble=2)), ("seed", dict(seed=0)),
            ]
            for name, kwargs in cases:
                args = dict(quick)
                args.update(kwargs)
                self.assert_accepted(rnnlyap.sweep, name, **args)
        covered = {name for name, _ in cases}
        self.assertEqual(self.refused_names(self.test_sweep_options) - covered - self.SWEEP_NEVER,
                         set(), "refused names without a positive control")

    def test_messages_name_arguments_not_flags(self):
        # The library's messages name flags; the module rewrites them (exact expected text).
        with self.assertRaises(rnnlyap.InvalidInput) as cm:
            rnnlyap.spectrum(n=10, t_ons=0.25)
        self.assertEqual(str(cm.exception), "t_ons=0.25 is not a whole number of steps of 0.1")
        with self.assertRaises(rnnlyap.InvalidInput) as cm:
            rnnlyap.spectrum(n=10, t_sim=-1.0)
        self.assertEqual(str(cm.exception), "t_sim must be a finite number >= 0, got -1")


class PartialPath(unittest.TestCase):
    """sweep(partial=...) goes through the program's output policy (src/io/output_file.hpp): a
    symlink is written through to its target and stays a link; a path that is not a regular file
    (a FIFO, a directory, a device) or lies in a missing folder raises InvalidInput naming
    `partial` before anything is computed."""

    GRID = dict(g=[0.5, 1.0], n=10, model="map", **QUICK)

    def refused_before_computing(self, path):
        calls = []
        with self.assertRaises(rnnlyap.InvalidInput) as cm:
            rnnlyap.sweep(partial=path, progress=lambda *a: calls.append(a), **self.GRID)
        self.assertEqual(calls, [], f"{path}: computed before it was refused")
        self.assertIn("partial", str(cm.exception))
        self.assertIn(os.fspath(path), str(cm.exception))
        return str(cm.exception)

    def test_symlink_target_is_written_and_the_link_kept(self):
        with tempfile.TemporaryDirectory() as d:
            os.mkdir(os.path.join(d, "real"))
            link = os.path.join(d, "p.jsonl")
            os.symlink("real/p.jsonl", link)  # dangling: created through the link
            a = rnnlyap.sweep(partial=link, **self.GRID)
            self.assertTrue(os.path.islink(link))
            with open(os.path.join(d, "real", "p.jsonl")) as f:
                lines = f.read().splitlines()
            self.assertIn("rnnlyap units 1", lines[0])
            self.assertEqual(len(lines), 3)  # the head and one line per point
            # Continued from the target, and rewritten through the link.
            calls = []
            b = rnnlyap.sweep(partial=link, progress=lambda *x: calls.append(x), **self.GRID)
            self.assertTrue(os.path.islink(link))
            self.assertEqual([c[0] for c in calls], ["done"])  # nothing computed
            assert_array_equal(b["table"]["max_exponent"], a["table"]["max_exponent"])
            self.assertEqual(sorted(os.listdir(d)), ["p.jsonl", "real"])
            self.assertEqual(os.listdir(os.path.join(d, "real")), ["p.jsonl"])

    def test_fifo_is_refused_at_once(self):
        with tempfile.TemporaryDirectory() as d:
            fifo = os.path.join(d, "fifo")
            os.mkfifo(fifo)
            code = ("import rnnlyap\n"
                    "try:\n"
                    f"    rnnlyap.sweep(partial={fifo!r}, g=[0.5], n=6, model='map', t_sim=10,\n"
                    "                  backend='cpu')\n"
                    "except rnnlyap.InvalidInput as e:\n"
                    "    print(e)\n")
            try:
                out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                     timeout=120)
            except subprocess.TimeoutExpired:
                self.fail("sweep(partial=FIFO) hung on the FIFO")
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("partial", out.stdout)
            self.assertIn("FIFO", out.stdout)
            self.assertIn(fifo, out.stdout)

    def test_directory_and_missing_folder_are_refused_before_computing(self):
        with tempfile.TemporaryDirectory() as d:
            message = self.refused_before_computing(d)
            self.assertIn("a directory", message)
            self.refused_before_computing(pathlib.Path(d) / "missing" / "p.jsonl")
            self.assertEqual(os.listdir(d), [])

    def test_character_device_is_refused_and_left_alone(self):
        import stat
        # A program that does not check would replace the device (as root, /dev/null): only once
        # a directory is refused before computing is the device tried.
        with tempfile.TemporaryDirectory() as d:
            self.refused_before_computing(d)
        message = self.refused_before_computing("/dev/null")
        self.assertIn("character device", message)
        self.assertTrue(stat.S_ISCHR(os.stat("/dev/null").st_mode))


if __name__ == "__main__":
    unittest.main(verbosity=2)
