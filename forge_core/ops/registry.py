"""Every op in one namespace: ``Tensor`` methods and functions call ``registry.<Op>.apply``."""

from forge_core.ops.activations import Gelu, LeakyRelu, LogSoftmax, Relu, Sigmoid, Softmax, Tanh
from forge_core.ops.attention import ScaledDotProductAttention
from forge_core.ops.conv import Conv2d, ConvTranspose2d
from forge_core.ops.dropout import Dropout
from forge_core.ops.elementwise import (
    Abs,
    Add,
    Cast,
    Clamp,
    Div,
    Exp,
    Log,
    Maximum,
    Minimum,
    Mul,
    Neg,
    Pow,
    PowScalar,
    Sqrt,
    Sub,
    Where,
)
from forge_core.ops.embedding import Embedding
from forge_core.ops.losses import (
    BceWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    L1Loss,
    MseLoss,
    NllLoss,
    SoftTargetCrossEntropyLoss,
)
from forge_core.ops.matmul import Linear, MatMul
from forge_core.ops.normalization import BatchNorm, LayerNorm
from forge_core.ops.padding import ConstantPad, CopyPad
from forge_core.ops.pooling import AdaptiveAvgPool, AvgPool2d, MaxPool2d
from forge_core.ops.recurrent import GRUSequence, LSTMSequence
from forge_core.ops.reductions import Extreme, ExtremeAlong, Mean, Sum
from forge_core.ops.shape import Cat, Expand, GetItem, Permute, Reshape, Stack

__all__ = [
    "Abs",
    "AdaptiveAvgPool",
    "Add",
    "AvgPool2d",
    "BatchNorm",
    "BceWithLogitsLoss",
    "Cast",
    "Cat",
    "Clamp",
    "ConstantPad",
    "Conv2d",
    "ConvTranspose2d",
    "CopyPad",
    "CrossEntropyLoss",
    "Div",
    "Dropout",
    "Embedding",
    "Exp",
    "Expand",
    "Extreme",
    "ExtremeAlong",
    "GRUSequence",
    "Gelu",
    "GetItem",
    "HuberLoss",
    "L1Loss",
    "LSTMSequence",
    "LayerNorm",
    "LeakyRelu",
    "Linear",
    "Log",
    "LogSoftmax",
    "MatMul",
    "MaxPool2d",
    "Maximum",
    "Mean",
    "Minimum",
    "MseLoss",
    "Mul",
    "Neg",
    "NllLoss",
    "Permute",
    "Pow",
    "PowScalar",
    "Relu",
    "Reshape",
    "ScaledDotProductAttention",
    "Sigmoid",
    "SoftTargetCrossEntropyLoss",
    "Softmax",
    "Sqrt",
    "Stack",
    "Sub",
    "Sum",
    "Tanh",
    "Where",
]
