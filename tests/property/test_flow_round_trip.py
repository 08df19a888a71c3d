"""Random flows: serialize and deserialize round-trip to the same document, and run the same."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # Documents name tests.fixtures... by import path.
    sys.path.insert(0, _ROOT)

from tests.fixtures import config_refs as cr  # noqa: E402
from tests.fixtures import flow_routines as fx  # noqa: E402

from routilux import ErrorHandler, ErrorStrategy, Flow, JobState, Routine  # noqa: E402
from routilux.builtin_routines import ConditionalRouter  # noqa: E402
from routilux.testing import FakeClock  # noqa: E402

NAMES = st.text("abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=8)
IDS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=10)
# Functions and classes, written as references {"$t": "ref", "v": "module:QualName"}.
REFERENCES = st.sampled_from(
    [
        *(cr.double, cr.add_one, fx.is_even, cr.Settings, cr.Settings.Inner, fx.Step),
        *(cr.RetryableError, ValueError, ConnectionError, fx.Outer.InnerError),
    ]
)
HASHABLE = st.one_of(st.integers(-50, 50), st.text(max_size=5), REFERENCES)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.binary(max_size=6),
    REFERENCES,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.sets(HASHABLE, max_size=5),
        st.frozensets(HASHABLE, max_size=5),
        st.dictionaries(st.text(max_size=5), inner, max_size=4),
        st.dictionaries(st.integers(-9, 9), inner, max_size=3),
    ),
    max_leaves=12,
)
EXCEPTIONS = st.lists(
    st.sampled_from([Exception, ValueError, KeyError, fx.FixtureError, fx.Outer.InnerError]),
    min_size=1,
    max_size=3,
    unique=True,
).map(tuple)
EXPRESSIONS = st.sampled_from(
    [
        "data.get('value', 0) > 3",
        "data.get('tag') == 'step'",
        "len(data) >= 2",
        "config.get('route_priority') == 'all_matches'",
        "True",
    ]
)
MAPPINGS = st.sampled_from(
    [
        None,
        {"value": "amount"},
        {"value": "v", "tag": "t"},
        {"tag": "value", "value": "tag"},
        {"data": "payload"},
    ]
)


@st.composite
def error_handlers(draw: st.DrawFn) -> ErrorHandler | None:
    if draw(st.booleans()):
        return None
    return ErrorHandler(
        strategy=draw(st.sampled_from(list(ErrorStrategy))),
        max_retries=draw(st.integers(0, 2)),
        retry_delay=draw(st.sampled_from([0, 0.5, 1.0, 2])),
        retry_backoff=draw(st.sampled_from([1, 1.5, 2.0])),
        retryable_exceptions=draw(EXCEPTIONS),
        is_critical=draw(st.booleans()),
    )


def conditions() -> st.SearchStrategy[Any]:
    return st.one_of(
        EXPRESSIONS,
        st.dictionaries(
            st.sampled_from(["tag", "value"]),
            st.one_of(st.text(max_size=4), st.integers(0, 9)),
            max_size=2,
        ),
        st.just(fx.is_even),
    )


@st.composite
def routers(draw: st.DrawFn) -> Routine:
    router = ConditionalRouter()
    free = NAMES.filter(lambda n: n not in router.events)  # Not its own "output" event.
    names = draw(st.lists(free, min_size=1, max_size=3, unique=True))
    default = draw(st.one_of(st.none(), free.filter(lambda n: n not in names)))
    router.set_config(
        routes=[(name, draw(conditions())) for name in names],
        default_route=default,
        route_priority=draw(st.sampled_from(["first_match", "all_matches"])),
    )
    for name in [*names, *([default] if default else [])]:
        router.define_event(name, ["data"])
    return router


@st.composite
def steps(draw: st.DrawFn) -> Routine:
    step = fx.Step()
    fail_on = draw(st.sampled_from([None, 0, 1, 2, 3, 4, 5, 6]))
    step.set_config(offset=draw(st.integers(-5, 5)), fail_on=fail_on)
    step.set_config(extra=draw(VALUES))
    if draw(st.booleans()):
        merge = draw(st.sampled_from(["override", "append", fx.keep_larger]))
        step.define_slot("more", handler=step.other, merge_strategy=merge)
    return step


@st.composite
def sources(draw: st.DrawFn) -> Routine:
    source = fx.Source()
    count = draw(st.integers(1, 3))
    source.set_config(count=count, tag=draw(st.text(max_size=4)), extra=draw(VALUES))
    return source


def any_routine() -> st.SearchStrategy[Routine]:
    simple = st.sampled_from([fx.Gather, fx.Appender]).map(lambda cls: cls())
    return st.one_of(sources(), steps(), routers(), simple)


@st.composite
def flows(draw: st.DrawFn, *, executable: bool = False) -> Flow:
    """A random DAG flow; ``executable`` flows start at a Source named ``entry``."""
    flow = Flow(
        flow_id=draw(IDS),
        execution_strategy="sequential"
        if executable
        else draw(st.sampled_from(["sequential", "concurrent"])),
        max_workers=draw(st.integers(1, 8)),
        execution_timeout=None if executable else draw(st.one_of(st.none(), st.floats(0.5, 100))),
        record_history=executable or draw(st.booleans()),
        retain_jobs=draw(st.integers(1, 50)),
        clock=FakeClock(),
    )
    flow.set_error_handler(draw(error_handlers()))
    ids = draw(st.lists(IDS, min_size=1, max_size=6, unique=True))
    for index, routine_id in enumerate(ids):
        routine = draw(sources()) if index == 0 and executable else draw(any_routine())
        routine.set_error_handler(draw(error_handlers()))
        if not executable:
            routine.set_timeout(draw(st.one_of(st.none(), st.floats(0.1, 60))))
            routine.set_max_concurrency(draw(st.one_of(st.none(), st.integers(1, 4))))
        flow.add_routine(routine, "entry" if index == 0 and executable else routine_id)
    _connect(draw, flow)
    return flow


def _connect(draw: st.DrawFn, flow: Flow) -> None:
    """Connect each routine from an earlier one (so all are reachable), plus a few more edges."""
    ordered = list(flow.routines)
    pairs = [(draw(st.integers(0, j - 1)), j) for j in range(1, len(ordered))]
    if pairs:
        pairs += draw(st.lists(st.sampled_from(pairs), max_size=4))
    for i, j in pairs:
        source_id, target_id = ordered[i], ordered[j]
        event = draw(st.sampled_from(list(flow.routines[source_id].events)))
        slot = draw(st.sampled_from(list(flow.routines[target_id].slots)))
        taken = {(c.source_id, c.event, c.target_id, c.slot) for c in flow.connections}
        if (source_id, event, target_id, slot) not in taken:
            flow.connect(source_id, event, target_id, slot, draw(MAPPINGS))


def outcome(job: JobState) -> tuple[Any, ...]:
    history = [(r.routine_id, r.event_name, r.data) for r in job.execution_history]
    errors = [
        (e.routine_id, e.slot, e.error_type, e.message, e.attempt, e.action) for e in job.errors
    ]
    return (str(job.status), job.error, history, errors)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flows())
def test_random_flows_round_trip_to_identical_documents(flow: Flow) -> None:
    doc = flow.serialize()
    assert Flow.deserialize(doc).serialize() == doc
    assert Flow.deserialize(json.loads(json.dumps(doc))).serialize() == doc


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flows(executable=True), st.integers(-20, 20))
def test_rebuilt_random_flows_run_the_same(flow: Flow, value: int) -> None:
    rebuilt = Flow(clock=FakeClock()).deserialize(flow.serialize())
    assert rebuilt.serialize() == flow.serialize()
    assert outcome(rebuilt.execute("entry", {"value": value})) == outcome(
        flow.execute("entry", {"value": value})
    )
