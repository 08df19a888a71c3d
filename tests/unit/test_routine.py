"""Routine definition, config, stats and error-policy setters."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from routilux import (
    DefinitionError,
    ErrorHandler,
    ErrorStrategy,
    Event,
    ExecutionContext,
    ExecutionError,
    Flow,
    JobState,
    JobStatus,
    Routine,
    Slot,
)


class Blank(Routine):
    """A routine with nothing defined: each test adds what it needs."""

    def __init__(self) -> None:
        super().__init__()


def noop(**kwargs: object) -> None:
    """A handler that accepts anything."""


# -- slots and events ------------------------------------------------------------------


def test_define_slot_returns_the_slot_registered_under_its_name() -> None:
    routine = Blank()
    slot = routine.define_slot("input", handler=noop)
    assert isinstance(slot, Slot)
    assert routine.get_slot("input") is slot
    assert routine.slots["input"] is slot
    assert slot.name == "input"
    assert slot.routine is routine
    assert slot.merge_strategy == "override"


def test_define_event_returns_the_event_with_its_params() -> None:
    routine = Blank()
    event = routine.define_event("output", ["data", "source"])
    assert isinstance(event, Event)
    assert routine.get_event("output") is event
    assert routine.events["output"] is event
    assert event.params == ("data", "source")


def test_duplicate_slot_name_raises() -> None:
    routine = Blank()
    routine.define_slot("input", handler=noop)
    with pytest.raises(DefinitionError, match="already has a slot named 'input'"):
        routine.define_slot("input", handler=noop)


def test_duplicate_event_name_raises() -> None:
    routine = Blank()
    routine.define_event("output")
    with pytest.raises(DefinitionError, match=r"already has an? event named 'output'"):
        routine.define_event("output")


@pytest.mark.parametrize("name", ["", None, 3])
def test_slot_name_must_be_a_non_empty_string(name: object) -> None:
    with pytest.raises(DefinitionError, match="non-empty string"):
        Blank().define_slot(name, handler=noop)  # type: ignore[arg-type]


def test_event_params_must_be_strings() -> None:
    with pytest.raises(DefinitionError, match="must be strings"):
        Blank().define_event("output", ["ok", 3])  # type: ignore[list-item]


@pytest.mark.parametrize("params", [5, "value", b"value", 1.5])
def test_event_params_must_be_a_list_of_names(params: object) -> None:
    with pytest.raises(
        DefinitionError, match="params of event 'e' of Routine Blank must be a list"
    ):
        Blank().define_event("e", params)  # type: ignore[arg-type]


class NoSuper(Routine):
    """Forgets to call ``super().__init__()`` before defining a slot."""

    def __init__(self) -> None:
        self.define_slot("trigger")


class NoSuperEvent(Routine):
    def __init__(self) -> None:
        self.define_event("out")


class NoSuperConfig(Routine):
    def __init__(self) -> None:
        self.set_config(a=1)


@pytest.mark.parametrize(
    ("cls", "call"),
    [(NoSuper, "define_slot"), (NoSuperEvent, "define_event"), (NoSuperConfig, "set_config")],
)
def test_a_subclass_that_skips_super_init_is_told_to_call_it(cls: type[Routine], call: str) -> None:
    with pytest.raises(DefinitionError, match=rf"{call} was called before Routine.__init__") as e:
        cls()
    assert f"{cls.__name__}.__init__ must call super().__init__()" in str(e.value)


def test_handler_must_be_callable() -> None:
    with pytest.raises(DefinitionError, match="must be callable"):
        Blank().define_slot("input", handler="not a function")  # type: ignore[arg-type]


def test_get_slot_of_an_unknown_name_returns_none() -> None:
    routine = Blank()
    routine.define_slot("alpha", handler=noop)
    assert routine.get_slot("gamma") is None


def test_get_event_of_an_unknown_name_returns_none() -> None:
    routine = Blank()
    routine.define_event("high")
    assert routine.get_event("hgih") is None


def test_describe_missing_lists_the_defined_slots_and_events() -> None:
    routine = Blank()
    routine.define_slot("alpha", handler=noop)
    routine.define_slot("beta", handler=noop)
    routine.define_event("high")
    assert routine.describe_missing("slot", "gamma").endswith(
        "no slot 'gamma'; defined slots: 'alpha', 'beta'."
    )
    assert routine.describe_missing("event", "hgih").endswith(
        "no event 'hgih'; defined events: 'high'."
    )


def test_slots_and_events_mappings_are_read_only() -> None:
    routine = Blank()
    with pytest.raises(TypeError):
        routine.slots["x"] = None  # type: ignore[index]
    with pytest.raises(TypeError):
        routine.events["x"] = None  # type: ignore[index]


# -- emitting outside a job ------------------------------------------------------------


def test_emit_outside_a_job_raises_execution_error() -> None:
    routine = Blank()
    routine.define_event("output")
    with pytest.raises(ExecutionError, match="outside of a job"):
        routine.emit("output", value=1)


def test_event_emit_outside_a_job_raises_execution_error() -> None:
    routine = Blank()
    event = routine.define_event("output")
    with pytest.raises(ExecutionError, match="outside of a job"):
        event.emit(value=1)


def test_emit_outside_a_job_points_to_execute_and_receive() -> None:
    routine = Blank()
    routine.define_event("output")
    with pytest.raises(ExecutionError, match=r"flow\.execute\(\.\.\.\).*slot\.receive\(\.\.\.\)"):
        routine.emit("output", value=1)


def test_get_execution_context_outside_a_job_is_none() -> None:
    assert Blank().get_execution_context() is None


# -- emit's flow and job_state -----------------------------------------------------------


class Emitter(Routine):
    """Emits on ``out`` what ``make_call`` returns, as (positional args, keyword args)."""

    def __init__(
        self, make_call: Callable[[ExecutionContext], tuple[tuple[Any, ...], dict[str, Any]]]
    ) -> None:
        super().__init__()
        self.make_call = make_call
        self.define_slot("trigger", handler=self.go)
        self.define_event("out")
        self.via_event = False

    def go(self) -> None:
        context = self.get_execution_context()
        assert context is not None
        args, kwargs = self.make_call(context)
        if self.via_event:
            self.events["out"].emit(*args, **kwargs)
        else:
            self.emit("out", *args, **kwargs)


def emitted(
    make_call: Callable[[ExecutionContext], tuple[tuple[Any, ...], dict[str, Any]]],
    *,
    via_event: bool = False,
) -> JobState:
    flow = Flow(flow_id="emitting")
    routine = Emitter(make_call)
    routine.via_event = via_event
    flow.add_routine(routine, "emitter")
    return flow.execute("emitter")


@pytest.mark.parametrize("via_event", [False, True])
def test_the_running_flow_and_job_are_not_sent_as_data(via_event: bool) -> None:
    job = emitted(
        lambda c: ((c.flow,), {"value": 1, "job_state": c.job_state}), via_event=via_event
    )
    assert job.status is JobStatus.COMPLETED
    assert [r.data for r in job.execution_history] == [{"value": 1}]


def test_flow_and_job_state_set_to_none_are_not_sent_as_data() -> None:
    job = emitted(lambda c: ((), {"flow": None, "job_state": None, "value": 1}))
    assert [r.data for r in job.execution_history] == [{"value": 1}]


def test_other_values_under_flow_and_job_state_are_data() -> None:
    job = emitted(lambda c: (("not a flow",), {"job_state": "not a job"}))
    assert [r.data for r in job.execution_history] == [
        {"job_state": "not a job", "flow": "not a flow"}
    ]


def test_emitting_with_another_flow_fails_the_delivery() -> None:
    other = Flow(flow_id="other")
    job = emitted(lambda c: ((other,), {}))
    assert job.status is JobStatus.FAILED
    assert job.errors[0].error_type == "ExecutionError"
    assert "flow 'emitting' runs this job" in job.errors[0].message


def test_emitting_with_another_job_fails_the_delivery() -> None:
    job = emitted(lambda c: ((), {"job_state": JobState("emitting")}))
    assert job.status is JobStatus.FAILED
    assert "pass the running job, or none" in job.errors[0].message


# -- the routine's id, and calling it ------------------------------------------------------


def test_id_is_the_routine_id_in_its_only_flow() -> None:
    routine = Blank()
    Flow().add_routine(routine, "worker")
    flow = Flow()
    flow.add_routine(routine, "worker")
    assert routine._id == "worker"


def test_id_outside_any_flow_or_in_several_is_its_hex_id() -> None:
    routine = Blank()
    assert routine._id == hex(id(routine))
    first, second = Flow(), Flow()
    first.add_routine(routine, "a")
    second.add_routine(routine, "b")
    assert routine._id == hex(id(routine))


def test_id_is_read_only() -> None:
    with pytest.raises(AttributeError):
        Blank()._id = "x"  # type: ignore[misc]


def test_calling_a_routine_does_nothing() -> None:
    routine = Blank()
    routine.define_slot("input", handler=noop)
    assert routine(value=1) is None
    assert routine.slots["input"].data == {}


# -- config ----------------------------------------------------------------------------


def test_set_config_merges_into_the_existing_config() -> None:
    routine = Blank()
    routine.set_config(a=1, b=2)
    routine.set_config(b=3, c=4)
    assert routine.config() == {"a": 1, "b": 3, "c": 4}


def test_get_config_returns_the_default_for_a_missing_key() -> None:
    routine = Blank()
    routine.set_config(a=1)
    assert routine.get_config("a") == 1
    assert routine.get_config("missing") is None
    assert routine.get_config("missing", "fallback") == "fallback"


def test_config_returns_a_copy() -> None:
    routine = Blank()
    routine.set_config(a=1)
    copy = routine.config()
    copy["a"] = 2
    copy["b"] = 3
    assert routine.config() == {"a": 1}


class Bounded(Routine):
    """Refuses a negative ``limit`` in its config."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[dict[str, object]] = []

    def validate_config(self, config: object) -> None:
        self.seen.append(dict(config))  # type: ignore[call-overload]
        if config.get("limit", 0) < 0:  # type: ignore[attr-defined]
            raise DefinitionError("limit must not be negative")


