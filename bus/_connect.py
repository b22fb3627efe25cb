"""Turning a BusConfig into nats-py connection options (credentials, TLS, reconnects)."""

from __future__ import annotations

import importlib.util
import logging
import ssl
from typing import Any

from sparring.bus.config import BusConfig
from sparring.errors import BusError

__all__ = ["connect_options"]

log = logging.getLogger(__name__)


def connect_options(config: BusConfig, name: str, url: str) -> dict[str, Any]:
    """Keyword arguments for `nats.connect` from the config (the servers are passed apart)."""
    opts: dict[str, Any] = {
        "name": name,
        "connect_timeout": config.connect_timeout_s,
        "reconnect_time_wait": config.reconnect_wait_s,
        "max_reconnect_attempts": config.max_reconnect_attempts,
        # Samples are published in large pipelined batches: a bigger client buffer keeps
        # publish_many from stalling on the flusher, and holds them through a reconnect.
        "pending_size": 64 * 1024 * 1024,
        "reconnected_cb": _on_reconnect,
    }
    if config.token is not None:
        opts["token"] = config.token.get_secret_value()
    if config.user is not None:
        opts["user"] = config.user
        opts["password"] = config.password.get_secret_value() if config.password else ""
    if (config.nkey_seed_file or config.creds_file) and importlib.util.find_spec("nkeys") is None:
        raise BusError("NKey and .creds authentication need the nkeys package: pip install nkeys")
    if config.nkey_seed_file is not None:
        opts["nkeys_seed"] = str(config.nkey_seed_file)
    if config.creds_file is not None:
        opts["user_credentials"] = str(config.creds_file)
    tls = tls_context(config, url)
    if tls is not None:
        opts["tls"] = tls
        if config.tls_hostname:
            opts["tls_hostname"] = config.tls_hostname
    return opts


def tls_context(config: BusConfig, url: str) -> ssl.SSLContext | None:
    """An SSL context when any TLS file is set (or the URL says tls://), else None."""
    wants_tls = url.startswith("tls://")
    if not (config.tls_ca_file or config.tls_cert_file or wants_tls):
        return None
    ctx = ssl.create_default_context(cafile=str(config.tls_ca_file) if config.tls_ca_file else None)
    if config.tls_cert_file:
        ctx.load_cert_chain(
            str(config.tls_cert_file), str(config.tls_key_file) if config.tls_key_file else None
        )
    return ctx


async def _on_reconnect() -> None:
    log.info("NATS: reconnected")
