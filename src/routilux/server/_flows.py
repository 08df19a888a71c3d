"""The flows a server serves: from a directory of flow files and from import paths.

They are named when the server starts, never by a request. Two flows with
one ``flow_id`` are refused, naming where each came from.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from pathlib import Path

from routilux import DefinitionError, Flow
from routilux.flow_files import import_paths, load_flow_file

__all__ = ["FLOW_FILE_SUFFIXES", "collect_flows"]

#: The files of a flows directory that are flow files.
FLOW_FILE_SUFFIXES = (".yaml", ".yml", ".json")


def _from_directory(directory: Path) -> list[tuple[Flow, str]]:
    if not directory.is_dir():
        raise DefinitionError(f"--flows-dir {directory}: not a directory.")
    import_paths(directory)
    files = sorted(p for p in directory.iterdir() if p.suffix.lower() in FLOW_FILE_SUFFIXES)
    return [(load_flow_file(path)[1], str(path)) for path in files if path.is_file()]


def _from_import(spec: str) -> tuple[Flow, str]:
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise DefinitionError(f"--flow {spec!r} is not module:attribute.")
    import_paths()
    try:
        value: object = importlib.import_module(module_name)
        for part in attribute.split("."):
            value = getattr(value, part)
    except (ImportError, AttributeError) as exc:
        raise DefinitionError(f"--flow {spec!r}: cannot import it: {exc}") from None
    if not isinstance(value, Flow) and callable(value):
        value = value()
    if not isinstance(value, Flow):
        raise DefinitionError(
            f"--flow {spec!r} is a {type(value).__name__}, not a Flow or a callable returning one."
        )
    return value, spec


def collect_flows(
    flows: Iterable[Flow] = (), *, flows_dir: Path | str | None = None, imports: Iterable[str] = ()
) -> dict[str, Flow]:
    """The flows to serve, by ``flow_id``.

    Raises:
        DefinitionError: A flow cannot be loaded, or two have one ``flow_id``.
        SerializationError: A flow file is invalid.
    """
    found: list[tuple[Flow, str]] = [(flow, f"flow object {flow!r}") for flow in flows]
    if flows_dir is not None:
        found.extend(_from_directory(Path(flows_dir)))
    found.extend(_from_import(spec) for spec in imports)
    served: dict[str, Flow] = {}
    sources: dict[str, str] = {}
    for flow, source in found:
        if not isinstance(flow, Flow):
            raise DefinitionError(f"Expected a routilux Flow to serve, got {flow!r}.")
        if flow.flow_id in served:
            raise DefinitionError(
                f"Two flows have the id {flow.flow_id!r}: {sources[flow.flow_id]} and {source}; "
                "each served flow needs its own id."
            )
        served[flow.flow_id] = flow
        sources[flow.flow_id] = source
    return served