def test_a_plain_routine_accepts_any_config_key() -> None:
    routine = Blank()
    routine.set_config(maxlength=5, anything_at_all=[1])
    assert routine.config() == {"maxlength": 5, "anything_at_all": [1]}


class Listed(Routine):
    """Lists its config keys."""

    config_keys = ("max_length", "keep")


def test_a_routine_that_lists_its_keys_refuses_others_with_a_suggestion() -> None:
    routine = Listed()
    routine.set_config(max_length=3)
    with pytest.raises(DefinitionError) as caught:
        routine.set_config(keep=1, maxlength=5)
    assert str(caught.value) == (
        "Routine Listed has no config key 'maxlength'. Did you mean 'max_length'? "
        "Its config keys are: 'max_length', 'keep'."
    )
    assert routine.config() == {"max_length": 3}


class ListedOpen(Listed):
    allow_extra_config_keys = True


def test_a_routine_that_allows_extra_keys_refuses_only_near_misses() -> None:
    routine = ListedOpen()
    routine.set_config(limit=1, keep=2)
    assert routine.config() == {"limit": 1, "keep": 2}
    with pytest.raises(DefinitionError, match=r"'keeps'\. Did you mean 'keep'"):
        routine.set_config(keeps=1)


def test_validate_config_can_refuse_and_the_old_config_stays() -> None:
    routine = Bounded()
    routine.set_config(limit=5, name="x")
    with pytest.raises(DefinitionError, match="limit must not be negative"):
        routine.set_config(limit=-1)
    assert routine.config() == {"limit": 5, "name": "x"}


