"""BusConfig: how the bus reaches NATS and how it sets up the run's streams.

One frozen model for the bus alone; the launcher builds it from the run's config and hands it to
`Bus.connect`. Defaults suit the embedded single-machine server; a user with a NATS cluster sets
`url`, credentials, TLS files and `replicas`. Secrets are `SecretStr`, so logging the resolved
config does not print them.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = ["BusConfig"]

MiB = 1024 * 1024


class BusConfig(BaseModel):
    """Connection, credentials, TLS and stream settings of the bus."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(
        "nats://127.0.0.1:4222",
        description="NATS server URL (several comma-separated for a cluster); the URL given to "
        "Bus.connect, if any, wins over this one.",
    )
    token: SecretStr | None = Field(
        None, description="Authentication token, if the server uses one."
    )
    user: str | None = Field(None, description="User name for user/password authentication.")
    password: SecretStr | None = Field(
        None, description="Password for user/password authentication."
    )
    nkey_seed_file: Path | None = Field(
        None, description="File holding an NKey seed (needs the `nkeys` package installed)."
    )
    creds_file: Path | None = Field(
        None, description="A .creds file (user JWT + NKey seed) for decentralised auth."
    )
    tls_ca_file: Path | None = Field(
        None, description="CA bundle to verify the server's certificate; setting it turns TLS on."
    )
    tls_cert_file: Path | None = Field(
        None, description="Client certificate for mutual TLS (with tls_key_file)."
    )
    tls_key_file: Path | None = Field(None, description="Private key of tls_cert_file.")
    tls_hostname: str | None = Field(
        None, description="Host name to verify the server certificate against, if not the URL's."
    )
    connect_timeout_s: float = Field(
        2.0, gt=0, description="How long the first connection may take before ConnectError."
    )
    reconnect_wait_s: float = Field(
        0.25, gt=0, description="Pause between reconnect attempts after a server goes away."
    )
    max_reconnect_attempts: int = Field(
        -1, description="Reconnect attempts before giving up; -1 keeps trying (servers restart)."
    )
    max_payload_bytes: int = Field(
        8 * MiB,
        ge=1024,
        le=64 * MiB,
        description="Largest message the embedded server accepts; long trajectories need more "
        "than NATS's 1 MiB default.",
    )
    replicas: int = Field(
        1, ge=1, le=5, description="Stream replicas; 3 on a cluster survives a lost server."
    )
    ack_wait_s: float = Field(
        60.0,
        gt=0,
        description="A consumed message not acked within this time is delivered again; the "
        "trainer acks after its checkpoint, so it must exceed one step plus the checkpoint.",
    )
    max_deliver: int = Field(
        10,
        ge=-1,
        description="Deliveries of one message before the server gives up (-1: no limit).",
    )
    max_ack_pending: int = Field(
        50_000,
        ge=1,
        description="Messages a durable consumer may hold un-acked; the trainer holds a whole "
        "step's worth until its checkpoint.",
    )
    dedup_window_s: float = Field(
        120.0,
        gt=0,
        description="Window in which a message id seen before is dropped as a duplicate.",
    )
    max_age_s: float = Field(
        0.0, ge=0, description="Drop stream messages older than this (0: keep until removed)."
    )
    publish_timeout_s: float = Field(
        10.0, gt=0, description="How long a publish waits for JetStream's ack before PublishError."
    )
    publish_window: int = Field(
        4000,
        ge=1,
        description="Most messages publish_many keeps in flight (sent, not yet acked).",
    )
    object_chunk_bytes: int = Field(
        16 * MiB,
        ge=1024,
        description="Chunk size of Object Store writes, capped to fit max_payload and at 16 MiB "
        "(JetStream refuses a stored message of 32 MiB); raise max_payload_bytes above it to "
        "get it: 16 MiB chunks moved weights ~1.5x faster than 8 MiB ones here.",
    )

    def revealed_json(self) -> str:
        """JSON with the secrets in clear, for handing this config to a child process through
        its environment (`model_dump_json` masks them, which is right for logs, not for that)."""
        data = self.model_dump(mode="json")
        for key in ("token", "password"):
            secret = getattr(self, key)
            if secret is not None:
                data[key] = secret.get_secret_value()
        return json.dumps(data)
