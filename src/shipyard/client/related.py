"""What packages above the client know about a run, reachable from it: `Run(...).models`.

The model registry imports the client (a version's `run` is a client `Run`), so the client
cannot import the registry back; it declares the lookup as a plug instead, and the package
root installs the registry's. Kept apart from `objects` so that installing it at
`import shipyard` costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shipyard.plugs import Plug

if TYPE_CHECKING:
    from shipyard.client.objects import Run

__all__ = ["models_of_run"]

#: The model versions registered from a run, in registration order (`ModelVersion`s of
#: `shipyard.registry`).
models_of_run: Plug[[Run], list[Any]] = Plug("the models of a run (the model registry)")