def test_validate_config_receives_the_merged_config() -> None:
    routine = Bounded()
    routine.set_config(name="x")
    routine.set_config(limit=2)
    assert routine.seen[-1] == {"name": "x", "limit": 2}


# -- stats -----------------------------------------------------------------------------


def test_set_and_get_stat() -> None:
    routine = Blank()
    routine.set_stat("count", 7)
    assert routine.get_stat("count") == 7
    assert routine.get_stat("missing") is None
    assert routine.get_stat("missing", 0) == 0


def test_increment_stat_starts_from_zero_and_returns_the_new_value() -> None:
    routine = Blank()
    assert routine.increment_stat("hits") == 1
    assert routine.increment_stat("hits", 4) == 5
    assert routine.increment_stat("ratio", 0.5) == 0.5
    assert routine.stats() == {"hits": 5, "ratio": 0.5}


@pytest.mark.parametrize("by", ["z", None, True, [1]])
def test_increment_stat_refuses_a_by_that_is_not_a_number(by: object) -> None:
    routine = Blank()
    with pytest.raises(DefinitionError, match="increment_stat\\('n'\\) needs a number for by"):
        routine.increment_stat("n", by=by)  # type: ignore[arg-type]
    assert routine.stats() == {}


def test_increment_stat_refuses_a_stat_that_holds_no_number() -> None:
    routine = Blank()
    routine.set_stat("n", "text")
    with pytest.raises(DefinitionError, match="cannot add 1 to the stat 'n', which holds str"):
        routine.increment_stat("n")
    assert routine.get_stat("n") == "text"


def test_stats_returns_a_copy() -> None:
    routine = Blank()
    routine.set_stat("a", 1)
    copy = routine.stats()
    copy["a"] = 100
    assert routine.get_stat("a") == 1


def test_reset_stats_removes_every_stat() -> None:
    routine = Blank()
    routine.set_stat("a", 1)
    routine.increment_stat("b")
    routine.reset_stats()
    assert routine.stats() == {}
    assert routine.increment_stat("b") == 1


