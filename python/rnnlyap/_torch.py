"""Trained networks given as torch modules or state_dicts: the model, nonlinearity and layout a
torch nn.RNN/GRU/LSTM or a state_dict's weight shapes determine. torch is imported only when a
module is given."""
import collections.abc
import sys

import numpy as np

from ._rnnlyap import InvalidInput
from ._validation import _RANDOM_MODELS, _TRAINED_MODELS, _choice, _flag, _real_array

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


def _trained_network(network, model, nonlinearity, batch_first):
    """(state_dict of float64 arrays, model, nonlinearity, batch_first) of rnnlyap.trained_spectrum's
    `network`, a torch module or a state_dict; a module's own model and nonlinearity must agree
    with those given, and its batch_first is the default."""
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
    return sd, model, nonlinearity, batch_first


def _sequences(inputs, batch_first):
    """The input sequences as a (B, T, input_size) float64 array, and the layout `inputs` was read
    in (for messages): (T, I) is one sequence; a 3-D array is (B, T, I) with batch_first (the
    default when None) and (T, B, I) without, as PyTorch reads it."""
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
    return x, layout
