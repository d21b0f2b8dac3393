"""The official Cogment Python SDK, optional at run time: import it, or say how to install it.

The ``cogment`` 2.10.1 wheel declares ``Requires-Python <3.11`` and pins 2022 grpcio and
protobuf releases, so no resolver installs it beside this package; its code runs on newer
ones. The lab needs it only for session functions written against it (``lab.serve_sdk_env``,
``lab.serve_sdk_actor``) and for :mod:`cogment_jupyter.adapters.cog_settings`.
"""

from __future__ import annotations

from types import ModuleType

#: How to install the SDK beside this package, without its dependency metadata.
SDK_INSTALL = 'pip install --no-deps --ignore-requires-python "cogment==2.10.1" prometheus-client typing-extensions'


class SdkNotInstalled(ImportError):
    """The official Cogment SDK is needed for this and is not importable."""


def require_sdk(feature: str) -> ModuleType:
    """The ``cogment`` module, or an error naming ``feature`` and saying how to install the SDK."""
    try:
        import cogment
    except ImportError as error:
        raise SdkNotInstalled(
            f"{feature} needs the official Cogment Python SDK, which is not installed. It declares "
            "Python < 3.11 and 2022 grpcio/protobuf pins (its code runs on newer ones), so install it "
            f"without its dependency metadata:\n    {SDK_INSTALL}\n"
            "(`pip check` will then list its old pins; cogment_jupyter does not rely on them)."
        ) from error
    return cogment
