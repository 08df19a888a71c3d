"""Building the flows the commands run: from a flow file, or from a stored job."""

from __future__ import annotations

import copy
import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

from routilux import Flow, SerializationError
from routilux.cli.errors import UsageProblem
from routilux.flow_files import FlowFile, read_flow_file
from routilux.stores import JobStore

__all__ = ["flow_from_file", "flow_from_job", "import_paths", "pick_entry"]


def import_paths(*directories: Path) -> None:
    """Put the working directory, then ``directories``, at the front of ``sys.path``.

    So a flow file may name routine classes of modules in the directory the
    command runs in, or next to the flow file.
    """
    wanted = [os.getcwd(), *(str(d.resolve()) for d in directories)]
    for entry in reversed(dict.fromkeys(wanted)):
        while entry in sys.path:
            sys.path.remove(entry)
        sys.path.insert(0, entry)


def _with_workers(document: Any, concurrent: int | None) -> Any:
    if concurrent is None or not isinstance(document, dict):
        return document
    document = copy.copy(document)
    document["execution_strategy"] = "concurrent"
    document["max_workers"] = concurrent
    return document


def flow_from_file(path: Path, *, concurrent: int | None = None) -> tuple[FlowFile, Flow]:
    """Read, build and check the flow of a flow file.

    Args:
        path: The flow file.
        concurrent: Run its jobs with the concurrent strategy on this many
            threads (the file's own setting otherwise).

    Raises:
        SerializationError: The file is not a valid flow file (located).
        DefinitionError: A routine is not ready to run (located).
    """
    import_paths(path.parent)
    flow_file = read_flow_file(path)
    flow_file = dataclasses.replace(
        flow_file, document=_with_workers(flow_file.document, concurrent)
    )
    flow = flow_file.build(Flow)
    flow_file.check(flow)
    return flow_file, flow


def flow_from_job(
    store: JobStore,
    job_id: str,
    *,
    concurrent: int | None = None,
    paths: tuple[Path, ...] = (),
) -> Flow:
    """Rebuild the flow of a stored job from the flow document kept with it.

    Args:
        store: The job's store.
        job_id: The job.
        concurrent: Run it with the concurrent strategy on this many threads.
        paths: Directories to import routine modules from, besides the
            working directory.

    Raises:
        JobNotFound: The store has no such job.
        SerializationError: The job was stored without a flow document (its
            flow could not be serialized), or the document names code this
            process cannot import.
    """
    import_paths(*paths)
    document = store.load_job(job_id).flow_document
    if document is None:
        # Not a usage error: the command line is right, the job lacks what it needs.
        raise SerializationError(
            f"Job {job_id} was stored without its flow document: its flow could not be "
            "serialized when the job started (typically because its routine classes are "
            "defined in the script that ran it, or inside a function), so this command cannot "
            "rebuild it. Resume it, or replay its dead letters, from a program that builds the "
            f"flow: flow.resume({job_id!r}, store=store) or "
            "flow.replay_dead_letter(letter_id, store=store). To make such jobs resumable here, "
            "define the routine classes in an importable module."
        )
    try:
        flow: Flow = Flow.deserialize(_with_workers(document, concurrent))
    except SerializationError as exc:
        raise SerializationError(
            f"Cannot rebuild the flow of job {job_id} from the document stored with it: {exc} "
            "Run the command where its routine modules can be imported (the directory "
            "'routilux run' ran in), or pass --path DIR."
        ) from exc
    flow.check()
    return flow


def pick_entry(flow: Flow, entry: str | None) -> str:
    """The routine that starts a job: ``entry``, or the only one with a ``trigger`` slot.

    Raises:
        UsageProblem: ``entry`` is not a routine with a ``trigger`` slot, or
            none is given and not exactly one routine has such a slot.
    """
    if entry is not None:
        routine = flow.routines.get(entry)
        if routine is None:
            known = ", ".join(repr(r) for r in flow.routines)
            raise UsageProblem(f"--entry: the flow has no routine {entry!r}; routines: {known}.")
        if "trigger" not in routine.slots:
            raise UsageProblem(
                f"--entry: routine {entry!r} has no 'trigger' slot, which receives a job's "
                "params; choose a routine that has one."
            )
        return entry
    starts = [rid for rid, routine in flow.routines.items() if "trigger" in routine.slots]
    if len(starts) == 1:
        return starts[0]
    if not starts:
        raise UsageProblem("No routine of the flow has a 'trigger' slot to start a job with.")
    names = ", ".join(repr(r) for r in starts)
    raise UsageProblem(
        f"Several routines have a 'trigger' slot ({names}); choose one with --entry."
    )
