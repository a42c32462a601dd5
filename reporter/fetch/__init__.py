"""Getting the executions: from the Patching API over the network, or from an evidence archive.

What the pipeline needs is here; the modules below hold the rest:

- :mod:`~reporter.fetch.contract`: the API as the client sees it (IDs, paths, JSON, summaries,
  the outcome of a fetch);
- :mod:`~reporter.fetch.auth`: credentials, safe URLs, the shared bearer token;
- :mod:`~reporter.fetch.transport` and :mod:`~reporter.fetch.limiter`: requests, retries,
  size caps, adaptive concurrency;
- :mod:`~reporter.fetch.client`: the login and the one fetch loop over a source, the network
  (:mod:`~reporter.fetch.network`) or an archive (:mod:`~reporter.fetch.archive`);
- :mod:`~reporter.fetch.evidence`: every body kept, with a manifest to check it against;
- :mod:`~reporter.fetch.progress`: how far a fetch is;
- :mod:`~reporter.fetch.servers` and :mod:`~reporter.fetch.servers_contract`: the servers API
  (SPEC 1a), the account's data centers, groups and server records.
"""

from reporter.fetch.archive import ArchiveSource, read_archive
from reporter.fetch.auth import Credentials, LoginInfo, check_url, credentials_from_env
from reporter.fetch.client import PatchingClient, fetch_executions
from reporter.fetch.contract import FetchResult, FetchStats, decode_json
from reporter.fetch.evidence import MANIFEST, EvidenceStore
from reporter.fetch.progress import Progress
from reporter.fetch.servers import (
    ArchiveServers,
    NetworkServers,
    ServersSource,
    fetch_records,
    list_account,
)
from reporter.problems import FailureKind

__all__ = [
    "MANIFEST",
    "ArchiveServers",
    "ArchiveSource",
    "Credentials",
    "EvidenceStore",
    "FailureKind",
    "FetchResult",
    "FetchStats",
    "LoginInfo",
    "NetworkServers",
    "PatchingClient",
    "Progress",
    "ServersSource",
    "check_url",
    "credentials_from_env",
    "decode_json",
    "fetch_executions",
    "fetch_records",
    "list_account",
    "read_archive",
]
