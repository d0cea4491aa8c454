"""Download one URL into an anonymous temporary file, within a deadline and a size cap.

A failure before the response headers arrive (refused, HTTP error, no answer within
``url_timeout_s`` or ``url_deadline_s``) raises IngestionError: the source cannot be fetched. A
response whose body comes short of its Content-Length, breaks off, outlives the deadline or does
not match the declared sha256 raises UnreadableInput; one over ``url_max_mb`` raises
OversizeInput. Ingestion counts those two against the URL and carries on.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any
from urllib.error import HTTPError, URLError
from urllib.request import HTTPHandler, HTTPSHandler, Request, build_opener

from kedro_gpt import __version__
from kedro_gpt.ingest.errors import IngestionError, OversizeInput, UnreadableInput
from kedro_gpt.ingest.limits import Limits

CHUNK_BYTES = 1 << 16


class _Watchdog:
    """At the deadline, shut down the connection's socket: a read blocked on it returns at once.

    ``url_timeout_s`` bounds each read; a server that sends one byte per read never trips it.
    """

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def cancel(self) -> None:
        self._timer.cancel()

    def create_connection(self, address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        """``socket.create_connection`` that watches the new socket (redirects make several)."""
        sock = socket.create_connection(address, *args, **kwargs)
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shutdown(sock)
        return sock

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


class _Watched:
    """Handler mixin: every connection it opens makes its socket through the watchdog."""

    def __init__(self, watchdog: _Watchdog) -> None:
        super().__init__()
        self._watchdog = watchdog

    def do_open(self, http_class: Callable[..., Any], req: Request, **kwargs: Any) -> Any:
        def connection(host: str, **conn_kwargs: Any) -> http.client.HTTPConnection:
            conn = http_class(host, **conn_kwargs)
            # http.client's hook for how it opens the socket (also the one its tests use)
            conn._create_connection = self._watchdog.create_connection
            return conn

        return super().do_open(connection, req, **kwargs)  # type: ignore[misc]


class _WatchedHTTPHandler(_Watched, HTTPHandler):
    pass


class _WatchedHTTPSHandler(_Watched, HTTPSHandler):
    pass


@dataclass
class Download:
    """A response whose headers are in; ``save`` fetches its body within the caps."""

    url: str
    final_url: str
    content_type: str
    response: http.client.HTTPResponse
    limits: Limits
    watchdog: _Watchdog

    def _deadline(self, received: int) -> UnreadableInput:
        return UnreadableInput(
            f"not complete within {self.limits.named('url_deadline_s')} s "
            f"({received} bytes received)"
        )

    def _expected_length(self) -> int | None:
        value = self.response.headers.get("Content-Length")
        try:
            return int(value) if value is not None else None
        except ValueError:
            return None

    def save(self, sha256: str | None = None) -> IO[bytes]:
        """The body in an anonymous temporary file at offset 0 (the caller closes it)."""
        expected = self._expected_length()
        cap = self.limits.url_max_bytes
        if expected is not None and expected > cap:
            raise OversizeInput(
                f"over {self.limits.named('url_max_mb')} (Content-Length: {expected} bytes)"
            )
        digest = hashlib.sha256()
        received = 0
        body = tempfile.TemporaryFile()
        try:
            while True:
                try:
                    chunk = self.response.read1(CHUNK_BYTES)
                except (OSError, http.client.HTTPException) as err:
                    if self.watchdog.expired:
                        raise self._deadline(received) from err
                    raise UnreadableInput(
                        f"download broke off after {received} bytes: {type(err).__name__}: {err}"
                    ) from err
                if not chunk:
                    break
                received += len(chunk)
                if received > cap:
                    raise OversizeInput(
                        f"over {self.limits.named('url_max_mb')} (stopped after {received} bytes)"
                    )
                digest.update(chunk)
                body.write(chunk)
            if self.watchdog.expired and received != expected:
                raise self._deadline(received)
            if expected is not None and received != expected:
                raise UnreadableInput(
                    f"truncated: got {received} of {expected} bytes (Content-Length)"
                )
            if sha256 is not None and digest.hexdigest() != sha256:
                raise UnreadableInput(
                    f"sha256 is {digest.hexdigest()}, the source declares {sha256}"
                )
            body.seek(0)
            return body
        except BaseException:
            body.close()
            raise


@contextmanager
def open_download(url: str, limits: Limits) -> Iterator[Download]:
    """GET ``url`` and wait for its headers; the deadline runs from here to the last byte."""
    watchdog = _Watchdog(limits.url_deadline_s)
    opener = build_opener(_WatchedHTTPHandler(watchdog), _WatchedHTTPSHandler(watchdog))
    request = Request(url, headers={"User-Agent": f"kedro-gpt/{__version__}"})
    watchdog.start()
    try:
        try:
            response = opener.open(request, timeout=limits.url_timeout_s)
        except HTTPError as err:
            err.close()
            raise IngestionError(f"could not fetch {url}: HTTP {err.code} {err.reason}") from err
        except (URLError, OSError, http.client.HTTPException, ValueError) as err:
            if watchdog.expired:
                raise IngestionError(
                    f"could not fetch {url}: no response within {limits.named('url_deadline_s')} s"
                ) from err
            reason = err.reason if isinstance(err, URLError) else err
            raise IngestionError(f"could not fetch {url}: {reason}") from err
        with response:
            yield Download(
                url=url,
                final_url=response.url,
                content_type=response.headers.get_content_type(),
                response=response,
                limits=limits,
                watchdog=watchdog,
            )
    finally:
        watchdog.cancel()
