"""Containers that hold layers: ``Sequential`` chains them, ``ModuleList`` just registers them.

Children are registered under their position (``"0"``, ``"1"``, …) or the names of an
``OrderedDict``, so parameter names (``0.weight``) match PyTorch's and its ``state_dict`` loads.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any, overload

from forge_core.nn.module import Module


class Sequential(Module):
    """Calls its layers in order, each on the previous one's output."""

    @overload
    def __init__(self, *modules: Module) -> None: ...

    @overload
    def __init__(self, modules: OrderedDict[str, Module], /) -> None: ...

    def __init__(self, *modules: Any) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for index, module in enumerate(modules):
                self.add_module(str(index), module)

    @overload
    def __getitem__(self, index: int) -> Module: ...

    @overload
    def __getitem__(self, index: slice) -> Sequential: ...

    def __getitem__(self, index: int | slice) -> Module:
        if isinstance(index, slice):
            return Sequential(OrderedDict(list(self.named_children())[index]))
        return _at(list(self.children()), index, type(self).__name__)

    def __setitem__(self, index: int, module: Module) -> None:
        names = list(self._modules)
        _at(names, index, type(self).__name__)
        self.add_module(names[index], module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return self.children()

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), module)
        return self

    def forward(self, input: Any) -> Any:
        for module in self.children():
            input = module(input)
        return input


class ModuleList(Module):
    """A list of layers whose parameters the parent module sees; it has no ``forward``."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    @overload
    def __getitem__(self, index: int) -> Module: ...

    @overload
    def __getitem__(self, index: slice) -> ModuleList: ...

    def __getitem__(self, index: int | slice) -> Module:
        modules = list(self.children())
        if isinstance(index, slice):
            return ModuleList(modules[index])
        return _at(modules, index, type(self).__name__)

    def __setitem__(self, index: int, module: Module) -> None:
        names = list(self._modules)
        _at(names, index, type(self).__name__)
        self.add_module(names[index], module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self.children()))

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert before ``index``, renumbering the later children as PyTorch does."""
        modules = list(self.children())
        modules.insert(index, module)
        for name in list(self._modules):
            delattr(self, name)
        self.extend(modules)


def _at(items: list[Any], index: int, owner: str) -> Any:
    if not -len(items) <= index < len(items):
        raise IndexError(f"index {index} is out of range for a {owner} of length {len(items)}")
    return items[index]
