"""The Cogment Model Registry: versioned models ("iterations") stored on disk and streamed.

Implements ``cogmentAPI.ModelRegistrySP`` with the semantics of the upstream Go registry
(``cogment services model_registry`` v2.22.0, its file-system backend, memory cache and test
suite), so the official SDK's ``get_model_registry_v2`` client works unchanged.

- ``storage``        the archive directory (upstream's layout and YAML files), streamed writes and reads
- ``service``        the ``ModelRegistrySP`` servicer and ``ModelRegistryServer``
- ``client``         ``RegistryClient``: the asyncio client a lab uses (streams from and to files)
- ``serialization``  how notebook objects (bytes, numpy arrays, torch modules) become model bytes
- ``follow``         ``LatestModel``: a model's latest iteration, kept up to date by a background thread
"""

#: upstream ``registry.DefaultOptions``
DEFAULT_PORT = 9002
DEFAULT_ARCHIVE_DIR = ".cogment/model_registry"
#: bytes per chunk the registry sends (upstream ``maxGrpcMessageLength``: 2 MiB, under gRPC's 4 MiB)
DEFAULT_CHUNK_SIZE = 2 * 1024 * 1024
#: published (not stored) iterations kept before the oldest are dropped (upstream ``cache_max_items``)
DEFAULT_CACHE_MAX_ITEMS = 100
