"""The client's namespace: which runs listing and lookups see by default.

A namespace is a run tag. By default it is `user:<current user>`, so that on a shared
metadata store a user's `Flow("TrainFlow").latest_run` is *their* latest run, not a
colleague's. `namespace(None)` is the global namespace that sees every run.

The namespace belongs to the execution context (a `ContextVar`): as with Metaflow's
`namespace()`, a script or notebook sets it once at the top and every object it creates after
that sees it, while a server answering requests for different users on threads or asyncio
tasks sees only the namespace its own request chose. A thread starts in the default.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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

# Kept unresolved while on the default, so that a reloaded configuration (another
# SHIPYARD_USER) is seen without calling `default_namespace()` again.
_current: ContextVar[str | _Default | None] = ContextVar("shipyard_namespace", default=_DEFAULT)


def _user_namespace() -> str:
    return f"user:{Config.current().user}"


def _checked(ns: str | None) -> str | None:
    if ns is not None and (not isinstance(ns, str) or not ns):
        raise ValueError(f"a namespace is a non-empty tag such as 'user:alice' or None, not {ns!r}")
    return ns


def namespace(ns: str | None) -> str | None:
    """Switch the namespace to the tag `ns` (e.g. `"user:bob"`, `"team:vision"`), or to the
    global namespace with `None`; returns the new namespace.

    Runs are listed only if they carry the tag, and reaching a run outside it raises
    `NamespaceMismatch`.
    """
    _current.set(_checked(ns))
    return ns


def get_namespace() -> str | None:
    """The current namespace: a tag, or None for the global namespace."""
    chosen = _current.get()
    if isinstance(chosen, _Default):
        return _user_namespace()
    return chosen


def default_namespace() -> str:
    """Go back to the default namespace, `user:<current user>`, and return it."""
    _current.set(_DEFAULT)
    return _user_namespace()


@contextmanager
def in_namespace(ns: str | None) -> Iterator[str | None]:
    """Use the namespace `ns` inside a `with` block, then restore the previous choice exactly.

    Tools such as the `shipyard` CLI look up an explicit pathspec in the global namespace
    without changing what the rest of the process sees.
    """
    token = _current.set(_checked(ns))
    try:
        yield ns
    finally:
        _current.reset(token)


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
