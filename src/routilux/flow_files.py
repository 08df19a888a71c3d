"""Flow files: flow documents written by hand, in YAML or JSON, read with located errors.

:func:`read_flow_file` reads a file into a :class:`FlowFile`: its document
and the line of each place in it. :meth:`FlowFile.build` builds the flow and
:meth:`FlowFile.check` checks that it is ready to run; every error names the
file, the line when known, and the place (``flow.yaml:12: routines.router...``).
:meth:`routilux.Flow.from_file` reads and builds in one call; this module is
for tools that change the document before building it, as the ``routilux``
command does. :func:`load_flow_file` is what the tools (``routilux run``,
``routilux serve``) load a flow file with, and :func:`entry_routine` the
routine a job of it starts at by default. YAML files need PyYAML (the ``cli``
extra).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from routilux._serde.flow_files import (
    MAX_FILE_BYTES,
    MAX_YAML_BYTES_WITHOUT_LIBYAML,
    FlowFile,
    read_flow_file,
)
from routilux.exceptions import DefinitionError

if TYPE_CHECKING:
    from routilux._flow import Flow

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_YAML_BYTES_WITHOUT_LIBYAML",
    "FlowFile",
    "entry_routine",
    "import_paths",
    "load_flow_file",
    "read_flow_file",
]


def import_paths(*directories: Path) -> None:
    """Put the working directory, then ``directories``, at the front of ``sys.path``.

    So a flow file may name routine classes of modules in the directory the
    tool runs in, or next to the flow file.
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


def load_flow_file(path: Path, *, concurrent: int | None = None) -> tuple[FlowFile, Flow]:
    """Read, build and check the flow of a flow file, importing from its directory.

    The working directory and the file's directory go first on ``sys.path``
    (:func:`import_paths`), so the file may name routine classes of modules
    next to it.

    Args:
        path: The flow file.
        concurrent: Run its jobs with the concurrent strategy on this many
            threads (the file's own setting otherwise).

    Raises:
        SerializationError: The file is not a valid flow file (located).
        DefinitionError: A routine is not ready to run (located).
    """
    from routilux._flow import Flow

    import_paths(path.parent)
    flow_file = read_flow_file(path)
    flow_file = dataclasses.replace(
        flow_file, document=_with_workers(flow_file.document, concurrent)
    )
    flow = flow_file.build(Flow)
    flow_file.check(flow)
    return flow_file, flow


def entry_routine(flow: Flow, entry: str | None = None, *, option: str = "entry") -> str:
    """The routine that starts a job: ``entry``, or the only one with a ``trigger`` slot.

    Args:
        flow: The flow.
        entry: The routine asked for, if any.
        option: How the caller's user names ``entry`` (``"--entry"`` for the
            command line), in the error messages.

    Raises:
        DefinitionError: ``entry`` is not a routine with a ``trigger`` slot,
            or none is given and not exactly one routine has such a slot.
    """
    if entry is not None:
        routine = flow.routines.get(entry)
        if routine is None:
            known = ", ".join(repr(r) for r in flow.routines)
            raise DefinitionError(
                f"{option}: the flow has no routine {entry!r}; routines: {known}."
            )
        if "trigger" not in routine.slots:
            raise DefinitionError(
                f"{option}: routine {entry!r} has no 'trigger' slot, which receives a job's "
                "params; choose a routine that has one."
            )
        return entry
    starts = [rid for rid, routine in flow.routines.items() if "trigger" in routine.slots]
    if len(starts) == 1:
        return starts[0]
    if not starts:
        raise DefinitionError("No routine of the flow has a 'trigger' slot to start a job with.")
    names = ", ".join(repr(r) for r in starts)
    raise DefinitionError(
        f"Several routines have a 'trigger' slot ({names}); choose one with {option}."
    )
