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
import numpy as np

from . import _rnnlyap
from ._rnnlyap import Error, InvalidInput, compiled_backends, version  # noqa: F401
from ._results import _result, _spectrum_result, _sweep_result, _trained_result
from ._torch import _sequences, _trained_network
from ._validation import (_INT_MAX, _GivenState, _call, _callback, _choice, _clv_options, _common,
                          _flag, _grid, _initial_state, _int, _network, _part_seeds, _partial_path,
                          _random_model, _real, _refusing)

__all__ = ["spectrum", "trained_spectrum", "sweep", "InvalidInput", "Error", "version",
           "compiled_backends"]


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
      threads      CPU threads; 0 takes the BLAS library's default count
      progress     None or callable(phase: str, done: int, total: int), called on this thread
                   about every 0.1 s while the run advances ({tqdm})
"""


@_refusing
def spectrum(J=None, *, model="rate", n=None, g=None, weights=None, alpha=None,
             zero_diagonal=False, k=None, integrator=None, dt=None, t_warmup=100.0,
             t_ons_warmup=100.0, t_sim=1000.0, t_ons=1.0, input_std=0.0, bias_std=0.0, seed=1,
             ensemble=1, backend="auto", device=0, precision="fp64", qr="auto", threads=0,
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
    J = _network(o, J, n, g, weights, alpha, bias_std)
    initial_state = _initial_state(o, initial_state)
    with _GivenState(o, initial_state) as given:
        raw, tr, vectors = _call(_rnnlyap.spectrum, o, J, progress, trace)
        r = given.name_in(_result(raw))
    return _spectrum_result(r, tr, vectors)


spectrum.__wrapped__.__doc__ = spectrum.__doc__ = spectrum.__wrapped__.__doc__.replace(
    "{options}", _SPECTRUM_DOC_OPTIONS.format(
        t_sim=1000, seeded="weights, initial state, initial basis and noise",
        tqdm="see the tqdm example below"))


# --------------------------------------------------------------------------------------------------
# Trained networks.

@_refusing
def trained_spectrum(network, inputs, model=None, *, batch_first=None, nonlinearity=None,
                     lstm_h_only=False, k=None, t_warmup=100.0, t_ons_warmup=100.0, t_sim=0.0,
                     t_ons=1.0, seed=1, backend="auto", device=0, precision="fp64",
                     qr="auto", threads=0, progress=None, initial_state=None,
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
    sd, model, nonlinearity, batch_first = _trained_network(network, model, nonlinearity,
                                                            batch_first)
    o = _common({"model": model}, k, t_warmup, t_ons_warmup, t_sim, t_ons, seed, backend, device,
                precision, qr, threads)
    if nonlinearity is not None:
        if model != "rnn":
            raise InvalidInput(f"nonlinearity does not apply to model={model!r} (it is for rnn; gru "
                               "and lstm have PyTorch's fixed nonlinearities)")
        o["nonlinearity"] = _choice("nonlinearity", nonlinearity)
    o["lstm_h_only"] = _flag("lstm_h_only", lstm_h_only)
    o["ftle_window"] = _real("ftle_window", ftle_window)
    _clv_options(o, clv, clv_stats, clv_window, clv_transient)
    if o["lstm_h_only"] and model != "lstm":
        raise InvalidInput(f"lstm_h_only does not apply to model={model!r} (it is for lstm)")
    _callback(progress)
    x, layout = _sequences(inputs, batch_first)
    try:
        with _GivenState(o, initial_state) as given:
            raw, vectors = _call(_rnnlyap.trained, o, sd, x, progress)
    except InvalidInput as e:
        if "input sequence has" in str(e) or "features per step" in str(e):
            raise InvalidInput(f"{e} (inputs of shape {tuple(np.shape(inputs))} read as {layout})") from None
        raise
    return _trained_result(given.name_in(_result(raw)), vectors)


trained_spectrum.__wrapped__.__doc__ = trained_spectrum.__doc__ = \
    trained_spectrum.__wrapped__.__doc__.replace(
        "{options}", _SPECTRUM_DOC_OPTIONS.format(
            t_sim="0: every step after the warm-ups", seeded="the initial tangent basis",
            tqdm="a tqdm example is in help(rnnlyap.spectrum)"))


# --------------------------------------------------------------------------------------------------
# Sweeps.

@_refusing
def sweep(g, *, alpha=None, n=100, model="rate", zero_diagonal=False, k=None, integrator=None,
          dt=None, t_warmup=100.0, t_ons_warmup=100.0, t_sim=1000.0, t_ons=1.0, input_std=0.0,
          seed=1, ensemble=1, backend="auto", device=0, precision="fp64", qr="auto",
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
    path = _partial_path(partial)
    return _sweep_result(_call(_rnnlyap.sweep, o, gs, alphas, ns, path, progress))


sweep.__wrapped__.__doc__ = sweep.__doc__ = sweep.__wrapped__.__doc__.replace(
    "{options}", _SPECTRUM_DOC_OPTIONS.format(
        t_sim=1000, seeded="weights, initial states, initial bases and noise",
        tqdm="a tqdm example is in help(rnnlyap.spectrum)"))
