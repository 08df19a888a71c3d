"""``routilux dead-letters``: list, show and replay the deliveries that failed for good."""

from __future__ import annotations

from pathlib import Path

import click

from routilux.cli.errors import EXIT_OK
from routilux.cli.following import announce, show_report
from routilux.cli.loading import flow_from_job
from routilux.cli.log_levels import kept_logs_made
from routilux.cli.options import json_option, path_option, ray_address_option, store_option
from routilux.cli.output import echo_json, to_json
from routilux.cli.report import letter_dict
from routilux.cli.report_text import print_letter, print_letters
from routilux.cli.store_urls import opened_store

__all__ = ["dead_letters"]


@click.group("dead-letters", short_help="List, show and replay dead letters.")
def dead_letters() -> None:
    """List, show and replay dead letters: deliveries that failed for good.

    A delivery becomes a dead letter when its routine's error policy gives
    up on it (STOP, CONTINUE, SKIP, or RETRY out of attempts). The store
    keeps its message, so it can be delivered again once the cause is fixed.
    """


@dead_letters.command("list")
@click.option("--job", "job_id", metavar="JOB_ID", help="Only the letters of this job.")
@click.option("--flow", "flow_id", metavar="FLOW_ID", help="Only the letters of this flow.")
@click.option("--all", "include_replayed", is_flag=True, help="Include letters already replayed.")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=100,
    show_default=True,
    metavar="N",
    help="At most N letters, oldest first.",
)
@store_option
@json_option
def list_letters(
    job_id: str | None,
    flow_id: str | None,
    include_replayed: bool,
    limit: int,
    store_url: str,
    as_json: bool,
) -> int:
    """List dead letters, oldest first (not those already replayed, unless --all)."""
    with opened_store(store_url, create=False) as store:
        letters = store.list_dead_letters(
            job_id=job_id, flow_id=flow_id, include_replayed=include_replayed, limit=limit
        )
    rows = [letter_dict(letter) for letter in letters]
    if as_json:
        echo_json(rows)
    else:
        print_letters(rows)
    return EXIT_OK


@dead_letters.command("show")
@click.argument("letter_id")
@store_option
@json_option
def show_letter(letter_id: str, store_url: str, as_json: bool) -> int:
    """Show the dead letter LETTER_ID: where it failed, its message, the traceback."""
    with opened_store(store_url, create=False) as store:
        letter = letter_dict(store.get_dead_letter(letter_id), details=True)
    if as_json:
        echo_json(letter)
    else:
        print_letter(letter, to_json(letter["data"]))
    return EXIT_OK


@dead_letters.command("replay")
@click.argument("letter_id")
@click.option("--again", is_flag=True, help="Replay a letter that was replayed already.")
@ray_address_option
@path_option
@store_option
@json_option
def replay(
    letter_id: str,
    again: bool,
    ray_address: str | None,
    paths: tuple[Path, ...],
    store_url: str,
    as_json: bool,
) -> int:
    """Deliver the message of the dead letter LETTER_ID again, as a new job.

    The flow is rebuilt from the flow document stored with the letter's
    job; the letter is marked as replayed by the new job (one
    compare-and-set: two replays at once never both deliver it), then the
    new job starts at the slot that failed and runs to its end. A letter
    replayed already is refused unless --again. Prints the new job's
    summary.

    Exit status: 0 if the new job completed, 1 if it failed (or the letter
    is not in the store, was replayed already, or its job was stored
    without its flow document).
    """
    with opened_store(store_url, create=False) as store:
        letter = store.get_dead_letter(letter_id)
        flow = flow_from_job(store, letter.job_id, paths=paths, ray_address=ray_address)
        with flow, kept_logs_made([flow]):
            job = flow.replay_dead_letter(letter, store=store, again=again)
        announce(job.job_id, f"replayed dead letter {letter_id}", as_json=as_json)
        return show_report(store, job.job_id, as_json=as_json, duration=None)
