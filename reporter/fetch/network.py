"""The Patching API over the network as a source: the transport, and evidence reused and saved."""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from reporter.fetch.contract import (
    Body,
    Failure,
    decode_json,
    detail_path,
    is_final,
    summary_path,
)
from reporter.fetch.evidence import EvidenceStore, answer_fields, body_path, execution_fields
from reporter.fetch.state import FetchState
from reporter.fetch.transport import Reply, Transport
from reporter.logs import redact_bytes


def keep_reply(
    evidence: EvidenceStore | None,
    relative: str,
    url: str,
    reply: Reply,
    fields: Mapping[str, Any],
    fetched_at: datetime,
) -> None:
    """Save the final answer to ``url`` as evidence, data or not (SPEC 5), with the attempts
    it took and why the last one that failed did. A registered secret in it (an error
    message echoing a credential) is written as ``***`` (SPEC 7)."""
    if evidence is not None:
        how = answer_fields(reply.attempts, reply.last_error, reply.failure, reply.reason)
        body = redact_bytes(reply.body or b"")
        evidence.save(
            relative, url, body, fetched_at, status=reply.status, fields={**fields, **how}
        )


class NetworkSource:
    """Answers from the Patching API, saved as evidence as they arrive.

    With an evidence store, an execution detail saved by an earlier run that is finished
    (completed or failed), intact and from the same URL is reused instead of fetched again.

    Args:
        api_url: the Patching API base URL (already checked).
        transport: sends the requests (shared with the login).
        evidence: where to save every body, or None.
        workers: requests the fetch loop may have in flight.
    """

    def __init__(
        self, api_url: str, transport: Transport, evidence: EvidenceStore | None, workers: int
    ) -> None:
        self.api_url = api_url
        self.transport = transport
        self.evidence = evidence
        self.workers = workers

    def summary(self, account_alias: str, server_id: str, state: FetchState) -> Body | Failure:
        """A server's list of executions, always fetched (it changes as executions run)."""
        url = self.api_url + summary_path(account_alias, server_id)
        reply = self.transport.get(url, "server not found", state)
        relative = body_path(account_alias, server_id, None)
        fields = execution_fields(account_alias, server_id, None, None)
        fetched_at = _now()
        keep_reply(self.evidence, relative, url, reply, fields, fetched_at)
        if not reply.ok:
            return _failure(reply)
        return Body(reply.payload, url, fetched_at)

    def detail(
        self, account_alias: str, server_id: str, execution_id: str, state: FetchState
    ) -> Body | Failure:
        """One execution's detail: reused from the evidence when finished, else fetched."""
        url = self.api_url + detail_path(account_alias, server_id, execution_id)
        relative = body_path(account_alias, server_id, execution_id)
        if self.evidence is not None:
            saved = self._reusable(relative, url)
            if saved is not None:
                return saved
        reply = self.transport.get(url, "execution not found", state)
        fields = execution_fields(account_alias, server_id, execution_id, reply.payload)
        fetched_at = _now()
        keep_reply(self.evidence, relative, url, reply, fields, fetched_at)
        if not reply.ok:
            return _failure(reply)
        return Body(reply.payload, url, fetched_at)

    def final_concurrency(self) -> int:
        """Requests allowed in flight now (lowered while the API answers 429)."""
        return self.transport.limiter.limit

    def _reusable(self, relative: str, url: str) -> Body | None:
        assert self.evidence is not None
        entry = self.evidence.entry(relative)
        if entry is None or entry.get("execution_status") is None:
            return None
        saved = self.evidence.load(relative, url)
        if saved is None:
            return None
        try:
            payload = decode_json(saved.data)
        except ValueError:
            return None
        if not is_final(payload):
            return None
        return Body(payload, saved.url, saved.fetched_at, reused=True)


def _failure(reply: Reply) -> Failure:
    assert reply.failure is not None
    return Failure(reply.failure, reply.reason)


def _now() -> datetime:
    return datetime.now(UTC)
