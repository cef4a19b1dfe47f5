"""The client's namespace: which runs listing and lookups see by default.

A namespace is a run tag. By default it is `user:<current user>`, so that on a shared
metadata store a user's `Flow("TrainFlow").latest_run` is *their* latest run, not a
colleague's. `namespace(None)` is the global namespace that sees every run.

This is process-wide state on purpose: it mirrors Metaflow's `namespace()`, which notebooks
and scripts set once at the top and then rely on for every object they create.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final

from shipyard.config import Config
from shipyard.exceptions import NamespaceMismatch

if TYPE_CHECKING:
    from shipyard.metadata.records import RunRecord

__all__ = [
    "check_namespace",
    "default_namespace",
    "get_namespace",
    "in_current_namespace",
    "in_namespace",
    "namespace",
]


class _Default:
    """Marker for "no namespace chosen": resolved to `user:<user>` at every use."""

    def __repr__(self) -> str:
        return "<default namespace>"


_DEFAULT: Final = _Default()

# Kept unresolved while on the default, so that a change of SHIPYARD_USER (a new shell, a
# test) is seen without calling `default_namespace()` again.
_current: str | _Default | None = _DEFAULT


def _user_namespace() -> str:
    return f"user:{Config.load().user}"


def namespace(ns: str | None) -> str | None:
    """Switch the namespace to the tag `ns` (e.g. `"user:bob"`, `"team:vision"`), or to the
    global namespace with `None`; returns the new namespace.

    Runs are listed only if they carry the tag, and reaching a run outside it raises
    `NamespaceMismatch`.
    """
    global _current
    if ns is not None and (not isinstance(ns, str) or not ns):
        raise ValueError(f"a namespace is a non-empty tag such as 'user:alice' or None, not {ns!r}")
    _current = ns
    return ns


def get_namespace() -> str | None:
    """The current namespace: a tag, or None for the global namespace."""
    if isinstance(_current, _Default):
        return _user_namespace()
    return _current


def default_namespace() -> str:
    """Go back to the default namespace, `user:<current user>`, and return it."""
    global _current
    _current = _DEFAULT
    return _user_namespace()


@contextmanager
def in_namespace(ns: str | None) -> Iterator[str | None]:
    """Use the namespace `ns` inside a `with` block, then restore the previous choice exactly.

    Tools such as the `shipyard` CLI look up an explicit pathspec in the global namespace
    without changing what the rest of the process sees.
    """
    global _current
    previous = _current
    namespace(ns)
    try:
        yield ns
    finally:
        _current = previous


def in_current_namespace(run: RunRecord) -> bool:
    """Whether `run` is visible in the current namespace (it carries the namespace's tag)."""
    ns = get_namespace()
    return ns is None or ns in run.tags or ns in run.system_tags


def check_namespace(run: RunRecord, pathspec: str) -> None:
    """Raise `NamespaceMismatch` if `run`, which `pathspec` lies in, is outside the namespace.

    Reaching a colleague's run by pathspec is usually a typo or a stale id, so it is refused
    unless asked for explicitly; the message says how.
    """
    if in_current_namespace(run):
        return
    raise NamespaceMismatch(
        f"'{pathspec}' is not in the current namespace {get_namespace()!r}: run "
        f"'{run.pathspec}' was started by user {run.user!r}. Call namespace(None) to see "
        f"objects of every namespace, or namespace('user:{run.user}') to switch to theirs."
    )
