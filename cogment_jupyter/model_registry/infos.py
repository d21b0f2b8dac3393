"""What the registry and its clients exchange: model and iteration infos, and the errors."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from cogment_jupyter.proto import model_registry_pb2


class RegistryError(Exception):
    """Base of the errors the registry reports to its callers."""


class UnknownModelError(RegistryError, LookupError):
    def __init__(self, model_id: str) -> None:
        super().__init__(f'no model "{model_id}" found')
        self.model_id = model_id


class UnknownVersionError(RegistryError, LookupError):
    def __init__(self, model_id: str, version_number: int) -> None:
        if version_number == 0:
            text = f'model "{model_id}" doesn\'t have any version yet'
        elif version_number < 0:
            text = f'no version "n{version_number}" for model "{model_id}" found'
        else:
            text = f'no version "{version_number}" for model "{model_id}" found'
        super().__init__(text)
        self.model_id = model_id
        self.version_number = version_number


class InvalidRequestError(RegistryError, ValueError):
    """A request the registry refuses as malformed (bad model name, wrong data size or hash)."""


def check_model_id(model_id: str) -> str:
    """Model names become directory names: refuse what could escape or hide there."""
    if not model_id:
        raise InvalidRequestError("a model needs a non-empty model_id")
    if model_id in (".", "..") or model_id.startswith(".") or any(c in model_id for c in "/\\\0"):
        raise InvalidRequestError(
            f"invalid model_id {model_id!r}: it must not start with '.' nor contain '/', '\\' or NUL "
            "(letters, digits, '-' and '_' are safe everywhere)"
        )
    return model_id


def sha256_base64(digest: Any) -> str:
    """Upstream's ``data_hash``: the SHA-256 digest in standard base64."""
    return base64.b64encode(digest.digest()).decode("ascii")


@dataclass
class ModelInfo:
    model_id: str
    user_data: dict[str, str] = field(default_factory=dict)

    def to_proto(self) -> model_registry_pb2.ModelInfo:
        return model_registry_pb2.ModelInfo(model_id=self.model_id, user_data=self.user_data)


@dataclass
class VersionInfo:
    model_id: str
    version_number: int
    creation_timestamp: int  # ns since the epoch
    archived: bool
    data_hash: str
    data_size: int
    user_data: dict[str, str] = field(default_factory=dict)

    def to_proto(self) -> model_registry_pb2.ModelVersionInfo:
        return model_registry_pb2.ModelVersionInfo(
            model_id=self.model_id,
            version_number=self.version_number,
            creation_timestamp=self.creation_timestamp,
            archived=self.archived,
            data_hash=self.data_hash,
            data_size=self.data_size,
            user_data=self.user_data,
        )


def model_info_from(proto: model_registry_pb2.ModelInfo) -> ModelInfo:
    return ModelInfo(proto.model_id, dict(proto.user_data))


def version_info_from(proto: model_registry_pb2.ModelVersionInfo) -> VersionInfo:
    return VersionInfo(
        model_id=proto.model_id,
        version_number=proto.version_number,
        creation_timestamp=proto.creation_timestamp,
        archived=proto.archived,
        data_hash=proto.data_hash,
        data_size=proto.data_size,
        user_data=dict(proto.user_data),
    )
