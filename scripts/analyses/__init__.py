"""The analyses of scripts/analyses.py, one module per analysis (size_invariance, symmetry,
input_noise, lambda1, exact, transition, clv), what they share (runner) and the command line (cli).
runner is imported first: it stops with a message when numpy or matplotlib is missing."""
from . import runner  # noqa: F401
