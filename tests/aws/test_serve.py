"""`agent-datastore serve` with STORE_BACKEND=dynamodb against the local endpoint."""

from __future__ import annotations

import httpx

from tests.support.server import running_server


def test_serve_on_dynamodb(table, user_id):
    env = {"STORE_BACKEND": "dynamodb", "DYNAMODB_TABLE": table, "DATASTORE_AUTH": "none"}
    with running_server(env) as server:
        headers = {"x-user-id": user_id, "x-agent-name": "e2e"}
        post = lambda op, body: httpx.post(f"{server.url}/v1/{op}", json=body, headers=headers, timeout=30)  # noqa: E731
        assert post("set", {"namespace": "a:b", "key": "k/1", "value": [1, 2.5, "x"]}).json() == {
            "version": 1,
            "created": True,
        }
        assert post("get", {"namespace": "a:b", "key": "k/1"}).json() == {"found": True, "value": [1, 2.5, "x"]}
        conflict = post("set", {"namespace": "a:b", "key": "k/1", "value": 0, "if_version": 5})
        assert conflict.status_code == 409 and conflict.json()["error"]["details"] == {"current_version": 1}
        assert post("list_namespaces", {}).json() == {"namespaces": ["a:b"]}
