"""The live conversation viewer (web) and the terminal tail.

    server = await serve_inspector(bus_url, run="arith-1")   # beside a running loop
    print(server.url); ...; await server.close()

`sparring inspect [RUN]` serves the page (`web.main`), `sparring tail RUN` prints episodes in the
terminal (`tail.main`); both replay the run's episode stream from the start, follow it live and
share the filters of `EpisodeFilter`.
"""

from sparring.inspector.errors import InspectorError, PortInUseError, RunNotFoundError
from sparring.inspector.filters import EpisodeFilter
from sparring.inspector.web import InspectorServer, serve_inspector

__all__ = [
    "EpisodeFilter",
    "InspectorError",
    "InspectorServer",
    "PortInUseError",
    "RunNotFoundError",
    "serve_inspector",
]
