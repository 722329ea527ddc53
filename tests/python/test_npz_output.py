"""The program's .npz outputs (--npz), read by numpy itself: every array equals the JSON written by
the same run, the trace equals the CSV, a sweep's members sit at their (n, alpha, g) cell with NaN
beyond each point's k, and non-finite exponents stay non-finite (JSON can only say null).

Run by ctest with RNNLYAP_CLI_PATH set to the program."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

try:
    import numpy as np
except ImportError:  # ctest reports exit code 77 as skipped
    print(f"skipped: {sys.executable} has no numpy")
    sys.exit(77)

CLI = os.environ.get("RNNLYAP_CLI_PATH", "rnnlyap")
QUICK = ["--quiet", "--t-warmup", "20", "--t-ons-warmup", "10", "--t-sim", "40"]


def run(*args, cwd):
    subprocess.run([CLI, *args], cwd=cwd, check=True)


def load_json(path):
    with open(path) as f:
        return json.load(f)


def as_array(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


class NpzOutput(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.d = self.dir.name

    def tearDown(self):
        self.dir.cleanup()

    def path(self, name):
        return os.path.join(self.d, name)

    def test_covariant_vectors_npy(self):
        run("spectrum", "--model", "map", "--n", "12", "--k", "5", "--g", "3", *QUICK, "--clv",
            "v.npy", "--clv-stats", "--clv-transient", "10", "--out", "r.json", "--npz", "r.npz",
            cwd=self.d)
        v = np.load(self.path("v.npy"))
        self.assertEqual(v.dtype, np.float64)
        self.assertEqual(v.shape, (12, 5))
        np.testing.assert_allclose(np.linalg.norm(v, axis=0), 1, atol=1e-12)
        f = np.load(self.path("r.npz"))
        np.testing.assert_array_equal(f["clv_vectors"], v)
        j = load_json(self.path("r.json"))
        np.testing.assert_array_equal(f["clv_exponents"], as_array(j["clv"]["exponents"]))
        np.testing.assert_array_equal(f["clv_ipr"], as_array(j["clv"]["ipr"]))

    def test_single_run_with_trace(self):
        run("spectrum", "--model", "map", "--n", "12", "--g", "1.5", *QUICK, "--out", "r.json",
            "--trace", "t.csv", "--npz", "r.npz", cwd=self.d)
        j = load_json(self.path("r.json"))
        f = np.load(self.path("r.npz"))
        np.testing.assert_array_equal(f["exponents"], as_array(j["exponents"]))
        np.testing.assert_array_equal(f["stderr"], as_array(j["stderr"]))
        for key in ("max_exponent", "mean_exponent", "sum", "n_positive", "ky_dimension",
                    "ks_entropy"):
            self.assertEqual(f[key].shape, ())
            self.assertEqual(float(f[key]), j["summary"][key], key)
        self.assertEqual(json.loads(str(f["result_json"])), j)
        csv = np.loadtxt(self.path("t.csv"), delimiter=",", skiprows=1)
        self.assertEqual(f["trace"].shape, (csv.shape[0], 12))
        # Both sides come from the program: a NaN on both would pass assert_allclose's default
        # equal_nan=True, so NaN never counts as equal here (this network's values are finite).
        self.assertTrue(np.all(np.isfinite(f["trace"])), f["trace"])
        np.testing.assert_allclose(f["trace_time"], csv[:, 0], rtol=1e-9, equal_nan=False)
        np.testing.assert_allclose(f["trace"], csv[:, 1:], rtol=1e-9, atol=1e-12, equal_nan=False)
        # The last running estimate is the result.
        np.testing.assert_allclose(f["trace"][-1], f["exponents"], rtol=1e-9, atol=1e-12,
                                   equal_nan=False)

    def test_ensemble_members_and_seeds(self):
        run("spectrum", "--model", "map", "--n", "10", "--g", "1.5", "--ensemble", "3", "--seed",
            "7", *QUICK, "--out", "e.json", "--npz", "e.npz", cwd=self.d)
        j = load_json(self.path("e.json"))
        f = np.load(self.path("e.npz"))
        self.assertEqual(f["members"].shape, (3, 10))
        self.assertEqual(f["seeds"].dtype, np.uint64)
        np.testing.assert_array_equal(f["seeds"], [7, 8, 9])
        for b, m in enumerate(j["members"]):
            np.testing.assert_array_equal(f["members"][b], as_array(m["exponents"]))
            np.testing.assert_array_equal(f["members_stderr"][b], as_array(m["stderr"]))
        # The top level is the mean over members and its standard error (finite here: a NaN on
        # both sides must not pass as equal).
        self.assertTrue(np.all(np.isfinite(f["members"])), f["members"])
        np.testing.assert_allclose(f["exponents"], f["members"].mean(axis=0), rtol=1e-12,
                                   equal_nan=False)
        np.testing.assert_allclose(f["stderr"], f["members"].std(axis=0, ddof=1) / np.sqrt(3),
                                   rtol=1e-9, equal_nan=False)
        self.assertEqual(float(f["max_exponent_stderr"]), j["summary_stderr"]["max_exponent"])

    def test_singular_network_keeps_minus_infinity(self):
        # g = 0: J = 0, every exponent is -inf (JSON says null; the array says -inf).
        run("spectrum", "--model", "map", "--n", "4", "--g", "0", *QUICK, "--out", "z.json",
            "--npz", "z.npz", cwd=self.d)
        f = np.load(self.path("z.npz"))
        self.assertTrue(np.all(np.isneginf(f["exponents"])), f["exponents"])

    def test_sweep_layout(self):
        run("sweep", "--model", "map", "--n", "6,9", "--g", "0.5,1.5,2", "--alpha", "1,2",
            "--ensemble", "2", *QUICK, "--out", "s.json", "--npz", "s.npz", cwd=self.d)
        j = load_json(self.path("s.json"))
        f = np.load(self.path("s.npz"))
        np.testing.assert_array_equal(f["g"], [0.5, 1.5, 2])
        np.testing.assert_array_equal(f["alpha"], [1, 2])
        np.testing.assert_array_equal(f["n"], [6, 9])
        self.assertEqual(f["members"].shape, (2, 2, 3, 2, 9))
        self.assertEqual(len(j["grid"]), 12)
        for p in j["grid"]:
            ni, ai, gi = [6, 9].index(p["n"]), [1, 2].index(p["alpha"]), [0.5, 1.5, 2].index(p["g"])
            self.assertEqual(f["k"][ni, ai, gi], p["n"])
            self.assertEqual(f["max_exponent"][ni, ai, gi], p["max_exponent"])
            for b in range(2):
                np.testing.assert_array_equal(f["members"][ni, ai, gi, b, : p["n"]],
                                              as_array(p["members"][b]))
                self.assertTrue(np.all(np.isnan(f["members"][ni, ai, gi, b, p["n"]:])))
        self.assertEqual(json.loads(str(f["sweep_json"])), j)

    def test_gaussian_sweep_has_one_alpha_cell(self):
        run("sweep", "--model", "map", "--n", "5", "--g", "1,2", *QUICK, "--out", "s.json",
            "--npz", "s.npz", cwd=self.d)
        f = np.load(self.path("s.npz"))
        self.assertEqual(f["alpha"].shape, (0,))
        self.assertEqual(f["max_exponent"].shape, (1, 1, 2))
        self.assertEqual(f["members"].shape, (1, 1, 2, 1, 5))


if __name__ == "__main__":
    unittest.main()
