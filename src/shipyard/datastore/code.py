"""Code snapshots: the Python source a run executed, stored with it as one tarball.

The snapshot is deterministic (sorted members, zeroed times and owners, fixed permissions),
so unchanged source yields byte-identical tarballs: their hash is stable and every run of the
same code shares one blob.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from pathlib import Path, PurePosixPath

from shipyard.exceptions import ShipyardError

__all__ = ["CodePackage", "snapshot_code"]

MANIFEST_NAME = "SHIPYARD_CODE.json"
MAX_FILE_SIZE = 1 << 20  # bigger .py files are generated data, not code
MAX_TOTAL_SIZE = 50 << 20
_SKIPPED_DIRS = frozenset({"__pycache__", "node_modules", ".venv", "venv", "site-packages"})
_FILE_MODE = 0o644


def snapshot_code(flow_file: Path) -> bytes:
    """A gzip'd tarball of the `.py` files under the flow file's directory.

    Environments and caches (hidden directories, virtualenvs, `__pycache__`, `node_modules`)
    and `.py` files over 1 MiB are left out; the flow file itself is always included.
    Raises `ShipyardError` if what remains exceeds 50 MiB.
    """
    flow_file = Path(flow_file).resolve()
    root = flow_file.parent
    script_name = flow_file.relative_to(root).as_posix()
    files = _collect_sources(root, flow_file)

    members: dict[str, bytes] = {
        MANIFEST_NAME: json.dumps({"script_name": script_name}, sort_keys=True).encode()
    }
    total = 0
    for name, path in files:
        content = path.read_bytes()
        total += len(content)
        if total > MAX_TOTAL_SIZE:
            raise ShipyardError(
                f"the Python source under {root} is over {MAX_TOTAL_SIZE >> 20} MiB, the limit "
                "of a code snapshot. Move the flow into a directory holding only its code, or "
                "move large generated .py files out of it."
            )
        members[name] = content
    return _deterministic_tarball(members)


def _collect_sources(root: Path, flow_file: Path) -> list[tuple[str, Path]]:
    """(archive name, path) of each source file to snapshot, sorted by name."""
    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        # Pruning in place stops os.walk from descending into environments and caches.
        dirnames[:] = [d for d in dirnames if not _is_skipped_dir(d)]
        for filename in filenames:
            path = Path(dirpath, filename)
            if path == flow_file or _is_source(path):
                found.append((path.relative_to(root).as_posix(), path))
    return sorted(found)


def _is_skipped_dir(name: str) -> bool:
    return name.startswith(".") or name in _SKIPPED_DIRS


def _is_source(path: Path) -> bool:
    if path.suffix != ".py":
        return False
    try:
        return path.stat().st_size <= MAX_FILE_SIZE
    except OSError:  # a dangling symlink or a file removed meanwhile
        return False


def _deterministic_tarball(members: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(members):
            content = members[name]
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mtime = 0
            info.mode = _FILE_MODE
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue(), mtime=0)


class CodePackage:
    """A code snapshot read back: the flow's script and the source files around it."""

    def __init__(self, tarball: bytes) -> None:
        self._tarball = tarball
        self._files: dict[str, bytes] = {}
        self._unsafe: list[str] = []
        try:
            with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
                for info in tar:
                    if not info.isfile():
                        self._unsafe.append(info.name)
                        continue
                    extracted = tar.extractfile(info)
                    self._files[info.name] = extracted.read() if extracted else b""
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise ShipyardError(f"the code package is not a valid gzip'd tarball: {exc}") from exc
        manifest = self._files.pop(MANIFEST_NAME, None)
        if manifest is None:
            raise ShipyardError(
                f"the code package has no {MANIFEST_NAME}: it was not made by snapshot_code."
            )
        self._script_name: str = json.loads(manifest)["script_name"]

    @property
    def tarball(self) -> bytes:
        """The package as stored (what its blob hash is computed over)."""
        return self._tarball

    @property
    def script_name(self) -> str:
        """The flow file's path relative to the snapshot root."""
        return self._script_name

    @property
    def flowspec(self) -> str:
        """The source of the flow file the run executed."""
        return self.read(self._script_name)

    def files(self) -> list[str]:
        """The source files in the package (relative POSIX paths), sorted."""
        return sorted(self._files)

    def read(self, name: str) -> str:
        """The text of source file `name` (as listed by `files`)."""
        try:
            return self._files[name].decode("utf-8")
        except KeyError:
            raise KeyError(f"{name!r} is not in the code package") from None

    def extract(self, dest: Path) -> None:
        """Write the source files under `dest`, recreating the snapshot's layout.

        Every name is checked before anything is written, so a tampered package that would
        escape `dest` (absolute paths, `..`, links, devices) is refused as a whole.
        """
        if self._unsafe:
            raise ShipyardError(
                f"refusing to extract the code package: it holds entries that are not regular "
                f"files ({', '.join(sorted(self._unsafe))})."
            )
        dest = Path(dest).resolve()
        targets = {name: _safe_target(dest, name) for name in self._files}
        for name, target in targets.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self._files[name])

    def __repr__(self) -> str:
        return f"<CodePackage {self._script_name} ({len(self._files)} files)>"


def _safe_target(dest: Path, name: str) -> Path:
    """Where `name` goes under `dest`; raises if it would land anywhere else."""
    pure = PurePosixPath(name)
    if (
        not name
        or pure.is_absolute()
        or ".." in pure.parts
        or "\\" in name
        or (len(name) > 1 and name[1] == ":")  # a Windows drive
    ):
        raise ShipyardError(f"refusing to extract the code package: unsafe path {name!r}.")
    target = dest.joinpath(*pure.parts).resolve()
    if not target.is_relative_to(dest):
        raise ShipyardError(f"refusing to extract the code package: {name!r} escapes {dest}.")
    return target
