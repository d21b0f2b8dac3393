"""How a notebook object becomes a model iteration's bytes, and back: one rule, no pickle.

====================  =====================  ==================================================
what you publish      format (a property)    what ``load`` gives back
====================  =====================  ==================================================
``bytes``-like        ``bytes``              ``bytes`` (serialize anything else yourself)
``numpy.ndarray``     ``npy``                an array (``np.save`` format)
``{name: ndarray}``   ``npz``                a dict of arrays (``np.savez`` format)
``torch.nn.Module``   ``torchscript``        a ``torch.jit.ScriptModule``: architecture and weights
                      (or ``torch.state_dict`` when the module cannot be scripted: weights only)
``{name: Tensor}``    ``torch.state_dict``   a state dict (``torch.save`` format)
====================  =====================  ==================================================

The format travels as the iteration property ``cogment_jupyter.format``; an iteration without
it (published by another client, e.g. the SDK's ``publish_model``) loads as ``bytes``. Loading
never unpickles code: numpy reads with ``allow_pickle=False``, torch with ``weights_only=True``
or TorchScript. Object arrays are refused for the same reason.

Big models are never held twice: arrays and bytes are sent straight from their memory in
chunks, zip and torch formats through a spool file; an array being loaded is received straight
into its own memory, anything else into a spool file read once at the end.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FORMAT_PROPERTY = "cogment_jupyter.format"
BYTES, NPY, NPZ, TORCHSCRIPT, STATE_DICT = "bytes", "npy", "npz", "torchscript", "torch.state_dict"
FORMATS = (BYTES, NPY, NPZ, TORCHSCRIPT, STATE_DICT)
#: bytes per chunk sent (the SDK's: half of gRPC's default 4 MiB message limit)
CHUNK_SIZE = 2 * 1024 * 1024

SUPPORTED = (
    "bytes (or bytearray/memoryview), a numpy array, a dict of numpy arrays, a torch.nn.Module or a "
    "torch state dict; serialize anything else to bytes yourself (e.g. pickle.dumps(obj))"
)


@dataclass
class Encoded:
    """A model's bytes, ready to stream: its format, size, and its chunks (read once)."""

    format: str
    size: int
    chunks: Callable[[], Iterator[memoryview | bytes]]
    cleanup: Callable[[], None] = lambda: None


def _memory_chunks(*parts: memoryview) -> Callable[[], Iterator[memoryview]]:
    def chunks() -> Iterator[memoryview]:
        for part in parts:
            for start in range(0, len(part), CHUNK_SIZE):
                yield part[start : start + CHUNK_SIZE]

    return chunks


