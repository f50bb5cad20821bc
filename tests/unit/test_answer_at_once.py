"""The local server's httptools protocol answers a one-key call on a local store inside
`data_received`, without an ASGI cycle (`ContractHttpToolsProtocol._answer_quick`), and that
answer is byte for byte the one the ASGI path gives (request id and date aside).

Driven in process: the protocol on a transport that keeps what is written, on a real event loop.
The same requests through a real server are in tests/edges (the corpus) and tests/e2e."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
from uvicorn.server import ServerState

from agent_datastore import __version__
from agent_datastore.api.app import Api
from agent_datastore.core.settings import Settings
from agent_datastore.edges.local import httpbase
from agent_datastore.edges.local.server import DataStoreApp

pytestmark = pytest.mark.skipif(httpbase.runtime()[0] != "httptools", reason="the quick answer is httptools' own")


class Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.data = bytearray()
        self.closed = False

    def write(self, data: Any) -> None:
        self.data += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8080), "peername": ("127.0.0.1", 50000)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class Connection:
    def __init__(self, app: DataStoreApp, loop: asyncio.AbstractEventLoop) -> None:
        config = httpbase.uvicorn_config(app, server_name="agent-datastore", keep_alive=5)
        config.load()
        self.state = ServerState()
        self.state.default_headers = [
            (b"date", b"Thu, 03 Dec 2026 12:00:00 GMT"),
            *config.encoded_headers,
        ]  # as uvicorn
        self.transport = Transport()
        self.protocol = config.http_protocol_class(config=config, server_state=self.state, app_state={}, _loop=loop)
        self.protocol.connection_made(self.transport)

    def feed(self, data: bytes) -> tuple[bytes, int]:
        """What the protocol wrote while taking `data`, and how many ASGI tasks it started."""
        before = len(self.transport.data)
        self.protocol.data_received(data)
        return bytes(self.transport.data[before:]), len(self.state.tasks)

    async def settle(self) -> bytes:
        while self.state.tasks:
            await asyncio.sleep(0.001)
        return bytes(self.transport.data)


def post(path: str, body: dict[str, Any], *, extra: str = "", version: str = "1.1") -> bytes:
    data = json.dumps(body).encode()
    head = f"POST {path} HTTP/{version}\r\nHost: 127.0.0.1\r\nX-User-Id: alice\r\n{extra}"
    return f"{head}Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data


def normal(answer: bytes) -> bytes:
    answer = re.sub(rb"date: [^\r]+", b"date: D", answer)
    return re.sub(rb"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", b"ID", answer)


def new_app() -> DataStoreApp:
    return DataStoreApp(Api(Settings(store_backend="memory", auth="none", cursor_secret="c" * 32)))


@pytest.fixture
def app() -> DataStoreApp:
    return new_app()


def run(coroutine: Any) -> Any:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


def test_a_one_key_call_is_answered_inside_data_received(app: DataStoreApp) -> None:
    async def scenario() -> None:
        connection = Connection(app, asyncio.get_running_loop())
        written, tasks = connection.feed(post("/v1/set", {"namespace": "n", "key": "k", "value": 1}))
        assert tasks == 0
        assert written.startswith(b"HTTP/1.1 200 OK\r\n") and written.endswith(b'{"version":1,"created":true}')
        written, tasks = connection.feed(post("/v1/get", {"namespace": "n", "key": "k"}))
        assert tasks == 0 and written.endswith(b'{"found":true,"value":1}')
        head = normal(written).split(b"\r\n\r\n")[0].split(b"\r\n")
        assert head[1:] == [
            b"date: D",
            b"server: agent-datastore/" + __version__.encode(),
            b"content-type: application/json; charset=utf-8",
            b"x-request-id: ID",
            b"content-length: 24",
        ]
        assert not connection.transport.closed

    run(scenario())


@pytest.mark.parametrize(
    "extra, version",
    [
        ("", "1.1"),
        ("Connection: close\r\n", "1.1"),  # the answer says close, and the connection closes
        ("", "1.0"),
        ("Host: other\r\n", "1.1"),  # two Host headers: refused before routing, as by the ASGI path
        ("X-Agent-Name: \xff\r\n", "1.1"),  # a header that is not UTF-8
    ],
)
@pytest.mark.parametrize(
    "path, body",
    [
        ("/v1/get", {"namespace": "n", "key": "k"}),
        ("/v1/set", {"namespace": "n", "key": "k", "value": {"a": [1, 2.5, "é"]}}),
        ("/v1/set", {"namespace": "n", "key": "k", "value": 1, "if_version": 7}),  # 409
        ("/v1/delete", {"key": ""}),  # 400
        ("/v1/increment", {"namespace": "n", "key": "c", "by": 2}),
    ],
)
def test_the_answer_at_once_is_the_asgi_answer(path: str, body: dict[str, Any], extra: str, version: str) -> None:
    request = post(path, body, extra=extra, version=version).replace(b"\xc3\xbf", b"\xff")

    async def both() -> tuple[bytes, int, bool, bytes, int, bool]:
        loop = asyncio.get_running_loop()
        quick, slow = Connection(new_app(), loop), Connection(new_app(), loop)  # a store each, the same data
        quick.feed(post("/v1/set", {"namespace": "n", "key": "k", "value": 1}))
        quick_before = len(quick.transport.data)
        _, quick_tasks = quick.feed(request)
        # The same request with a query string is not a quick path: it goes through the ASGI cycle.
        slow.feed(post("/v1/set", {"namespace": "n", "key": "k", "value": 1}))
        slow_before = len(slow.transport.data)
        _, slow_tasks = slow.feed(request.replace(path.encode(), path.encode() + b"?", 1))
        slow_answer = (await slow.settle())[slow_before:]
        quick_answer = (await quick.settle())[quick_before:]
        return quick_answer, quick_tasks, quick.transport.closed, slow_answer, slow_tasks, slow.transport.closed

    quick_answer, quick_tasks, quick_closed, slow_answer, slow_tasks, slow_closed = run(both())
    assert slow_tasks == 1
    refused = b"Host: other" in request
    assert quick_tasks == (1 if refused else 0)
    assert normal(quick_answer) == normal(slow_answer)
    assert quick_closed == slow_closed == (extra.startswith("Connection") or version == "1.0" or refused)


def test_pipelined_answers_keep_their_order(app: DataStoreApp) -> None:
    """A quick call behind one still being answered (a page of keys, in a thread) waits its turn."""

    async def scenario() -> bytes:
        connection = Connection(app, asyncio.get_running_loop())
        connection.feed(post("/v1/set", {"namespace": "n", "key": "k", "value": 1}))
        start = len(connection.transport.data)
        written, _ = connection.feed(
            post("/v1/list_keys", {"namespace": "n"}) + post("/v1/get", {"namespace": "n", "key": "k"})
        )
        assert written == b""  # neither answered yet: the first is in a thread, the second behind it
        return (await connection.settle())[start:]

    answers = run(scenario())
    first, second = answers.index(b'"keys"'), answers.index(b'"found":true')
    assert first < second


def test_a_call_while_another_is_in_a_thread_goes_to_the_threads(app: DataStoreApp) -> None:
    """While any call is in a worker thread the short ones go there too (`DataStoreApp.inline`)."""

    async def scenario() -> tuple[int, bytes]:
        connection = Connection(app, asyncio.get_running_loop())
        app.in_threads += 1  # as if a batch were running for another connection
        try:
            written, tasks = connection.feed(post("/v1/set", {"namespace": "n", "key": "k", "value": 1}))
            assert written == b""
        finally:
            app.in_threads -= 1
        return tasks, await connection.settle()

    tasks, answer = run(scenario())
    assert tasks == 1 and answer.endswith(b'{"version":1,"created":true}')


def test_expect_100_continue_goes_through_the_asgi_cycle(app: DataStoreApp) -> None:
    async def scenario() -> tuple[int, bytes]:
        connection = Connection(app, asyncio.get_running_loop())
        request = post("/v1/set", {"namespace": "n", "key": "k", "value": 1}, extra="Expect: 100-continue\r\n")
        _, tasks = connection.feed(request)
        return tasks, await connection.settle()

    tasks, answer = run(scenario())
    assert tasks == 1 and answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK")


def test_a_failure_past_the_dispatch_is_a_contract_500_on_a_closed_connection(
    app: DataStoreApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(exchange: Any, body: bytes) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(app, "at_once", broken)

    async def scenario() -> tuple[bytes, bool]:
        connection = Connection(app, asyncio.get_running_loop())
        written, tasks = connection.feed(post("/v1/get", {"namespace": "n", "key": "k"}))
        assert tasks == 0
        return written, connection.transport.closed

    written, closed = run(scenario())
    head, _, body = written.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 500 ") and b"connection: close" in head and closed
    assert json.loads(body)["error"]["code"] == "internal"
