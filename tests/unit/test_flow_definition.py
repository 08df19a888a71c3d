"""Building a flow: routines, ids, connections, and what execute checks first."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from routilux import Connection, DefinitionError, ErrorHandler, ErrorStrategy, Flow, Routine


class DataSource(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("output")
        self.define_event("error")

    def send(self, **kwargs: Any) -> None:
        self.emit("output", **kwargs)


class HTTPFetcher(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=lambda **kw: None)
        self.define_slot("control", handler=lambda **kw: None)


class NotInitialised(Routine):
    def __init__(self) -> None:  # Forgets super().__init__().
        pass


class Picky(Routine):
    """Refuses to run until it is configured."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=lambda: None)

    def check_definition(self) -> None:
        if self.get_config("mode") is None:
            raise DefinitionError("set the 'mode' config first")


def two_routine_flow() -> Flow:
    flow = Flow()
    flow.add_routine(DataSource(), "source")
    flow.add_routine(HTTPFetcher(), "fetcher")
    return flow


# -- the Flow object -------------------------------------------------------------------


def test_flow_id_defaults_to_a_uuid4_string() -> None:
    flow = Flow()
    assert uuid.UUID(flow.flow_id).version == 4
    assert Flow().flow_id != flow.flow_id


def test_flow_id_is_kept_and_given_to_its_jobs() -> None:
    flow = Flow(flow_id="my_flow")
    flow.add_routine(DataSource(), "source")
    assert flow.flow_id == "my_flow"
    assert flow.execute("source").flow_id == "my_flow"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"execution_strategy": "parallel"}, "execution_strategy"),
        ({"max_workers": 0}, "max_workers"),
        ({"max_workers": True}, "max_workers"),
        ({"max_deliveries": 0}, "max_deliveries"),
        ({"retain_jobs": 0}, "retain_jobs"),
        ({"execution_timeout": 0}, "timeout"),
        ({"execution_timeout": -1.0}, "timeout"),
        ({"execution_timeout": float("nan")}, "timeout"),
        (
            {"store": "sqlite:///jobs.db"},
            r"Flow store must be a job store .* SqliteStore\.from_url",
        ),
        ({"store": object()}, "Flow store must be a job store"),
        ({"clock": "fake"}, "Flow clock must be a clock .* no monotonic, sleep, wait"),
    ],
)
def test_flow_refuses_invalid_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(DefinitionError, match=match):
        Flow(**kwargs)


def test_execute_refuses_a_store_argument_that_is_not_a_store() -> None:
    flow = two_routine_flow()
    with pytest.raises(DefinitionError, match="The store argument must be a job store"):
        flow.execute("source", store="jobs.db")  # type: ignore[arg-type]


def test_flow_error_handler_is_set_and_read() -> None:
    flow = Flow()
    assert flow.get_error_handler() is None
    handler = ErrorHandler(strategy=ErrorStrategy.CONTINUE)
    flow.set_error_handler(handler)
    assert flow.get_error_handler() is handler
    assert flow.error_handler is handler


def test_flow_set_error_handler_refuses_other_objects() -> None:
    with pytest.raises(DefinitionError, match="expects an ErrorHandler"):
        Flow().set_error_handler(ErrorStrategy.CONTINUE)  # type: ignore[arg-type]


# -- add_routine -----------------------------------------------------------------------


def test_add_routine_returns_the_given_id_and_registers_the_routine() -> None:
    flow = Flow()
    routine = DataSource()
    assert flow.add_routine(routine, "src") == "src"
    assert flow.routines == {"src": routine}


def test_default_ids_are_snake_case_class_names_numbered_when_taken() -> None:
    flow = Flow()
    ids = [flow.add_routine(DataSource()) for _ in range(3)]
    assert ids == ["data_source", "data_source_2", "data_source_3"]


def test_default_id_splits_acronyms() -> None:
    assert Flow().add_routine(HTTPFetcher()) == "http_fetcher"


