"""Pictures of a flow, and of a job of it: Mermaid and Graphviz DOT text.

Nodes are the flow's routines (id and class name), in the order they were
added; edges are its connections (``event → slot``, and the param mapping),
in the order they were made. Given a job, each routine is coloured by what
it did in that job, from ``job_state.routine_stats``: ``completed``,
``failed``, ``skipped``, or ``not run`` when it received nothing. The text
depends only on the flow and the job, so the same flow gives the same text.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from routilux._flow import Flow
    from routilux._model.connection import Connection
    from routilux._model.job_state import JobState

__all__ = ["ROUTINE_STATES", "routine_state", "to_dot", "to_mermaid"]

#: The states a picture of a job shows, in legend order.
ROUTINE_STATES = ("completed", "failed", "skipped", "not run")

#: (fill, border, text) colours of each state.
_COLOURS: dict[str, tuple[str, str, str]] = {
    "completed": ("#d4edda", "#28a745", "#155724"),
    "failed": ("#f8d7da", "#dc3545", "#721c24"),
    "skipped": ("#fff3cd", "#e0a800", "#856404"),
    "not run": ("#eeeeee", "#999999", "#666666"),
}

# Mermaid reads "#name;" as an entity, so "#" goes first; the others would
# end a quoted label, start HTML or a markdown string, or split an edge label.
_MERMAID_ESCAPES = (
    ("#", "#35;"),
    ('"', "#quot;"),
    ("&", "#amp;"),
    ("<", "#lt;"),
    (">", "#gt;"),
    ("|", "#124;"),
    ("`", "#96;"),
)


def routine_state(job_state: JobState, routine_id: str) -> str:
    """What the routine did in the job: one of :data:`ROUTINE_STATES`.

    Its status in ``job_state.routine_stats``, or ``not run`` when it
    received no delivery.
    """
    stats = job_state.routine_stats(routine_id)
    return "not run" if stats is None else stats.status


def _states(flow: Flow, job_state: JobState | None) -> dict[str, str] | None:
    if job_state is None:
        return None
    return {rid: routine_state(job_state, rid) for rid in flow.routines}


def _edge_text(connection: Connection) -> str:
    text = f"{connection.event} → {connection.slot}"
    mapping: Mapping[str, str] | None = connection.param_mapping
    if mapping:
        renames = ", ".join(f"{source} → {target}" for source, target in mapping.items())
        text += f"\n({renames})"
    return text


# -- Mermaid -----------------------------------------------------------------


def _mermaid_text(text: str) -> str:
    for plain, escaped in _MERMAID_ESCAPES:
        text = text.replace(plain, escaped)
    lines = ["".join(" " if ch < " " else ch for ch in line) for line in text.split("\n")]
    return "<br/>".join(lines)


def to_mermaid(flow: Flow, job_state: JobState | None = None) -> str:
    """The flow as a Mermaid ``flowchart``; see :meth:`routilux.Flow.to_mermaid`."""
    ids = {rid: f"r{i}" for i, rid in enumerate(flow.routines)}
    lines = ["flowchart LR"]
    for rid, routine in flow.routines.items():
        label = _mermaid_text(f"{rid}\n{type(routine).__name__}")
        lines.append(f'    {ids[rid]}["{label}"]')
    for c in flow.connections:
        label = _mermaid_text(_edge_text(c))
        lines.append(f'    {ids[c.source_id]} -->|"{label}"| {ids[c.target_id]}')
    states = _states(flow, job_state)
    if states is not None:
        lines.extend(_mermaid_classes(ids, states))
    return "\n".join(lines) + "\n"


def _mermaid_classes(ids: dict[str, str], states: dict[str, str]) -> Iterator[str]:
    for state in ROUTINE_STATES:
        members = [ids[rid] for rid, s in states.items() if s == state]
        if not members:
            continue
        fill, stroke, color = _COLOURS[state]
        name = state.replace(" ", "_")
        yield f"    classDef {name} fill:{fill},stroke:{stroke},color:{color}"
        yield f"    class {','.join(members)} {name}"


# -- DOT ---------------------------------------------------------------------


def _dot_string(text: str) -> str:
    """``text`` as a DOT quoted string; a newline becomes a centred line break."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(" " if ch < " " and ch != "\n" else ch for ch in escaped)
    return '"' + escaped.replace("\n", "\\n") + '"'


def to_dot(flow: Flow, job_state: JobState | None = None) -> str:
    """The flow as a Graphviz ``digraph``; see :meth:`routilux.Flow.to_dot`."""
    states = _states(flow, job_state)
    lines = [
        f"digraph {_dot_string(flow.flow_id)} {{",
        "    rankdir=LR;",
        '    node [shape=box, style="rounded"];',
    ]
    for rid, routine in flow.routines.items():
        attrs = "label=" + _dot_string(rid + "\n" + type(routine).__name__)
        if states is not None:
            fill, stroke, color = _COLOURS[states[rid]]
            attrs += (
                f', style="rounded,filled", fillcolor="{fill}", color="{stroke}", '
                f'fontcolor="{color}", tooltip={_dot_string(states[rid])}'
            )
        lines.append(f"    {_dot_string(rid)} [{attrs}];")
    for c in flow.connections:
        label = _dot_string(_edge_text(c))
        lines.append(
            f"    {_dot_string(c.source_id)} -> {_dot_string(c.target_id)} [label={label}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"
