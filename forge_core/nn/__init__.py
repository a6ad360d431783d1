"""Layers, losses and initialisation with PyTorch's names, shapes and parameter layout."""

from forge_core.nn import functional, init, utils
from forge_core.nn.activation import GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from forge_core.nn.attention import MultiheadAttention
from forge_core.nn.container import ModuleList, Sequential
from forge_core.nn.conv import Conv1d, Conv2d
from forge_core.nn.conv_transpose import ConvTranspose1d, ConvTranspose2d
from forge_core.nn.dropout import Dropout
from forge_core.nn.embedding import Embedding
from forge_core.nn.flatten import Flatten
from forge_core.nn.linear import Identity, Linear
from forge_core.nn.loss import (
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
)
from forge_core.nn.module import Module
from forge_core.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from forge_core.nn.parameter import Parameter
from forge_core.nn.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
)
from forge_core.nn.rnn import GRU, LSTM, GRUCell, LSTMCell
from forge_core.nn.transformer import TransformerEncoder, TransformerEncoderLayer

# issue #14: the rest of torch.nn's activations, probability losses and similarity
from forge_core.nn.activation import (  # isort: skip
    CELU,
    ELU,
    SELU,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LogSigmoid,
    Mish,
    ReLU6,
    SiLU,
    Softplus,
    Softsign,
)
from forge_core.nn.distance import CosineSimilarity  # isort: skip
from forge_core.nn.loss import BCELoss, KLDivLoss  # isort: skip

__all__ = [
    "GELU",
    "GRU",
    "LSTM",
    "AvgPool2d",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "Flatten",
    "GRUCell",
    "HuberLoss",
    "Identity",
    "L1Loss",
    "LSTMCell",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "ModuleList",
    "MultiheadAttention",
    "NLLLoss",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "functional",
    "init",
    "utils",
]

# ----- convolutions and pooling (issue #14) -----
__all__ += [
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AvgPool1d",
    "Conv1d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "MaxPool1d",
]

# ----- activations, probability losses and similarity (issue #14) -----
__all__ += [
    "CELU",
    "ELU",
    "SELU",
    "BCELoss",
    "CosineSimilarity",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "KLDivLoss",
    "LogSigmoid",
    "Mish",
    "ReLU6",
    "SiLU",
    "Softplus",
    "Softsign",
]