def test_default_id_skips_an_explicitly_taken_name() -> None:
    flow = Flow()
    flow.add_routine(DataSource(), "data_source")
    assert flow.add_routine(DataSource()) == "data_source_2"


def test_duplicate_routine_id_raises() -> None:
    flow = Flow()
    flow.add_routine(DataSource(), "source")
    with pytest.raises(DefinitionError, match="already has a routine with id 'source'"):
        flow.add_routine(DataSource(), "source")


def test_adding_one_routine_object_twice_raises() -> None:
    flow = Flow()
    routine = DataSource()
    flow.add_routine(routine, "first")
    with pytest.raises(DefinitionError, match="already in the flow as 'first'"):
        flow.add_routine(routine, "second")
    assert list(flow.routines) == ["first"]


@pytest.mark.parametrize("routine_id", ["", 5])
def test_routine_id_must_be_a_non_empty_string(routine_id: Any) -> None:
    with pytest.raises(DefinitionError, match="non-empty string"):
        Flow().add_routine(DataSource(), routine_id)


def test_add_routine_refuses_a_non_routine() -> None:
    with pytest.raises(DefinitionError, match="expects a Routine"):
        Flow().add_routine(object())  # type: ignore[arg-type]


def test_add_routine_refuses_a_routine_that_skipped_super_init() -> None:
    with pytest.raises(DefinitionError, match=r"super\(\).__init__\(\)"):
        Flow().add_routine(NotInitialised())


# -- connect ---------------------------------------------------------------------------


def test_connect_returns_the_connection_and_keeps_connection_order() -> None:
    flow = two_routine_flow()
    first = flow.connect("source", "output", "fetcher", "input")
    second = flow.connect("source", "error", "fetcher", "control", {"a": "b"})
    assert isinstance(first, Connection)
    assert (first.source_id, first.event, first.target_id, first.slot) == (
        "source",
        "output",
        "fetcher",
        "input",
    )
    assert first.param_mapping is None
    assert dict(second.param_mapping or {}) == {"a": "b"}
    assert flow.connections == [first, second]


def test_connect_unknown_source_names_it_and_lists_the_routines() -> None:
    flow = two_routine_flow()
    with pytest.raises(
        DefinitionError, match="no source routine 'nope'; routines: 'source', 'fetcher'"
    ):
        flow.connect("nope", "output", "fetcher", "input")


def test_connect_unknown_target_names_it_and_lists_the_routines() -> None:
    flow = two_routine_flow()
    with pytest.raises(
        DefinitionError, match="no target routine 'nope'; routines: 'source', 'fetcher'"
    ):
        flow.connect("source", "output", "nope", "input")


def test_connect_unknown_event_names_it_and_lists_the_events() -> None:
    flow = two_routine_flow()
    with pytest.raises(
        DefinitionError, match="'source' has no event 'out'; defined events: 'output', 'error'"
    ):
        flow.connect("source", "out", "fetcher", "input")


def test_connect_unknown_slot_names_it_and_lists_the_slots() -> None:
    flow = two_routine_flow()
    with pytest.raises(
        DefinitionError, match="'fetcher' has no slot 'inptu'; defined slots: 'input', 'control'"
    ):
        flow.connect("source", "output", "fetcher", "inptu")


@pytest.mark.parametrize(
    ("source", "event", "target", "slot", "named"),
    [
        ("source", "out", "nope", "input", ["no event 'out'", "no target routine 'nope'"]),
        ("nope", "output", "fetcher", "in", ["no source routine 'nope'", "no slot 'in'"]),
        ("x", "output", "y", "input", ["no source routine 'x'", "no target routine 'y'"]),
        ("source", "out", "fetcher", "in", ["no event 'out'", "no slot 'in'"]),
    ],
)
def test_connect_names_every_missing_name_at_once(
    source: str, event: str, target: str, slot: str, named: list[str]
) -> None:
    flow = two_routine_flow()
    with pytest.raises(DefinitionError) as caught:
        flow.connect(source, event, target, slot)
    message = str(caught.value)
    positions = [message.index(part) for part in named]
    assert positions == sorted(positions), message


