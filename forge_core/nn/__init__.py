"""Layers, losses and initialisation with PyTorch's names, shapes and parameter layout."""

from forge_core.nn.module import Module
from forge_core.nn.parameter import Parameter

__all__ = ["Module", "Parameter"]
