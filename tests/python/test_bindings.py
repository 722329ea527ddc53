"""Tests of the Python bindings (run by ctest with PYTHONPATH=<build>/python).

Independent truth as in the C++ suite: a given map below onset has the exact spectrum log|μ_i|
(numpy eigenvalues); a trained rnn with zero input and biases sits at h = 0 where its Jacobian is
W_hh; the GIL is released while computing (another thread keeps running)."""
import sys
import threading
import time
import unittest

try:
    import numpy as np
except ImportError:  # ctest reports exit code 77 as skipped (SKIP_RETURN_CODE)
    print(f"skipped: {sys.executable} has no numpy (configure with -DPython_EXECUTABLE=/usr/bin/python3)")
    sys.exit(77)

import rnnlyap


def exact_sorted(mat):
    return np.sort(np.log(np.abs(np.linalg.eigvals(mat))))[::-1]


class Bindings(unittest.TestCase):
    def test_given_map_below_onset_is_exact(self):
        rng = np.random.default_rng(0)
        n = 40
        J = 0.6 * rng.standard_normal((n, n)) / np.sqrt(n)
        r = rnnlyap.spectrum(J, model="map", t_warmup=300, t_sim=1000, backend="cpu")
        self.assertIsInstance(r["exponents"], np.ndarray)
        self.assertEqual(r["params"]["n"], n)
        got = np.sort(r["exponents"])[::-1]
        tol = 4 * np.nanmax(r["stderr"]) + 10.0 / r["schedule"]["averaged_time"]
        np.testing.assert_allclose(got, exact_sorted(J), atol=tol)

    def test_result_has_the_contract_keys(self):
        r = rnnlyap.spectrum(n=20, g=3, t_sim=50, t_ons_warmup=10, t_warmup=10, backend="cpu")
        for key in ("exponents", "stderr", "summary", "params", "backend", "device", "precision", "timing"):
            self.assertIn(key, r)
        self.assertEqual(r["exponents"].shape, (20,))
        e = rnnlyap.spectrum(n=20, g=3, t_sim=50, t_ons_warmup=10, t_warmup=10, ensemble=3, backend="cpu")
        self.assertEqual(len(e["members"]), 3)

    def test_trained_rnn_at_zero_fixed_point(self):
        rng = np.random.default_rng(1)
        n, i = 16, 3
        whh = 0.7 * rng.standard_normal((n, n)) / np.sqrt(n)
        sd = {"weight_ih_l0": rng.standard_normal((n, i)), "weight_hh_l0": whh}
        x = np.zeros((2, 1200, i))
        r = rnnlyap.trained_spectrum(sd, x, model="rnn", t_warmup=10, t_ons_warmup=100)
        self.assertEqual(r["exponents_per_sequence"].shape, (2, n))
        tol = 4 * np.nanmax(r["members"][0]["stderr"]) + 10.0 / 1090
        np.testing.assert_allclose(np.sort(r["exponents_per_sequence"][0])[::-1], exact_sorted(whh), atol=tol)

    def test_lstm_state_dict_from_torch(self):
        try:
            import torch
        except ImportError:
            self.skipTest("no torch")
        m = torch.nn.LSTM(3, 8, batch_first=True)
        r = rnnlyap.trained_spectrum(m.state_dict(), np.random.default_rng(2).standard_normal((250, 3)))
        self.assertEqual(r["exponents"].shape, (16,))  # (h, c): 2N
        r = rnnlyap.trained_spectrum(m.state_dict(), np.zeros((250, 3)), lstm_h_only=True)
        self.assertEqual(r["exponents"].shape, (8,))

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

    def test_bad_input_raises(self):
        with self.assertRaises(rnnlyap.InvalidInput):
            rnnlyap.spectrum(n=10, k=11)
        with self.assertRaises(ValueError):
            rnnlyap.spectrum(np.ones((3, 4)))
        with self.assertRaises(rnnlyap.InvalidInput):
            rnnlyap.trained_spectrum({"weight_ih_l0": np.ones((8, 2))}, np.zeros((300, 2)), model="rnn")
        with self.assertRaises(TypeError):
            rnnlyap.spectrum(n=10, no_such_option=1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
