"""A small HTTP/1.1 server on asyncio streams: just what the inspector page needs.

GET and HEAD only, one request per connection (`Connection: close`), plus long-lived
server-sent-event responses. No dependency beyond the stdlib, and it runs inside any asyncio
program (the launcher starts it beside the training loop).

Every response carries the security headers below: the page shows untrusted model output, so
the Content-Security-Policy allows scripts, styles and connections from this origin only and no
inline script at all; a `Host` check turns away DNS-rebinding requests from other sites.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit

__all__ = ["SECURITY_HEADERS", "HttpServer", "Request", "Response", "write_head"]

log = logging.getLogger(__name__)

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
_HEAD_LIMIT = 16 * 1024
_HEAD_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Request:
    """A parsed request line and headers (bodies are never read: GET and HEAD only)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class Response:
    """A complete response; a handler that streams writes to the writer itself and returns None."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request, asyncio.StreamWriter], Awaitable[Response | None]]


def write_head(writer: asyncio.StreamWriter, status: int, headers: dict[str, str]) -> None:
    """Write a status line and headers (the security headers included)."""
    reason = HTTPStatus(status).phrase
    lines = [f"HTTP/1.1 {status} {reason}"]
    for name, value in {**SECURITY_HEADERS, **headers}.items():
        lines.append(f"{name}: {value}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))


class HttpServer:
    """Serves `handler` on host:port (0 = a free port); `url` is known after `start()`."""

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0) -> None:
        self._handler = handler
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """The address to open in a browser."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and end open connections (live streams included)."""
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve_one(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass  # the client went away or never finished its request: nothing to answer
        except asyncio.CancelledError:
            pass  # server closing
        except Exception:
            log.exception("inspector: request failed")
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _HEAD_TIMEOUT_S)
        request = _parse(head[:_HEAD_LIMIT])
        if request is None:
            response: Response | None = Response(400, b"bad request")
        elif request.method not in ("GET", "HEAD"):
            response = Response(405, b"only GET", headers={"Allow": "GET, HEAD"})
        elif not self._host_allowed(request.headers.get("host", "")):
            response = Response(421, b"unexpected Host header: open the inspector's own address")
        else:
            response = await self._handler(request, writer)
        if response is None:
            return  # streamed by the handler
        head_only = request is not None and request.method == "HEAD"
        write_head(
            writer,
            response.status,
            {
                "Content-Type": response.content_type,
                "Content-Length": str(len(response.body)),
                "Connection": "close",
                **response.headers,
            },
        )
        if not head_only:
            writer.write(response.body)
        await writer.drain()

    def _host_allowed(self, host: str) -> bool:
        if self.host not in ("127.0.0.1", "localhost", "::1"):
            return True  # bound to a public interface on purpose: the user chose to expose it
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return name in _LOOPBACK_NAMES


def _parse(head: bytes) -> Request | None:
    try:
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
    except ValueError:
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    parts = urlsplit(target)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    return Request(method.upper(), parts.path, query, headers)
