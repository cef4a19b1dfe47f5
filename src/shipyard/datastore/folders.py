"""Local files made in a folder that usually exists: create it only when the first file needs it.

A `mkdir` that finds its folder already there still takes a write lock on it; with every task
of a wide fan-out writing a blob and its logs, that lock was a measurable share of a task's
cost. So the file operation is tried first, and the folder made only if it was missing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

__all__ = ["in_folder"]


def in_folder(folder: str | os.PathLike[str], action: Callable[[], T]) -> T:
    """`action()` (which creates something in `folder`), making `folder` first if it fails
    because the folder is missing."""
    try:
        return action()
    except FileNotFoundError:
        os.makedirs(folder, exist_ok=True)
        return action()
