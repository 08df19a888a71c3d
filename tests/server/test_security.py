"""Keys and scopes on every route, rate limits, the body limit, CORS, errors without tracebacks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from server_flows import make_flow

from routilux import Flow
from routilux.cli.app import run_command
from routilux.server import create_app
from routilux.server._auth import PUBLIC
from routilux.server.keys import create_key, list_keys, revoke_key
from routilux.stores import JobStore, MemoryStore

pytestmark = pytest.mark.anyio

Client = Callable[..., httpx.AsyncClient]
Build = Callable[..., FastAPI]

#: Every route of the API, with the path it is called at.
ROUTES = [
    (method, route.path)
    for route in create_app(MemoryStore(), flows=[make_flow()]).routes
    if isinstance(route, APIRoute)
    for method in sorted(route.methods)
]


def _url(path: str) -> str:
    return path.format(flow_id="numbers", job_id="nope", letter_id="nope", schedule_id="nope")


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
async def test_every_route_checks_the_key_and_its_scope(
    method: str, path: str, sqlite_store: JobStore, client_for: Client, build: Build
) -> None:
    client = client_for(build(sqlite_store))
    _, read = create_key(sqlite_store, "read")
    _, run = create_key(sqlite_store, "run")
    if path in PUBLIC:
        response = await client.request(method, _url(path))
        assert response.status_code == 200
        return
    for headers in ({}, {"Authorization": "Bearer rlx_wrong"}, {"Authorization": "Basic x"}):
        response = await client.request(method, _url(path), headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "unauthorized"
    as_reader = await client.request(
        method, _url(path), headers={"Authorization": f"Bearer {read}"}
    )
    as_runner = await client.request(method, _url(path), headers={"Authorization": f"Bearer {run}"})
    if method == "GET":
        assert as_reader.status_code not in (401, 403)
    else:
        assert as_reader.status_code == 403
        assert as_reader.json()["error"]["code"] == "forbidden"
        assert "'run'" in as_reader.json()["error"]["message"]
        assert as_runner.status_code not in (401, 403)


async def test_a_revoked_key_is_refused(
    sqlite_store: JobStore, client_for: Client, build: Build
) -> None:
    row, token = create_key(sqlite_store, "admin", name="ci")
    client = client_for(build(sqlite_store), {"Authorization": f"Bearer {token}"})
    assert (await client.get("/flows")).status_code == 200
    assert [(k.key_id, k.name, k.scope) for k in list_keys(sqlite_store)] == [
        (row.key_id, "ci", "admin")
    ]
    assert revoke_key(sqlite_store, row.key_id)
    assert not revoke_key(sqlite_store, row.key_id)
    assert (await client.get("/flows")).status_code == 401


async def test_rate_limit_per_key(sqlite_store: JobStore, client_for: Client, build: Build) -> None:
    app = build(sqlite_store, rate_limit="2/m")
    _, one = create_key(sqlite_store, "read")
    _, other = create_key(sqlite_store, "read")
    first = client_for(app, {"Authorization": f"Bearer {one}"})
    codes = [(await first.get("/flows")).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    refused = await first.get("/flows")
    assert refused.json()["error"]["code"] == "too_many_requests"
    assert int(refused.headers["retry-after"]) >= 1
    second = client_for(app, {"Authorization": f"Bearer {other}"})
    assert (await second.get("/flows")).status_code == 200


async def test_body_limit(sqlite_store: JobStore, client_for: Client, build: Build) -> None:
    _, token = create_key(sqlite_store, "run")
    client = client_for(
        build(sqlite_store, max_body_bytes=64), {"Authorization": f"Bearer {token}"}
    )
    big = {"params": {"text": "x" * 100}}
    declared = await client.post("/flows/numbers/jobs", json=big)
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "payload_too_large"

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(10):
            yield b"x" * 20

    streamed = await client.post(
        "/flows/numbers/jobs", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    small = await client.post("/flows/numbers/jobs", json={"params": {"n": 1}})
    assert small.status_code == 201


async def test_cors_is_off_unless_an_origin_is_given(
    sqlite_store: JobStore, client_for: Client, build: Build
) -> None:
    origin = {"Origin": "https://dash.example"}
    closed = client_for(build(sqlite_store))
    response = await closed.get("/health", headers=origin)
    assert "access-control-allow-origin" not in response.headers
    opened = client_for(build(sqlite_store, cors_origins=["https://dash.example"]))
    response = await opened.get("/health", headers=origin)
    assert response.headers["access-control-allow-origin"] == "https://dash.example"
    preflight = await opened.options(
        "/flows",
        headers={
            **origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.status_code == 200
    other = await opened.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


class Broken(Flow):
    def serialize(self, *args: object, **kwargs: object) -> dict[str, object]:
        raise RuntimeError("secret internals")


async def test_an_unexpected_error_is_a_500_without_traceback(
    sqlite_store: JobStore, client_for: Client, build: Build, caplog: pytest.LogCaptureFixture
) -> None:
    flow = Broken("broken")
    client = client_for(build(sqlite_store, flow, auth=False))
    response = await client.get("/flows/broken")
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal", "message": "Internal error; see the server's log."}
    }
    assert "secret" not in response.text
    assert "secret internals" in caplog.text  # Logged, with its traceback.


def _routilux(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the command in this process (as ``python -m routilux`` would): status, out, err."""
    status = run_command(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def test_keys_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    store = ["--store", "sqlite:///jobs.db"]
    status, out, err = _routilux(capsys, "keys", "create", "--scope", "run", "--name", "ci", *store)
    assert status == 0, err
    token = out.split()[-1]
    assert token.startswith("rlx_")
    assert len(token) > 40
    status, listed, _ = _routilux(capsys, "keys", "list", "--json", *store)
    assert token not in listed
    assert '"scope": "run"' in listed
    key_id = out.split()[3]
    assert key_id in listed
    assert _routilux(capsys, "keys", "revoke", key_id, *store)[0] == 0
    assert _routilux(capsys, "keys", "revoke", key_id, *store)[0] == 1
    assert _routilux(capsys, "keys", "create", "--scope", "god", *store)[0] == 2


def test_no_auth_refuses_a_public_host(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _routilux(
        capsys, "serve", "--no-auth", "--host", "0.0.0.0", "--store", "memory:"
    )
    assert status == 2
    assert "--no-auth" in err
    assert "0.0.0.0" in err


def test_without_the_server_extra_serve_names_the_install_command(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['fastapi'] = None; from routilux.cli import main; "
        "main(['serve', '--store', 'memory:'])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "fastapi" in proc.stderr
    assert '[server]"' in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_options_and_duplicate_flows_are_refused(sqlite_store: JobStore) -> None:
    from routilux import DefinitionError

    for options in (
        {"rate_limit": "fast"},
        {"rate_limit": "0/s"},
        {"max_body_bytes": 0},
        {"heartbeat": 0},
    ):
        with pytest.raises(DefinitionError):
            create_app(sqlite_store, flows=[make_flow()], **options)  # type: ignore[arg-type]
    with pytest.raises(DefinitionError, match="Two flows have the id 'numbers'"):
        create_app(sqlite_store, flows=[make_flow()], imports=["server_flows:numbers"])
    with pytest.raises(DefinitionError, match="not module:attribute"):
        create_app(sqlite_store, imports=["server_flows"])
    with pytest.raises(DefinitionError, match="cannot import"):
        create_app(sqlite_store, imports=["server_flows:nothing"])
