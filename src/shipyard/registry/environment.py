"""The Python and library versions a model was saved with, checked where it is loaded.

Pickled models (scikit-learn, plain Python objects) are only as portable as the libraries
that made them: the same bytes may load into subtly different objects, or fail, under
another release. The registry records what saved a version; loading it under a different
major or minor release warns, naming both, before anyone debugs predictions instead.
"""

from __future__ import annotations

import importlib
import platform
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["ModelEnvironmentWarning", "check_environment", "current_environment"]


class ModelEnvironmentWarning(UserWarning):
    """A model is loaded under other Python or library releases than it was saved with."""


def _module_version(module_name: str) -> str | None:
    try:
        module = importlib.import_module(module_name)  # at once if already imported
    except ImportError:
        return None
    version = getattr(module, "__version__", None)
    return str(version) if version is not None else None


def _model_module(model: Any) -> str | None:
    """The top-level package that defines the model's class, if it is a library's."""
    root = type(model).__module__.partition(".")[0]
    return None if root in {"builtins", "__main__"} else root


def current_environment(libraries: Iterable[str], model: Any = None) -> dict[str, Any]:
    """What saving happens under: Python's release and each library's (by module name)."""
    names = list(dict.fromkeys([*libraries, *filter(None, [_model_module(model)])]))
    found = {name: _module_version(name) for name in names}
    return {
        "python": platform.python_version(),
        "libraries": {name: version for name, version in found.items() if version is not None},
    }


def _release(version: str) -> tuple[str, ...]:
    """Major and minor: patch releases keep pickles compatible in practice."""
    return tuple(version.split(".")[:2])


def check_environment(ref: str, saved: Mapping[str, Any] | None) -> list[str]:
    """Warn (and return the differences) when this process differs from `saved`."""
    if not saved:
        return []
    differences = []
    python = saved.get("python")
    if python and _release(python) != _release(platform.python_version()):
        differences.append(f"Python {python} (here {platform.python_version()})")
    for name, version in sorted(saved.get("libraries", {}).items()):
        here = _module_version(name)
        if here is None:
            continue  # the flavor's own load reports a missing library
        if _release(version) != _release(here):
            differences.append(f"{name} {version} (here {here})")
    if differences:
        warnings.warn(
            f"{ref} was saved with {', '.join(differences)}; its predictions may differ or "
            "loading may fail. Load it where those releases are installed, or register it "
            "again from this environment",
            ModelEnvironmentWarning,
            stacklevel=3,
        )
    return differences
