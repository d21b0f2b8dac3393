"""The Cogment Directory: services register where they are, trials find them by what they are.

Implements ``cogmentAPI.DirectorySP`` with the semantics of the upstream Go directory
(``cogment services directory`` v2.22.0), so the official SDK's ``Context(directory_endpoint=…)``
registers and inquires unchanged and our orchestrator resolves ``cogment://discover/…``
endpoints through it.

- ``records``   the entries, which inquiries they match, and the persistence file (upstream's JSON)
- ``health``    Cogment ``Status``/``Version`` and TCP checks of registered services
- ``service``   the ``DirectorySP`` servicer and ``DirectoryServer`` (periodic health scans)
- ``client``    ``DirectoryClient``: register, deregister, inquire; ``Registrations`` for a lab
- ``inquiry``   a discovery endpoint -> an ``InquireRequest``; a reply -> an address (upstream errors)
"""

#: the upstream ``constants.DefaultDirectoryPort``
DEFAULT_PORT = 9005
