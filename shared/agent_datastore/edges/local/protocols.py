"""uvicorn's HTTP/1.1 protocols as the local server and the sandbox proxy run them: every
request uvicorn itself refuses is answered in the contract's error shape, and a response
leaves in one write.

`ContractHttpToolsProtocol` (httptools, the C parser llhttp) is used when httptools is
installed, as it is with the package's dependencies; `ContractH11Protocol` (h11, pure
Python) otherwise. Both answer what the other does: llhttp's stricter or laxer rules are
brought back to h11's where a client could tell (the request line, unknown methods, the
size of a head, several or no `Host` headers: see `JsonApp.__call__` for the last two).
"""

from __future__ import annotations

import logging
import re
import sys
from typing import TYPE_CHECKING, Any, cast

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.h11_impl import RequestResponseCycle as H11Cycle

from agent_datastore.core import errors
from agent_datastore.edges.http import error_response, new_request_id

if TYPE_CHECKING:
    from agent_datastore.edges.local.httpbase import JsonApp

logger = logging.getLogger("agent_datastore.edges.local")

try:
    import httptools
    from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
    from uvicorn.protocols.http.httptools_impl import RequestResponseCycle as HttpToolsCycle
except ImportError:  # pragma: no cover - httptools is a dependency; h11 serves without it
    httptools = None  # type: ignore[assignment]

# The limits http.server had: 100 headers, 64 KiB for the request line and for each header line.
MAX_HEADERS = 100
MAX_LINE = 65536
MAX_HEAD_BYTES = 1 << 20  # a request head still arriving beyond this is refused (413)
SUPPORTED_VERSIONS = ("1.0", "1.1")
# The methods the servers route; any other is refused (405) before routing, on a closed connection.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
_VERSION = re.compile(rb"HTTP/\d+\.\d+$")
# h11's request line (h11/_abnf.py): a token, one space, visible characters, one space, HTTP/d.d.
_REQUEST_LINE = re.compile(
    rb"(?P<method>[-!#$%&'*+.^_`|~0-9a-zA-Z]+) (?P<target>[\x21-\x7e]+) HTTP/(?P<version>[0-9]\.[0-9])"
)
# A method llhttp does not parse (it knows a fixed list; h11 took any token) is parsed as this one
# and answered under its own name.
_STAND_IN = b"POST"
# llhttp's URL parser counts in 16 bits; a longer target is refused as the servers refuse a
# path and query of over MAX_LINE bytes (413), which they are but for a byte.
MAX_URL = 65535


def encoded_headers(response_headers: dict[str, str], body: bytes, close: bool) -> list[tuple[bytes, bytes]]:
    headers = [(name.encode("latin-1"), value.encode("utf-8")) for name, value in response_headers.items()]
    headers.append((b"content-length", str(len(body)).encode("ascii")))
    if close:
        headers.append((b"connection", b"close"))
    return headers


def line_error(line: bytes) -> str | None:
    """What is wrong with a request line that http.server and h11 refused before any header
    (an HTTP/0.9 request, which never sends the blank line that ends a head, included)."""
    line = line.rstrip(b"\r")
    words = line.split()
    if len(words) == 3 and _VERSION.match(words[2]):
        return None
    if len(words) == 2:
        return f"Bad HTTP/0.9 request type ({words[0].decode('latin-1')!r})"
    return f"Bad request syntax ({line.decode('latin-1')!r})"


def default_error(hint: int, detail: str) -> errors.DataStoreError:
    """The answer to a request the parser refused, from its status hint and reason."""
    if hint in (413, 414, 431):
        return errors.PayloadTooLarge("request too large")
    if "Content-Length" in detail:
        return errors.InvalidRequest("Content-Length is not a number")
    return errors.InvalidRequest(f"malformed HTTP request: {detail}")


