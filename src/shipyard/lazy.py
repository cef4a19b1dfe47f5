"""Lazy re-exports: a package names its public objects without importing their modules.

Start-up time is a feature of a CLI (`python flow.py show`, `shipyard runs`), so packages
re-export heavy objects (the client, the stores) through this instead of importing them.
"""

from __future__ import annotations

import importlib
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
