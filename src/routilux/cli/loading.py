"""Building the flows the commands run: from a flow file, or from a stored job."""

from __future__ import annotations

from pathlib import Path

from routilux import DefinitionError, Flow, SerializationError
from routilux.cli.errors import UsageProblem
from routilux.flow_files import FlowFile, entry_routine, import_paths, load_flow_file
from routilux.stores import JobStore

__all__ = ["flow_from_file", "flow_from_job", "import_paths", "pick_entry", "with_ray_address"]


def flow_from_file(
    path: Path, *, concurrent: int | None = None, ray_address: str | None = None
) -> tuple[FlowFile, Flow]:
    """Read, build and check the flow of a flow file (see :func:`load_flow_file`).

    ``ray_address``, if given, replaces the flow's (``--ray-address``).
    """
    flow_file, flow = load_flow_file(path, concurrent=concurrent)
    return flow_file, with_ray_address(flow, ray_address)


def with_ray_address(flow: Flow, ray_address: str | None) -> Flow:
    """``flow``, its ``ray_address`` replaced by ``ray_address`` unless that is ``None``."""
    if ray_address is not None:
        flow.ray_address = ray_address
    return flow


def flow_from_job(
    store: JobStore,
    job_id: str,
    *,
    concurrent: int | None = None,
    paths: tuple[Path, ...] = (),
    ray_address: str | None = None,
) -> Flow:
    """Rebuild the flow of a stored job from the flow document kept with it.

    Args:
        store: The job's store.
        job_id: The job.
        concurrent: Run it with the concurrent strategy on this many threads.
        paths: Directories to import routine modules from, besides the
            working directory.
        ray_address: The Ray cluster to use instead of the flow's, if given.

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
        if concurrent is not None and isinstance(document, dict):
            document = {**document, "execution_strategy": "concurrent", "max_workers": concurrent}
        flow: Flow = Flow.deserialize(document)
    except SerializationError as exc:
        raise SerializationError(
            f"Cannot rebuild the flow of job {job_id} from the document stored with it: {exc} "
            "Run the command where its routine modules can be imported (the directory "
            "'routilux run' ran in), or pass --path DIR."
        ) from exc
    flow.check()
    return with_ray_address(flow, ray_address)


def pick_entry(flow: Flow, entry: str | None) -> str:
    """The routine that starts a job: ``entry``, or the only one with a ``trigger`` slot.

    Raises:
        UsageProblem: ``entry`` is not a routine with a ``trigger`` slot, or
            none is given and not exactly one routine has such a slot.
    """
    try:
        return entry_routine(flow, entry, option="--entry")
    except DefinitionError as exc:
        raise UsageProblem(str(exc)) from None