class _Held:
    """The transport as one response cycle writes to it: writes are kept and `flush` sends
    them in one (the head alone would go out first, and the client wake up twice)."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.parts: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.parts.append(data)

    def close(self) -> None:
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing or bool(self.transport.is_closing())

    def flush(self) -> None:
        if self.parts:
            self.transport.write(b"".join(self.parts))
            self.parts.clear()
        if self.closing:
            self.transport.close()


class _OneWrite:
    """A response cycle (mixed into uvicorn's) whose head and body leave in one write."""

    transport: Any

    async def send(self, message: Any) -> None:
        held: _Held | None = getattr(self, "_held", None)
        if held is None:
            held = self._held = _Held(self.transport)
        self.transport = held
        try:
            await super().send(message)  # type: ignore[misc]  # the cycle's own send, below in the MRO
        finally:
            self.transport = held.transport
            if message["type"] != "http.response.start" or held.closing:
                held.flush()


class ContractH11Protocol(H11Protocol):
    """uvicorn's h11 protocol whose own refusals (a request h11 cannot parse) are
    answered in the contract's error shape rather than as plain text."""

    owner: JsonApp  # set by `httpbase.uvicorn_config` on a subclass of its own
    _first_line_checked = False

    def data_received(self, data: bytes) -> None:
        # h11 waits for the blank line that ends a head; an HTTP/0.9 request (a request line
        # without a version) never sends one. The first request's line is checked on arrival.
        if not self._first_line_checked:
            self._first_bytes = getattr(self, "_first_bytes", b"") + data
            line, newline, _ = self._first_bytes.partition(b"\n")
            if newline or len(self._first_bytes) > MAX_LINE:
                self._first_line_checked = True
                message = line_error(line) if newline else None
                if message is not None:
                    send_error(self, self.owner.protocol_error(message) or default_error(400, message))
                    return
        super().data_received(data)
        if type(self.cycle) is H11Cycle:
            self.cycle.__class__ = _H11OneWriteCycle  # before its task first runs

    def send_400_response(self, msg: str) -> None:
        exc = sys.exc_info()[1]  # called from uvicorn's `except h11.RemoteProtocolError`
        hint = getattr(exc, "error_status_hint", 400)
        detail = str(exc) if exc is not None else msg
        send_error(self, self.owner.protocol_error(detail) or default_error(hint, detail))


class _H11OneWriteCycle(_OneWrite, H11Cycle):
    pass


def send_error(protocol: Any, error: errors.DataStoreError) -> None:
    """Answer `error` on `protocol`'s connection outside any request cycle, and close it."""
    response = error_response(error, new_request_id())
    body = response.encoded_body().encode("utf-8")
    if isinstance(protocol, H11Protocol):
        headers = [*protocol.server_state.default_headers, *encoded_headers(response.http_headers(), body, close=True)]
        try:
            data = protocol.conn.send(h11.Response(status_code=response.status, headers=headers)) or b""
            data += protocol.conn.send(h11.Data(data=body)) or b""
            data += protocol.conn.send(h11.EndOfMessage()) or b""
            protocol.transport.write(data)
        except h11.LocalProtocolError:  # the answer to this request had begun: nothing more to say
            pass
    else:
        protocol.transport.write(raw_answer(protocol, response.status, response.http_headers(), body, close=True))
    protocol.transport.close()


def raw_answer(protocol: Any, status: int, headers: dict[str, str], body: bytes, *, close: bool) -> bytes:
    """An answer in the bytes uvicorn's httptools cycle writes: the status line, the server's
    default headers, `headers`, Content-Length (and `Connection: close`), then the body."""
    lines = [*protocol.server_state.default_headers, *encoded_headers(headers, body, close)]
    return b"".join([STATUS_LINE[status], *(name + b": " + value + b"\r\n" for name, value in lines), b"\r\n", body])


if httptools is not None:

    class _HttpToolsOneWriteCycle(_OneWrite, HttpToolsCycle):
        pass

    class ContractHttpToolsProtocol(HttpToolsProtocol):
        """uvicorn's httptools protocol, answering as `ContractH11Protocol` does.

        Each request's line is checked before llhttp sees it (as h11 checked it); a method
        llhttp does not know is parsed as POST and handed on under its own name; a head still
        arriving beyond MAX_HEAD_BYTES is refused; the raw path is the request target as sent
        (llhttp would read `//v1/get` as a host and a path)."""

        owner: JsonApp  # set by `httpbase.uvicorn_config` on a subclass of its own

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._idle = True  # llhttp is between requests: the next data starts one
            self._line = b""  # the start of a request whose line has not fully arrived
            self._in_head = False
            self._head_bytes = 0
            self._method: str | None = None
            self._upgrade_body: int | None = None  # body bytes due after an `Upgrade` head (-1: done)
            self._quick: bytearray | None = None  # the body so far of a request answered without a cycle

        def data_received(self, data: bytes) -> None:
            if self._upgrade_body is not None:
                if self._upgrade_body >= 0:
                    self._take_body(data)
                return
            if self._idle:
                data = self._line + data
                line, newline, rest = data.partition(b"\n")
                if not newline:
                    if len(data) > MAX_HEAD_BYTES:
                        self._refuse(errors.PayloadTooLarge("request too large"))
                    else:
                        self._line = data
                    return
                self._line = b""
                error = self._check_line(line)
                if error is not None:
                    self._refuse(error)
                    return
                if self._method is not None:
                    data = _STAND_IN + line[line.index(b" ") :] + newline + rest
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserUpgrade as exc:
                # An `Upgrade` request (curl --http2 asks for h2c) is answered in HTTP/1.1, as h11
                # answered it; llhttp hands what follows its head over as the new protocol's.
                if self._upgrade_body is not None and self._upgrade_body >= 0:
                    self._take_body(data[exc.args[0] :])
                return
            except httptools.HttpParserError as exc:
                detail = str(exc)
                error = self.owner.protocol_error(detail) or default_error(400, detail)
                if "Transfer-Encoding" in detail:  # chunked and Content-Length both, or another coding
                    error = errors.InvalidRequest("send the body with a Content-Length, not chunked")
                self._refuse(error)
                return
            if self._in_head:
                self._head_bytes += len(data)
                if self._head_bytes > MAX_HEAD_BYTES:
                    self._refuse(errors.PayloadTooLarge("request too large"))

        def _check_line(self, line: bytes) -> errors.DataStoreError | None:
            line = line.rstrip(b"\r")
            match = _REQUEST_LINE.fullmatch(line)  # a line it takes is one line_error takes too
            message = None if match is not None else line_error(line)
            if message is None:
                if match is None:
                    message = f"illegal request line: {line!r}"
                elif match.end("target") - match.start("target") > MAX_URL:
                    return errors.PayloadTooLarge("request too large")
                elif match["version"].decode() not in SUPPORTED_VERSIONS:
                    message = f"Invalid HTTP version ({match['version'].decode()})"
                else:
                    method = match["method"].decode("ascii")
                    self._method = None if method in KNOWN_METHODS else method
                    return None
            return self.owner.protocol_error(message) or default_error(400, message)

        def _refuse(self, error: errors.DataStoreError) -> None:
            if self.cycle is not None and not self.cycle.response_complete:
                self.cycle.keep_alive = False  # a request is being answered: this one is not
                self.transport.pause_reading()
                return
            send_error(self, error)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._idle, self._in_head, self._head_bytes = False, True, 0

        def on_headers_complete(self) -> None:
            self._in_head = False
            if self._quick_candidate():
                # Answered at `on_message_complete` without an ASGI cycle if the app can (`at_once`).
                self.scope["method"] = "POST"
                if self.parser.get_http_version() != "1.1":
                    self.scope["http_version"] = self.parser.get_http_version()
                self.scope["path"], self.scope["raw_path"] = self.url.decode("ascii"), self.url
                self.scope["query_string"] = b""
                self._quick = bytearray()
                return
            self._start_cycle()

        def _start_cycle(self) -> None:
            super().on_headers_complete()
            raw_path, _, query = self.url.partition(b"?")
            self.scope["raw_path"], self.scope["query_string"] = raw_path, query
            if self._method is not None:
                self.scope["method"] = self._method
            if type(self.cycle) is HttpToolsCycle:
                self.cycle.__class__ = _HttpToolsOneWriteCycle  # before its task first runs

        def _quick_candidate(self) -> bool:
            """A POST to one of the app's `quick_paths`, with a small body of known length, on a
            connection with no answer outstanding (pipelined answers keep their order)."""
            if (
                self.url not in self.owner.quick_paths
                or self._method is not None
                or self.parser.get_method() != b"POST"
                or self.expect_100_continue
                or self.parser.should_upgrade()
                or (self.cycle is not None and not self.cycle.response_complete)
                or self.pipeline
                or self.flow.write_paused
            ):
                return False
            length = b"0"
            for name, value in self.headers:
                if name == b"transfer-encoding":
                    return False
                if name == b"content-length":
                    length = value
            return length.isdigit() and int(length) <= self.owner.quick_max_body

        def on_body(self, body: bytes) -> None:
            if self._quick is not None:
                self._quick += body
            else:
                super().on_body(body)

        def _answer_quick(self) -> None:
            """Answer the request `_quick` holds the body of, as the ASGI cycle would answer it
            (uvicorn's `RequestResponseCycle.send` writes the same bytes), or start that cycle."""
            body, self._quick = bytes(self._quick or b""), None
            try:
                answer = self.owner.answer_at_once(cast("dict[str, Any]", self.scope), body)
            except Exception:  # the dispatch answers its own failures; this is a bug past it
                logger.exception("answering %s failed", self.url.decode("latin-1"))
                send_error(self, errors.InternalError("internal error"))
                return
            if answer is None:
                self._start_cycle()
                self.cycle.body += body
                super().on_message_complete()
                return
            status, data, headers = answer
            keep_alive = self.scope["http_version"] != "1.0" and self.parser.should_keep_alive()
            self.transport.write(raw_answer(self, status, headers, data, close=not keep_alive))
            if not keep_alive:
                self.transport.close()
            self.on_response_complete()

        def _take_body(self, data: bytes) -> None:
            """The body of an `Upgrade` request, by its Content-Length; the connection closes
            after the answer (llhttp parses nothing more on it)."""
            due = self._upgrade_body or 0
            if data[:due]:
                self.cycle.body += data[:due]
            due -= len(data[:due])
            self._upgrade_body = due
            if due == 0:
                self.cycle.more_body = False
                self.cycle.keep_alive = False
                self._upgrade_body = -1  # whatever follows is dropped
            self.cycle.message_event.set()

        def on_message_complete(self) -> None:
            if self._quick is not None:
                self._answer_quick()
            else:
                if self.parser.should_upgrade() and self._upgrade_body is None:
                    length = dict(self.headers).get(b"content-length", b"0")
                    self._upgrade_body = int(length) if length.isdigit() else 0
                    return
                super().on_message_complete()
            self._idle, self._method = True, None

else:  # pragma: no cover
    ContractHttpToolsProtocol = None  # type: ignore[misc]
