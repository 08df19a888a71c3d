"""Flow files: flow documents written by hand, in YAML or JSON, with located errors.

A flow file holds exactly what :meth:`routilux.Flow.serialize` returns (see
``docs/serialization.md``), written as YAML (``.yaml``, ``.yml``) or JSON
(``.json``). Every error names the file and, when it can be found, the line:

    demo_flow.yaml:12: routines.router.config: is refused: ...

YAML is read from PyYAML's parser events and turned into JSON values here
(``yaml_nodes``), so that each key and item keeps its line and the limits
hold while the file is parsed. Only what JSON can hold is accepted: no tags
other than the plain ones, no aliases, no merge keys, no dates, numbers in
decimal only, string keys only, no key twice in one mapping.
This module needs no CLI library, only PyYAML for YAML files (the ``cli``
extra: ``pip install -e "/path/to/routilux[cli]"`` from a clone), imported
when a YAML file is read. :func:`read_saved_flow` reads the JSON files
:meth:`routilux.Flow.save` writes, with the same strict JSON reader.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from routilux._serde.doc_lines import LazyLines
from routilux._serde.json_text import DuplicateKeyError, JsonTextError, loads_strict
from routilux._serde.yaml_nodes import DocPath, compose_yaml, dotted, has_libyaml, import_yaml
from routilux.exceptions import DefinitionError, SerializationError

if TYPE_CHECKING:
    from routilux._flow import Flow
    from routilux._model.routine import Routine

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_YAML_BYTES_WITHOUT_LIBYAML",
    "FlowFile",
    "display_path",
    "read_flow_file",
    "read_saved_flow",
]

#: Largest flow file read, in bytes. YAML costs more to parse than JSON.
MAX_FILE_BYTES = {"json": 256 * 1024 * 1024, "yaml": 16 * 1024 * 1024}
#: Largest YAML flow file read when PyYAML lacks libyaml: its parser in pure
#: Python is some 20 times slower (about 4 seconds for 2 MiB of block YAML).
MAX_YAML_BYTES_WITHOUT_LIBYAML = 2 * 1024 * 1024
#: Largest JSON file for which a failed document is parsed again to find lines.
_LOCATE_JSON_BYTES = 4 * 1024 * 1024
_SUFFIXES = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}

F = TypeVar("F", bound="Flow")

_STRING = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""
_SEGMENT = re.compile(rf"\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+|{_STRING})\]")
_PATH = re.compile(rf"([A-Za-z_][A-Za-z0-9_]*)(?:\.[A-Za-z_][A-Za-z0-9_]*|\[(?:\d+|{_STRING})\])*")
_OPTIONS = (
    *("flow_id", "execution_strategy", "max_workers", "execution_timeout"),
    *("max_deliveries", "record_history", "history_limit", "retain_jobs", "checkpoint_every"),
    *("max_async_in_flight", "max_hops", "track_execution", "keep_logs", "ray_address"),
)
_TOP_FIELDS = frozenset(
    (*_OPTIONS, "schema", "version", "error_handler", "routines", "connections")
)
_OPTION = re.compile(rf"\b(?:{'|'.join(_OPTIONS)})\b")
_ROUTINE = re.compile(rf"Routine ({_STRING}) ")
_UNKNOWN = re.compile(rf"has the unknown field ({_STRING});")


@dataclass(frozen=True)
class FlowFile:
    """A flow file's document, with the line of each key and item (when known).

    Attributes:
        path: The file.
        document: Its document, as JSON values.
        lines: The 1-based line of each place of the document that is known.
    """

    path: Path
    document: Any
    lines: Mapping[DocPath, int] = field(default_factory=dict)

    def line_of(self, where: DocPath) -> int | None:
        """The line of ``where``, or of its nearest enclosing place that has one."""
        for end in range(len(where), -1, -1):
            line = self.lines.get(where[:end])
            if line is not None:
                return line
        return None

    def located(self, where: DocPath | None, problem: str) -> str:
        """``file:line: place: problem``, in one line.

        Args:
            where: The place the problem is at (``None``: the whole document).
            problem: What is wrong there.
        """
        line = self.line_of(where or ())
        head = display_path(self.path) + (f":{line}" if line is not None else "")
        place = f"{dotted(where)}: " if where else ""
        return f"{head}: {place}{' '.join(problem.split())}"

    def build(
        self,
        flow_class: type[F],
        *,
        registry: Mapping[str, type[Routine]] | None = None,
        allowed_modules: Iterable[str] | None = None,
    ) -> F:
        """Build the flow the document defines.

        Args:
            flow_class: The class to build (``Flow`` or a subclass).
            registry: Names for routine classes, as for :meth:`routilux.Flow.deserialize`.
            allowed_modules: The only modules that may be imported, as for
                :meth:`routilux.Flow.deserialize`.

        Returns:
            The new flow.

        Raises:
            SerializationError: The document is not a valid flow document;
                the message is located (file, line, place).
        """
        try:
            flow: F = flow_class.deserialize(
                self.document, registry=registry, allowed_modules=allowed_modules
            )
        except SerializationError as exc:
            where, problem = _split_message(str(exc))
            raise SerializationError(self.located(where, problem)) from exc
        return flow

    def check(self, flow: Flow) -> None:
        """Run :meth:`routilux.Flow.check`, locating its error at the routine's entry.

        Args:
            flow: The flow :meth:`build` returned.

        Raises:
            DefinitionError: A routine is not ready to run; the message is located.
        """
        try:
            flow.check()
        except DefinitionError as exc:
            match = _ROUTINE.match(str(exc))
            where = ("routines", ast.literal_eval(match.group(1))) if match else None
            raise DefinitionError(self.located(where, str(exc))) from exc


def display_path(path: str | PathLike[str]) -> str:
    """How messages name a file: as given, relative or absolute."""
    return str(path)


def _split_message(message: str) -> tuple[DocPath | None, str]:
    """The place and the problem of a flow document error from the library."""
    if message.startswith("Not a flow document"):
        return ("schema",), message
    if message.startswith("Flow document version"):
        return ("version",), message
    body = message.removeprefix("Flow document: ")
    unknown = _UNKNOWN.search(body)
    if body is not message and unknown is not None:
        # "routines['a'] has the unknown field 'x'": the place is the field itself.
        match = _PATH.match(body)
        inside = _parse_path(match.group(0)) if match and match.group(1) in _TOP_FIELDS else ()
        return (*inside, ast.literal_eval(unknown.group(1))), body
    match = _PATH.match(body)
    if body is not message and match is not None and match.group(1) in _TOP_FIELDS:
        return _parse_path(match.group(0)), body[match.end() :].strip()
    # "the flow's settings are refused: Flow max_workers must be ...": find the field.
    named = _OPTION.search(body)
    return ((named.group(0),) if named else None), body


def _parse_path(text: str) -> DocPath:
    parts: list[str | int] = []
    for match in _SEGMENT.finditer(text):
        name, index = match.groups()
        if name is not None:
            parts.append(name)
        elif index.isdigit():
            parts.append(int(index))
        else:
            parts.append(ast.literal_eval(index))
    return tuple(parts)


# -- reading -----------------------------------------------------------------


def read_flow_file(path: str | PathLike[str]) -> FlowFile:
    """Read a YAML or JSON flow file (by its extension).

    Raises:
        SerializationError: The file has another extension, is too large,
            is not UTF-8, or is not valid YAML or JSON (located, one line).
        OSError: The file cannot be read.
        ImportError: A YAML file, and PyYAML is not installed (the message
            names the ``pip install -e`` command of the ``cli`` extra).
    """
    target = Path(path)
    kind = _SUFFIXES.get(target.suffix.lower())
    if kind is None:
        raise SerializationError(
            f"{display_path(path)}: a flow file must end in .yaml, .yml or .json, "
            f"not {target.suffix or 'nothing'!r}."
        )
    _check_size(target, kind, target.stat().st_size)
    text = _decode(target, target.read_bytes())
    if kind == "yaml":
        document, lines = compose_yaml(text, display_path(path))
        return FlowFile(target, document, lines)
    document = _parse_json(text, target)
    if len(text) > _LOCATE_JSON_BYTES:
        return FlowFile(target, document)
    # Lines are found only for an error message: reading JSON as YAML costs more.
    return FlowFile(target, document, LazyLines(lambda: _json_lines(text)))


def read_saved_flow(path: str | PathLike[str]) -> Any:
    """Read a file :meth:`Flow.save` wrote, strictly: UTF-8 JSON, no NaN, no key twice.

    Raises:
        SerializationError: The file is too large or not such a JSON document.
        OSError: The file cannot be read.
    """
    target = Path(path)
    size = target.stat().st_size
    limit = MAX_FILE_BYTES["json"]
    if size > limit:
        raise SerializationError(
            f"{target} has {size} bytes; a flow file may have at most {limit}."
        )
    raw = target.read_bytes()
    try:
        return loads_strict(raw.decode("utf-8"))
    except JsonTextError as exc:  # Too deep, or an integer too long: name its place.
        raise SerializationError(f"{target} is not a valid JSON document: {exc}") from None
    except DuplicateKeyError as exc:
        raise SerializationError(
            f"{target} has the key {str(exc)[:80]!r} twice in one object; routine ids and "
            "field names must be unique."
        ) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise SerializationError(f"{target} is not a valid JSON document: {exc}.") from None


def _check_size(path: Path, kind: str, size: int) -> None:
    limit, hint = MAX_FILE_BYTES[kind], ""
    if kind == "yaml" and not has_libyaml(import_yaml()):
        limit = MAX_YAML_BYTES_WITHOUT_LIBYAML
        hint = (
            f" ({MAX_FILE_BYTES['yaml']} with a PyYAML built with libyaml, whose parser is in C"
            "; or write the file in JSON)"
        )
    if size > limit:
        raise SerializationError(
            f"{display_path(path)}: the file has {size} bytes; a {kind.upper()} flow file "
            f"may have at most {limit}{hint}."
        )


def _decode(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise SerializationError(
            f"{display_path(path)}:{line}: the file is not UTF-8 text ({exc.reason} at byte "
            f"{exc.start})."
        ) from None


def _parse_json(text: str, path: Path) -> Any:
    try:
        return loads_strict(text)
    except JsonTextError as exc:  # Too deep, or an integer too long.
        place = f"{dotted(exc.where)}: " if exc.where else "the document "
        raise SerializationError(f"{display_path(path)}: {place}{exc.problem}") from None
    except json.JSONDecodeError as exc:
        raise SerializationError(
            f"{display_path(path)}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}."
        ) from None
    except DuplicateKeyError as exc:
        raise SerializationError(
            f"{display_path(path)}: the key {str(exc)[:80]!r} appears twice in one object; "
            "routine ids and field names must be unique."
        ) from None
    except ValueError as exc:  # NaN or Infinity.
        raise SerializationError(f"{display_path(path)}: invalid JSON: {exc}.") from None


def _json_lines(text: str) -> Mapping[DocPath, int]:
    """Lines of a JSON document, found by reading it as YAML (best effort)."""
    try:
        _, lines = compose_yaml(text, "")
    except (SerializationError, ImportError):
        return {}
    return lines