def test_increment_stat_from_many_threads_loses_no_update() -> None:
    routine = Blank()
    threads_count, per_thread = 8, 5000
    start = threading.Barrier(threads_count)

    def hammer() -> None:
        start.wait(timeout=10)
        for _ in range(per_thread):
            routine.increment_stat("n")

    threads = [threading.Thread(target=hammer) for _ in range(threads_count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert routine.get_stat("n") == threads_count * per_thread


# -- error policy setters --------------------------------------------------------------


def test_a_new_routine_has_no_error_handler() -> None:
    assert Blank().get_error_handler() is None


def test_set_error_handler_sets_and_none_clears() -> None:
    routine = Blank()
    handler = ErrorHandler(strategy=ErrorStrategy.SKIP)
    routine.set_error_handler(handler)
    assert routine.get_error_handler() is handler
    assert routine.error_handler is handler
    routine.set_error_handler(None)
    assert routine.get_error_handler() is None


def test_set_error_handler_refuses_other_objects() -> None:
    with pytest.raises(DefinitionError, match="expects an ErrorHandler"):
        Blank().set_error_handler("continue")  # type: ignore[arg-type]


def test_set_as_critical_retries_and_is_critical() -> None:
    routine = Blank()
    routine.set_as_critical(max_retries=5, retry_delay=0.25, retry_backoff=3.0)
    handler = routine.get_error_handler()
    assert handler is not None
    assert handler.strategy is ErrorStrategy.RETRY
    assert handler.is_critical is True
    assert (handler.max_retries, handler.retry_delay, handler.retry_backoff) == (5, 0.25, 3.0)


def test_set_as_critical_defaults() -> None:
    routine = Blank()
    routine.set_as_critical()
    handler = routine.get_error_handler()
    assert handler is not None
    assert (handler.max_retries, handler.retry_delay, handler.retry_backoff) == (3, 1.0, 2.0)


def test_set_as_optional_defaults_to_continue_and_is_not_critical() -> None:
    routine = Blank()
    routine.set_as_optional()
    handler = routine.get_error_handler()
    assert handler is not None
    assert handler.strategy is ErrorStrategy.CONTINUE
    assert handler.is_critical is False


def test_set_as_optional_takes_a_strategy() -> None:
    routine = Blank()
    routine.set_as_optional(ErrorStrategy.SKIP)
    handler = routine.get_error_handler()
    assert handler is not None
    assert handler.strategy is ErrorStrategy.SKIP


# -- ErrorHandler values ---------------------------------------------------------------


def test_error_handler_accepts_a_strategy_value_string() -> None:
    assert ErrorHandler(strategy="retry").strategy is ErrorStrategy.RETRY  # type: ignore[arg-type]


def test_error_handler_refuses_an_unknown_strategy() -> None:
    with pytest.raises(DefinitionError, match="strategy 'explode' is unknown"):
        ErrorHandler(strategy="explode")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_retries", -1),
        ("max_retries", 1.5),
        ("max_retries", True),
        ("retry_delay", -0.1),
        ("retry_delay", float("inf")),
        ("retry_backoff", "2"),
    ],
)
def test_error_handler_refuses_out_of_range_numbers(field: str, value: object) -> None:
    with pytest.raises(DefinitionError, match=field):
        ErrorHandler(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["no", 0, 1, None])
def test_error_handler_refuses_an_is_critical_that_is_not_a_bool(value: object) -> None:
    with pytest.raises(DefinitionError, match="is_critical must be True or False"):
        ErrorHandler(is_critical=value)  # type: ignore[arg-type]


def test_error_handler_turns_one_retryable_exception_type_into_a_tuple() -> None:
    handler = ErrorHandler(retryable_exceptions=KeyError)  # type: ignore[arg-type]
    assert handler.retryable_exceptions == (KeyError,)


def test_error_handler_refuses_non_exception_retryables() -> None:
    with pytest.raises(DefinitionError, match="retryable_exceptions"):
        ErrorHandler(retryable_exceptions=(int,))  # type: ignore[arg-type]


def test_error_handler_is_frozen() -> None:
    handler = ErrorHandler()
    with pytest.raises(AttributeError):
        handler.max_retries = 10  # type: ignore[misc]


def test_retry_delay_grows_by_the_backoff_factor() -> None:
    handler = ErrorHandler(strategy=ErrorStrategy.RETRY, retry_delay=0.5, retry_backoff=3.0)
    assert [handler.retry_delay_for(n) for n in (1, 2, 3)] == [0.5, 1.5, 4.5]


def test_error_strategy_values() -> None:
    assert [s.value for s in ErrorStrategy] == ["stop", "continue", "skip", "retry"]
    assert str(ErrorStrategy.RETRY) == "retry"