def test_a_failed_connect_adds_no_connection() -> None:
    flow = two_routine_flow()
    with pytest.raises(DefinitionError):
        flow.connect("source", "output", "fetcher", "inptu")
    assert flow.connections == []


def test_duplicate_connection_raises() -> None:
    flow = two_routine_flow()
    flow.connect("source", "output", "fetcher", "input")
    with pytest.raises(DefinitionError, match="already has the connection"):
        flow.connect("source", "output", "fetcher", "input")


def test_the_same_ends_with_another_param_mapping_are_a_duplicate_too() -> None:
    flow = two_routine_flow()
    flow.connect("source", "output", "fetcher", "input")
    with pytest.raises(DefinitionError, match="already has the connection"):
        flow.connect("source", "output", "fetcher", "input", param_mapping={"url": "link"})
    assert len(flow.connections) == 1


def test_param_mapping_must_map_strings_to_strings() -> None:
    flow = two_routine_flow()
    with pytest.raises(DefinitionError, match=r"str -> str"):
        flow.connect("source", "output", "fetcher", "input", {"a": 1})  # type: ignore[dict-item]


def test_param_mapping_must_not_map_two_keys_to_one_name() -> None:
    flow = two_routine_flow()
    with pytest.raises(DefinitionError, match="maps two keys to one name"):
        flow.connect("source", "output", "fetcher", "input", {"a": "x", "b": "x"})


# -- what execute checks ---------------------------------------------------------------


def test_execute_unknown_entry_id_raises_listing_the_routines() -> None:
    flow = two_routine_flow()
    with pytest.raises(DefinitionError, match="no routine 'ghost'; routines: 'source', 'fetcher'"):
        flow.execute("ghost")


def test_execute_entry_without_trigger_slot_raises_listing_its_slots() -> None:
    flow = two_routine_flow()
    with pytest.raises(
        DefinitionError, match="no slot 'trigger'; defined slots: 'input', 'control'"
    ):
        flow.execute("fetcher")


@pytest.mark.parametrize("params", [[("a", 1)], "a=1", 5, {1: "a"}])
def test_execute_refuses_entry_params_that_are_not_a_mapping_with_string_keys(params: Any) -> None:
    flow = two_routine_flow()
    with pytest.raises(DefinitionError, match="entry_params"):
        flow.execute("source", entry_params=params)


@pytest.mark.parametrize("timeout", [0, -5, "10"])
def test_execute_refuses_an_invalid_timeout(timeout: Any) -> None:
    flow = two_routine_flow()
    with pytest.raises(DefinitionError, match="timeout"):
        flow.execute("source", timeout=timeout)


def test_a_definition_error_at_execute_starts_no_job() -> None:
    flow = two_routine_flow()
    with pytest.raises(DefinitionError):
        flow.execute("ghost")
    assert flow.get_all_executions() == []


def test_execute_runs_check_definition_and_names_the_routine() -> None:
    flow = Flow()
    picky = Picky()
    flow.add_routine(picky, "picky")
    with pytest.raises(DefinitionError, match="'picky' is not ready to run: set the 'mode'"):
        flow.execute("picky")
    picky.set_config(mode="fast")
    assert flow.execute("picky").status == "completed"


