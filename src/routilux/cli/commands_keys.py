"""``routilux keys``: create, list and revoke the API keys of ``routilux serve``."""

from __future__ import annotations

from datetime import datetime, timezone

import click

from routilux.cli.errors import EXIT_FAILED, EXIT_OK
from routilux.cli.options import json_option, store_option
from routilux.cli.output import Table, echo_json
from routilux.cli.store_urls import opened_store
from routilux.server.keys import Scope, create_key, list_keys, revoke_key

__all__ = ["keys"]


@click.group(short_help="Create, list and revoke API keys of 'routilux serve'.")
def keys() -> None:
    """Create, list and revoke the API keys of the HTTP service (kept in the store)."""


@keys.command("create")
@click.option(
    "--scope",
    type=click.Choice([s.value for s in Scope]),
    required=True,
    help="read: GET only; run: also start and control jobs; admin: everything.",
)
@click.option("--name", default="", help="A note to tell the key from others.")
@store_option
def create(scope: str, name: str, store_url: str) -> int:
    """Create an API key; print it once, as the last word of the output."""
    with opened_store(store_url) as store:
        row, token = create_key(store, scope, name=name)
    click.echo(
        f"Created API key {row.key_id} (scope {row.scope}). It is shown only now; "
        "the store keeps its hash. Send it as 'Authorization: Bearer KEY':"
    )
    click.echo(token)
    return EXIT_OK


def _when(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return datetime.fromtimestamp(stamp, timezone.utc).isoformat(timespec="seconds")


@keys.command("list")
@store_option
@json_option
def list_command(store_url: str, as_json: bool) -> int:
    """List the API keys (ids, names and scopes; never the keys themselves)."""
    with opened_store(store_url, create=False) as store:
        rows = list_keys(store)
    data = [
        {
            "key_id": r.key_id,
            "name": r.name,
            "scope": r.scope,
            "created_at": _when(r.created_at),
            "revoked_at": _when(r.revoked_at),
        }
        for r in rows
    ]
    if as_json:
        echo_json(data)
    elif not data:
        click.echo("No API keys.")
    else:
        table = Table(["key", "name", "scope", "created", "revoked"])
        for d in data:
            table.add(d["key_id"], d["name"], d["scope"], d["created_at"], d["revoked_at"])
        table.print()
    return EXIT_OK


@keys.command("revoke")
@click.argument("key_id")
@store_option
def revoke(key_id: str, store_url: str) -> int:
    """Revoke the API key KEY_ID: requests with it get 401 from now on."""
    with opened_store(store_url, create=False) as store:
        done = revoke_key(store, key_id)
    if not done:
        click.echo(f"routilux: error: no API key {key_id} that is not revoked.", err=True)
        return EXIT_FAILED
    click.echo(f"Revoked API key {key_id}.")
    return EXIT_OK