def _spooled(write: Callable[[Path], None], spool_dir: str | os.PathLike[str] | None, format: str) -> Encoded:
    """``write`` the model to a spool file; stream that file."""
    if spool_dir is not None:
        Path(spool_dir).mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=".publish-", suffix=".model", dir=spool_dir)
    os.close(handle)
    path = Path(name)
    try:
        write(path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise

    def chunks() -> Iterator[bytes]:
        with open(path, "rb") as stream:
            while chunk := stream.read(CHUNK_SIZE):
                yield chunk

    return Encoded(format, path.stat().st_size, chunks, lambda: path.unlink(missing_ok=True))


def _is_torch(value: Any, kind: str) -> bool:
    torch = sys.modules.get("torch")  # a torch object means torch is imported: never import it here
    if torch is None:
        return False
    return isinstance(value, torch.nn.Module if kind == "module" else torch.Tensor)


def encode(value: Any, spool_dir: str | os.PathLike[str] | None = None) -> Encoded:
    """``value`` as a model iteration (see the module doc for the rule)."""
    import numpy as np

    if isinstance(value, bytes | bytearray | memoryview):
        view = memoryview(value).cast("B")
        return Encoded(BYTES, view.nbytes, _memory_chunks(view))
    if isinstance(value, np.ndarray):
        return _encode_array(value)
    if _is_torch(value, "module"):
        return _encode_module(value, spool_dir)
    if isinstance(value, Mapping) and value:
        if all(isinstance(v, np.ndarray) for v in value.values()):
            arrays = {str(k): _no_objects(v, f"array {k!r}") for k, v in value.items()}
            return _spooled(lambda path: _savez(path, arrays), spool_dir, NPZ)
        if all(_is_torch(v, "tensor") for v in value.values()):
            import torch

            state = dict(value)
            return _spooled(lambda path: torch.save(state, path), spool_dir, STATE_DICT)
    raise TypeError(f"cannot publish a {type(value).__name__}: publish {SUPPORTED}")


def _no_objects(array: Any, what: str) -> Any:
    if array.dtype.hasobject:
        raise TypeError(
            f"{what} holds Python objects (dtype {array.dtype}): loading it would unpickle code; "
            "publish numeric arrays, or bytes you serialize yourself"
        )
    return array


def _savez(path: Path, arrays: Mapping[str, Any]) -> None:
    import numpy as np

    with open(path, "wb") as stream:
        np.savez(stream, **arrays)


def _encode_array(array: Any) -> Encoded:
    import io

    import numpy as np

    _no_objects(array, "the array")
    header = np.lib.format.header_data_from_array_1_0(array)
    if array.flags.c_contiguous:
        body = array
    elif array.flags.f_contiguous:
        body = array.T  # the .npy header says fortran_order: its data is the transpose's
    else:
        body = np.ascontiguousarray(array)  # a strided view: the one copy it needs
        header = np.lib.format.header_data_from_array_1_0(body)
    preamble = io.BytesIO()
    np.lib.format.write_array_header_2_0(preamble, header)
    head = memoryview(preamble.getvalue())
    data = memoryview(body).cast("B") if body.size else memoryview(b"")
    return Encoded(NPY, head.nbytes + data.nbytes, _memory_chunks(head, data))


def _encode_module(module: Any, spool_dir: str | os.PathLike[str] | None) -> Encoded:
    import torch

    try:
        with _quiet_torchscript():
            scripted = torch.jit.script(module)
    except Exception as error:  # not scriptable (or a torch without TorchScript): weights only
        log.warning(
            "%s cannot be compiled to TorchScript (%s): publishing its state dict (weights only); "
            "actors.Torch(model=...) then needs the module: actors.Torch(%s(), model=...)",
            type(module).__name__,
            str(error).splitlines()[0] if str(error) else type(error).__name__,
            type(module).__name__,
        )
        state = {k: v.detach().cpu() for k, v in module.state_dict().items()}
        return _spooled(lambda path: torch.save(state, path), spool_dir, STATE_DICT)

    def save(path: Path) -> None:
        with _quiet_torchscript():
            torch.jit.save(scripted, str(path))

    return _spooled(save, spool_dir, TORCHSCRIPT)


@contextlib.contextmanager
def _quiet_torchscript() -> Iterator[None]:
    """PyTorch 2.13 deprecates TorchScript (for torch.export, which needs example inputs a
    published policy does not have): it still works, and the warning would only alarm users."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=r".*torch\.jit")
        yield


def _decode_file(format: str, path: Path) -> Any:
    """Read a received iteration (in the spool file ``path``) as its format says."""
    if format in ("", BYTES):
        return path.read_bytes()
    if format == NPZ:
        import numpy as np

        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    if format in (TORCHSCRIPT, STATE_DICT):
        try:
            import torch
        except ImportError:
            raise ImportError(f"this iteration is a torch model ({format}): pip install torch to load it") from None
        if format == TORCHSCRIPT:
            with _quiet_torchscript():
                return torch.jit.load(str(path), map_location="cpu")
        return torch.load(path, map_location="cpu", weights_only=True)
    raise ValueError(f"unknown model format {format!r} (known: {', '.join(FORMATS)})")


class Receiver:
    """Where an iteration's chunks go as they arrive; :meth:`finish` gives the decoded value."""

    def write(self, chunk: bytes) -> None:
        raise NotImplementedError

    def finish(self) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        """Release what receiving used (called whether or not it finished)."""


class _SpoolReceiver(Receiver):
    """Zip and torch formats need a file: chunks go to a spool file, read once at the end."""

    def __init__(self, format: str, spool_dir: str | os.PathLike[str] | None) -> None:
        if format not in FORMATS and format:
            raise ValueError(f"unknown model format {format!r} (known: {', '.join(FORMATS)})")
        if spool_dir is not None:
            Path(spool_dir).mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=".load-", suffix=".model", dir=spool_dir)
        self.path = Path(name)
        self._stream = os.fdopen(handle, "wb")
        self.format = format

    def write(self, chunk: bytes) -> None:
        self._stream.write(chunk)

    def finish(self) -> Any:
        self._stream.close()
        return _decode_file(self.format, self.path)

    def close(self) -> None:
        self._stream.close()
        self.path.unlink(missing_ok=True)


class _ArrayReceiver(Receiver):
    """A ``.npy`` iteration straight into a new array's memory: its one copy, no file."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._head = b""
        self._array: Any = None
        self._view: memoryview | None = None
        self._filled = 0

    def write(self, chunk: bytes) -> None:
        if self._view is None:
            self._head += chunk
            if not self._parse():
                return
            chunk, self._head = self._head, b""
        view = self._view
        assert view is not None
        end = self._filled + len(chunk)
        if end > view.nbytes:
            raise ValueError(f"the .npy data is longer than its header says ({end} > {view.nbytes} bytes)")
        view[self._filled : end] = chunk
        self._filled = end

    def _parse(self) -> bool:
        """Once the header is in, allocate the array; keep what follows the header in ``_head``."""
        import io

        import numpy as np

        head = self._head
        if len(head) < 12:
            return False
        if head[:6] != b"\x93NUMPY":
            raise ValueError("this iteration is not a .npy array (its format property says npy)")
        major = head[6]
        length = 10 + int.from_bytes(head[8:10], "little") if major == 1 else 12 + int.from_bytes(head[8:12], "little")
        if len(head) < length:
            return False
        header = io.BytesIO(head[:length])
        version = np.lib.format.read_magic(header)
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = reader(header)
        if dtype.hasobject:
            raise ValueError("this .npy array holds Python objects: loading it would unpickle code")
        self._array = np.empty(shape, dtype=dtype, order="F" if fortran else "C")
        body = self._array.T if fortran else self._array
        self._view = memoryview(body).cast("B") if self._array.size else memoryview(bytearray())
        self._head = head[length:]
        return True

    def finish(self) -> Any:
        if self._view is None or self._filled != self._view.nbytes:
            raise ValueError("the .npy iteration ended before its data did")
        return self._array


def receiver(format: str, size: int, spool_dir: str | os.PathLike[str] | None = None) -> Receiver:
    """How to receive an iteration of this format (``npy`` into memory, the others through a file)."""
    if format == NPY:
        return _ArrayReceiver(size)
    return _SpoolReceiver(format or BYTES, spool_dir)