def test_routines_added_after_an_execute_are_used_by_the_next() -> None:
    flow = Flow()
    flow.add_routine(DataSource(), "source")
    flow.execute("source")
    received: list[dict[str, Any]] = []

    class Late(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("input", handler=lambda **kw: received.append(kw))

    flow.add_routine(Late(), "late")
    flow.connect("source", "output", "late", "input")
    flow.execute("source", entry_params={"v": 1})
    assert received == [{"v": 1}]


# -- remembered jobs -------------------------------------------------------------------


def test_get_execution_returns_the_job_by_id() -> None:
    flow = two_routine_flow()
    job = flow.execute("source")
    assert flow.get_execution(job.job_id) is job
    assert flow.get_execution("unknown") is None


def test_get_all_executions_lists_jobs_oldest_first() -> None:
    flow = two_routine_flow()
    jobs = [flow.execute("source") for _ in range(3)]
    assert flow.get_all_executions() == jobs


def test_only_the_last_retain_jobs_jobs_are_remembered() -> None:
    flow = Flow(retain_jobs=2)
    flow.add_routine(DataSource(), "source")
    first, second, third = (flow.execute("source") for _ in range(3))
    assert flow.get_all_executions() == [second, third]
    assert flow.get_execution(first.job_id) is None
    assert flow.get_execution(third.job_id) is third


def test_max_workers_has_an_upper_bound() -> None:
    assert Flow(max_workers=Flow.MAX_WORKERS).max_workers == 1024

    with pytest.raises(DefinitionError, match=r"max_workers must be at most 1024, not 1025: "):
        Flow(max_workers=Flow.MAX_WORKERS + 1)


def test_max_workers_too_large_to_show_is_refused_without_showing_it() -> None:
    with pytest.raises(
        DefinitionError, match=r"at most 1024, not <an integer of about 5000 digits>"
    ):
        Flow(max_workers=10**5000)


def test_duplicates_are_refused_even_after_the_public_collections_were_changed_by_hand() -> None:
    flow = Flow()
    source, fetcher = DataSource(), HTTPFetcher()
    flow.add_routine(source, "source")
    flow.routines["fetcher"] = fetcher  # Added by hand, not through add_routine.
    flow.connections.append(Connection("source", "output", "fetcher", "input"))

    with pytest.raises(DefinitionError, match="already in the flow as 'fetcher'"):
        flow.add_routine(fetcher, "again")
    with pytest.raises(DefinitionError, match="already has the connection"):
        flow.connect("source", "output", "fetcher", "input")

    flow.connections = []
    flow.connect("source", "output", "fetcher", "input")
    assert len(flow.connections) == 1


def test_a_duplicate_is_refused_after_connections_were_edited_by_hand_to_the_same_length() -> None:
    class Two(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", handler=lambda **_: None)
            self.define_event("out", ["x"])
            self.define_event("other", ["x"])

    class Take(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("input", handler=lambda **_: None)

    flow = Flow()
    flow.add_routine(Two(), "a")
    flow.add_routine(Take(), "b")
    flow.connect("a", "other", "b", "input")
    kept = flow.connections.pop()
    flow.connect("a", "out", "b", "input")
    flow.connections[0] = kept  # By hand: same length as before.

    with pytest.raises(DefinitionError, match=r"already has the connection 'a\.other -> b\.input'"):
        flow.connect("a", "other", "b", "input")


# -- connect's published keyword names, and disconnect ------------------------------------


class Counter(Routine):
    """Counts the messages its ``input`` slot receives."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.define_slot("input", handler=self.take)

    def take(self, **message: Any) -> None:
        self.count += 1


def counted_flow() -> tuple[Flow, Counter]:
    flow = Flow()
    flow.add_routine(DataSource(), "source")
    counter = Counter()
    flow.add_routine(counter, "counter")
    return flow, counter


def test_connect_accepts_the_published_keyword_names() -> None:
    flow, counter = counted_flow()
    connection = flow.connect(
        source_routine_id="source",
        source_event="output",
        target_routine_id="counter",
        target_slot="input",
        param_mapping={"a": "b"},
    )
    assert (connection.source_id, connection.event, connection.target_id, connection.slot) == (
        "source",
        "output",
        "counter",
        "input",
    )
    flow.execute("source", {"a": 1})
    assert counter.count == 1


def test_connect_refuses_an_end_given_under_both_names() -> None:
    flow, _ = counted_flow()
    with pytest.raises(DefinitionError, match="both source_id='source' and source_routine_id"):
        flow.connect("source", "output", "counter", "input", source_routine_id="source")
    assert flow.connections == []


def test_connect_refuses_a_missing_end() -> None:
    flow, _ = counted_flow()
    with pytest.raises(DefinitionError, match=r"connect needs slot \(or target_slot\)"):
        flow.connect("source", "output", "counter")


def test_disconnect_by_ends_stops_later_jobs_delivering() -> None:
    flow, counter = counted_flow()
    flow.connect("source", "output", "counter", "input")
    flow.execute("source")
    removed = flow.disconnect("source", "output", "counter", "input")
    flow.execute("source")
    assert counter.count == 1
    assert flow.connections == []
    assert removed.target_id == "counter"


def test_disconnect_during_a_job_leaves_that_job_its_connections() -> None:
    flow, counter = counted_flow()
    flow.connect("source", "output", "counter", "input")

    class Disconnecting(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", handler=self.go)
            self.define_event("output", ["value"])

        def go(self) -> None:
            flow.disconnect("source2", "output", "counter", "input")
            self.emit("output", value=1)

    flow.add_routine(Disconnecting(), "source2")
    flow.connect("source2", "output", "counter", "input")

    job = flow.execute("source2")  # Its plan was made before the disconnect.
    assert job.status == "completed"
    assert counter.count == 1
    flow.execute("source2")  # A later job's plan has no such connection.
    assert counter.count == 1
    assert [(c.source_id, c.target_id) for c in flow.connections] == [("source", "counter")]


def test_disconnect_by_connection_and_by_published_names() -> None:
    flow, counter = counted_flow()
    connection = flow.connect("source", "output", "counter", "input")
    flow.disconnect(connection)
    flow.connect("source", "output", "counter", "input")
    flow.disconnect(
        source_routine_id="source",
        source_event="output",
        target_routine_id="counter",
        target_slot="input",
    )
    flow.execute("source")
    assert counter.count == 0


def test_disconnect_then_connect_again_is_allowed() -> None:
    flow, counter = counted_flow()
    flow.connect("source", "output", "counter", "input")
    flow.disconnect("source", "output", "counter", "input")
    flow.connect("source", "output", "counter", "input")
    flow.execute("source")
    assert counter.count == 1


def test_disconnect_of_an_unknown_connection_is_refused() -> None:
    flow, _ = counted_flow()
    with pytest.raises(DefinitionError, match=r"no connection source\.output -> counter\.input"):
        flow.disconnect("source", "output", "counter", "input")


def test_disconnect_refuses_a_connection_with_ends_too() -> None:
    flow, _ = counted_flow()
    connection = flow.connect("source", "output", "counter", "input")
    with pytest.raises(DefinitionError, match="a Connection alone"):
        flow.disconnect(connection, "output")


# -- the flow's error policy as an attribute, and the strategy ------------------------------


def test_error_handler_is_assignable() -> None:
    flow = Flow()
    policy = ErrorHandler(strategy=ErrorStrategy.CONTINUE)
    flow.error_handler = policy
    assert flow.get_error_handler() is policy
    flow.error_handler = None
    assert flow.error_handler is None


def test_assigning_an_error_handler_that_is_not_one_is_refused() -> None:
    flow = Flow()
    with pytest.raises(DefinitionError, match="expects an ErrorHandler or None, not str"):
        flow.error_handler = "continue"  # type: ignore[assignment]


def test_set_execution_strategy_sets_strategy_and_workers() -> None:
    flow = Flow(max_workers=4)
    flow.set_execution_strategy("concurrent", 8)
    assert (flow.execution_strategy, flow.max_workers) == ("concurrent", 8)
    flow.set_execution_strategy("sequential")
    assert (flow.execution_strategy, flow.max_workers) == ("sequential", 8)


@pytest.mark.parametrize(
    ("strategy", "workers", "message"),
    [
        ("parallel", None, "Unknown execution_strategy 'parallel'"),
        ("concurrent", 0, "max_workers must be a positive integer"),
        ("concurrent", 5000, "max_workers must be at most 1024"),
    ],
)
def test_set_execution_strategy_refuses_bad_values(
    strategy: str, workers: int | None, message: str
) -> None:
    flow = Flow()
    with pytest.raises(DefinitionError, match=message):
        flow.set_execution_strategy(strategy, workers)
    assert (flow.execution_strategy, flow.max_workers) == ("sequential", 5)
