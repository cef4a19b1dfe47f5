"""`load_feature_set(spec)`: the feature set a command line names.

A feature set is Python (its features may be Python functions), so a command names where
its definition lives: `path/to/file.py:NAME` or `package.module:NAME`, where NAME is the
variable holding the `FeatureSet`; `:NAME` may be left out when the file or module defines
exactly one feature set.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from shipyard.features.errors import FeatureDefinitionError
from shipyard.features.featureset import FeatureSet

__all__ = ["load_feature_set"]


def load_feature_set(spec: str) -> FeatureSet:
    """The `FeatureSet` `spec` (`file.py[:NAME]` or `module[:NAME]`) names."""
    where, _, name = spec.partition(":")
    module = _module(where, spec)
    if name:
        found = getattr(module, name, None)
        if not isinstance(found, FeatureSet):
            raise FeatureDefinitionError(
                f"{spec}: {where} has no feature set named {name!r} "
                f"(its feature sets: {', '.join(_feature_sets(module)) or 'none'})"
            )
        return found
    candidates = _feature_sets(module)
    if len(candidates) != 1:
        raise FeatureDefinitionError(
            f"{spec}: {where} defines {len(candidates)} feature sets "
            f"({', '.join(candidates) or 'none'}); name one: {where}:NAME"
        )
    found = getattr(module, candidates[0])
    assert isinstance(found, FeatureSet)
    return found


def _module(where: str, spec: str) -> ModuleType:
    if where.endswith(".py"):
        path = Path(where).resolve()
        if not path.is_file():
            raise FeatureDefinitionError(f"{spec}: there is no file {where}")
        name = f"shipyard_feature_set_{path.stem}"
        loader = importlib.util.spec_from_file_location(name, path)
        assert loader is not None and loader.loader is not None
        module = importlib.util.module_from_spec(loader)
        sys.modules[name] = module  # dataclasses and pickling look their module up there
        sys.path.insert(0, str(path.parent))  # the file's own imports of its neighbours
        try:
            loader.loader.exec_module(module)
        finally:
            sys.path.remove(str(path.parent))
        return module
    try:
        return importlib.import_module(where)
    except ImportError as exc:
        raise FeatureDefinitionError(
            f"{spec}: cannot import {where!r} ({exc}); name a file (path/to/file.py:NAME) or "
            "an importable module (package.module:NAME)"
        ) from exc


def _feature_sets(module: ModuleType) -> list[str]:
    return sorted(name for name, value in vars(module).items() if isinstance(value, FeatureSet))
