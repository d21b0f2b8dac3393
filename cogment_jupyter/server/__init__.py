"""The Jupyter server extension: a Cogment runtime shared by every kernel of the server.

- ``app``          ``CogmentJupyter``, the ``ExtensionApp`` (traits, start/stop hooks)
- ``supervisor``   runs ``cogment-jupyter services runtime`` as a child, restarts it if it dies
- ``handlers``     REST under ``/cogment/api/`` (status, trials, steps as JSON/Arrow, terminate)
- ``recorded_trials``  reads the shared datastore for the REST API
- ``orchestrator_client``  the server's gRPC client of the runtime's orchestrator

Kernels find the runtime through ``cogment_jupyter.shared_runtime``, without this package;
the server imports ``app``.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """What jupyter_server loads when ``jpserver_extensions`` enables ``cogment_jupyter``."""
    from cogment_jupyter.server.app import CogmentJupyter

    return [{"module": "cogment_jupyter.server.app", "app": CogmentJupyter}]
