"""Parsing pathspecs, the one way objects are named everywhere (CLI, client, UI, URLs).

`FlowName`, `FlowName/run_id`, `FlowName/run_id/step`, `FlowName/run_id/step/task_id` and,
for a single artifact, `FlowName/run_id/step/task_id/name`.
"""

from __future__ import annotations

__all__ = ["FORMS", "parse_pathspec", "split_pathspec"]

FORMS: dict[str, str] = {
    "Flow": "FlowName",
    "Run": "FlowName/run_id",
    "Step": "FlowName/run_id/step_name",
    "Task": "FlowName/run_id/step_name/task_id",
    "DataArtifact": "FlowName/run_id/step_name/task_id/artifact_name",
}
_DEPTH = {kind: form.count("/") + 1 for kind, form in FORMS.items()}


def split_pathspec(pathspec: str) -> list[str]:
    """The non-empty components of `pathspec`; raises `ValueError` naming the accepted forms."""
    if not isinstance(pathspec, str):
        raise ValueError(f"a pathspec is a string such as 'TrainFlow/12', not {pathspec!r}")
    parts = pathspec.strip().split("/")
    if not (1 <= len(parts) <= len(FORMS)) or not all(parts):
        forms = ", ".join(repr(form) for form in FORMS.values())
        raise ValueError(f"{pathspec!r} is not a valid pathspec; expected one of {forms}")
    return parts


def parse_pathspec(pathspec: str, kind: str) -> list[str]:
    """The components of a pathspec naming an object of `kind` ("Run", "Task", ...).

    Raises `ValueError` showing the expected form, e.g. `Run("TrainFlow")`.
    """
    expected = FORMS[kind]
    parts = pathspec.strip().split("/") if isinstance(pathspec, str) else []
    if len(parts) != _DEPTH[kind] or not all(parts):
        raise ValueError(
            f"{kind}({pathspec!r}): expected a pathspec of the form {expected!r}, "
            f"e.g. {_example(kind)!r}"
        )
    return parts


def _example(kind: str) -> str:
    return "/".join(["TrainFlow", "12", "train", "3", "model"][: _DEPTH[kind]])
