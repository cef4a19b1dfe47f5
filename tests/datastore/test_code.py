"""Code snapshots: deterministic tarballs of a flow's source, read back and extracted safely."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from shipyard.datastore import CodePackage, snapshot_code
from shipyard.exceptions import ShipyardError

FLOW_SOURCE = "from helpers.util import f\n\nclass TrainFlow: ...\n"


def write(path: Path, content: str | bytes = "x = 1\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A flow directory with a helper package; returns the flow file."""
    root = tmp_path / "project"
    write(root / "helpers" / "__init__.py", "")
    write(root / "helpers" / "util.py", "def f():\n    return 1\n")
    return write(root / "train_flow.py", FLOW_SOURCE)


def members_of(tarball: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
        return tar.getmembers()


def names_in(tarball: bytes) -> list[str]:
    return [m.name for m in members_of(tarball)]


def tarball_with(entries: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    """A hand-made package, for feeding CodePackage things snapshot_code never produces."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, content in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return raw.getvalue()


MANIFEST = {"SHIPYARD_CODE.json": b'{"script_name": "flow.py"}', "flow.py": b"print(1)\n"}


def test_snapshot_holds_the_py_files_under_the_flow_directory_and_a_manifest(
    project: Path,
) -> None:
    tarball = snapshot_code(project)

    assert sorted(names_in(tarball)) == [
        "SHIPYARD_CODE.json",
        "helpers/__init__.py",
        "helpers/util.py",
        "train_flow.py",
    ]


def test_snapshot_of_the_same_source_is_byte_identical(project: Path) -> None:
    assert snapshot_code(project) == snapshot_code(project)


def test_snapshot_ignores_modification_times(project: Path) -> None:
    before = snapshot_code(project)
    for path in project.parent.rglob("*.py"):
        os.utime(path, (1_000_000, 1_000_000))

    assert snapshot_code(project) == before


def test_snapshot_ignores_file_permissions(project: Path) -> None:
    before = snapshot_code(project)
    project.chmod(0o755)

    assert snapshot_code(project) == before


def test_snapshot_members_carry_no_times_or_owners(project: Path) -> None:
    tarball = snapshot_code(project)

    assert tarball[4:8] == bytes(4)  # the gzip header's MTIME field
    for member in members_of(tarball):
        assert (member.mtime, member.uid, member.gid) == (0, 0, 0)
        assert (member.uname, member.gname) == ("", "")


def test_snapshot_members_are_sorted(project: Path) -> None:
    names = names_in(snapshot_code(project))

    assert names == sorted(names)


def test_snapshot_changes_when_the_source_changes(project: Path) -> None:
    before = snapshot_code(project)
    write(project.parent / "helpers" / "util.py", "def f():\n    return 2\n")

    assert snapshot_code(project) != before


@pytest.mark.parametrize(
    "skipped",
    [
        ".git/hooks/pre.py",
        ".hidden/mod.py",
        "__pycache__/mod.py",
        "node_modules/pkg/mod.py",
        ".venv/lib/mod.py",
        "venv/lib/mod.py",
        "env/lib/python3.11/site-packages/pkg/mod.py",
        "data/table.csv",
        "notes.txt",
        "helpers/util.pyc",
    ],
)
def test_snapshot_skips_environments_caches_and_non_python_files(
    project: Path, skipped: str
) -> None:
    write(project.parent / skipped)

    assert skipped not in names_in(snapshot_code(project))


def test_snapshot_skips_python_files_over_one_mebibyte(project: Path) -> None:
    write(project.parent / "generated.py", b"#" * (1024 * 1024 + 1))
    write(project.parent / "just_fits.py", b"#" * (1024 * 1024))

    names = names_in(snapshot_code(project))

    assert "generated.py" not in names
    assert "just_fits.py" in names


def test_snapshot_over_fifty_mebibytes_is_refused(project: Path) -> None:
    for i in range(51):
        write(project.parent / "big" / f"m{i:02}.py", b"#" * (1024 * 1024))

    with pytest.raises(ShipyardError, match="50 MiB"):
        snapshot_code(project)


def test_manifest_names_the_flow_script(project: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(snapshot_code(project)), mode="r:gz") as tar:
        manifest = json.load(tar.extractfile("SHIPYARD_CODE.json"))

    assert manifest == {"script_name": "train_flow.py"}


def test_code_package_exposes_script_flowspec_files_and_tarball(project: Path) -> None:
    tarball = snapshot_code(project)

    package = CodePackage(tarball)

    assert package.script_name == "train_flow.py"
    assert package.flowspec == FLOW_SOURCE
    assert package.files() == ["helpers/__init__.py", "helpers/util.py", "train_flow.py"]
    assert package.read("helpers/util.py") == "def f():\n    return 1\n"
    assert package.tarball == tarball


def test_reading_a_file_not_in_the_package_raises_key_error(project: Path) -> None:
    with pytest.raises(KeyError, match=r"missing\.py"):
        CodePackage(snapshot_code(project)).read("missing.py")


def test_extract_recreates_the_source_tree(project: Path, tmp_path: Path) -> None:
    dest = tmp_path / "extracted"

    CodePackage(snapshot_code(project)).extract(dest)

    assert (dest / "train_flow.py").read_text() == FLOW_SOURCE
    assert (dest / "helpers" / "util.py").read_text() == "def f():\n    return 1\n"


@pytest.mark.parametrize("evil", ["../escaped.py", "sub/../../escaped.py", "/tmp/escaped.py"])
def test_extract_refuses_paths_that_escape_the_destination(tmp_path: Path, evil: str) -> None:
    package = CodePackage(tarball_with({**MANIFEST, evil: b"pwned = True\n"}))
    dest = tmp_path / "a" / "dest"

    with pytest.raises(ShipyardError, match="refusing"):
        package.extract(dest)

    assert not (tmp_path / "a" / "escaped.py").exists()
    assert not dest.exists()


def test_extract_refuses_link_entries(tmp_path: Path) -> None:
    package = CodePackage(tarball_with(MANIFEST, links={"link.py": "/etc/passwd"}))

    with pytest.raises(ShipyardError, match=r"link\.py"):
        package.extract(tmp_path / "dest")


def test_bytes_that_are_not_a_code_package_are_refused() -> None:
    with pytest.raises(ShipyardError):
        CodePackage(b"not a tarball")


def test_tarball_without_manifest_is_refused() -> None:
    with pytest.raises(ShipyardError, match=r"SHIPYARD_CODE\.json"):
        CodePackage(tarball_with({"flow.py": b""}))
