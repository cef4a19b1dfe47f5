"""Lazy re-exports: a package names its public objects without importing their modules.

Start-up time is a feature of a CLI (`python flow.py show`, `shipyard runs`), so packages
re-export heavy objects (the client, the stores) through this instead of importing them.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` that imports `where[name]` on first access and caches it.

    `where` maps a public name to the module defining it; a name equal to the module's own
    last component (`"models": "shipyard.registry.models"`) exports the module itself.
    """
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        imported = importlib.import_module(module)
        value = imported if module.rpartition(".")[2] == name else getattr(imported, name)
        namespace[name] = value
        return value

    return __getattr__


class FunctionOverPackage:
    """One name for a function and a subpackage: calling it calls `function` (imported on
    first call), any attribute is the package's.

    `from metaflow import metadata` is a function, while `shipyard.metadata` is the metadata
    package; the package root exports this, so that both `metadata("...")` and
    `shipyard.metadata.open_metadata` keep working (see `keep_over_subpackages`).
    """

    def __init__(self, package: str, function_module: str, function_name: str) -> None:
        self._package = package
        self._function = (function_module, function_name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        module, name = self._function
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(importlib.import_module(self._package), name)

    def __dir__(self) -> list[str]:
        return dir(importlib.import_module(self._package))

    def __repr__(self) -> str:
        module, name = self._function
        return f"<{module}.{name}, also the package {self._package}>"


def keep_over_subpackages(module_name: str, names: frozenset[str]) -> None:
    """Stop the import system from replacing the attributes `names` of `module_name` with
    the subpackages of the same name when those are first imported (it sets them on the
    parent module): the `FunctionOverPackage` objects there stay."""
    module = sys.modules[module_name]

    class Guarded(types.ModuleType):
        def __setattr__(self, name: str, value: Any) -> None:
            if name in names and isinstance(value, types.ModuleType):
                return
            super().__setattr__(name, value)

    module.__class__ = Guarded
