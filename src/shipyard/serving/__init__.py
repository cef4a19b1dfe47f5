"""The scoring service: registered models behind HTTP, and batch scoring of files.

`create_app` builds the ASGI app, `serve` runs it under uvicorn and `score_file` streams a
file through a model. They are re-exported lazily: FastAPI, pandas and pyarrow cost
hundreds of milliseconds to import and most users of `shipyard` never serve anything.
"""

from __future__ import annotations

from shipyard.lazy import lazy_exports

__all__ = ["create_app", "score_file", "serve"]

__getattr__ = lazy_exports(
    __name__,
    {
        "create_app": "shipyard.serving.app",
        "score_file": "shipyard.serving.batch",
        "serve": "shipyard.serving.server",
    },
)
