"""Arguments of the job half of a Flow (execute, start, resume) that are of the wrong kind."""

from __future__ import annotations

from typing import Any

import pytest

from routilux import DefinitionError, Flow, Routine


class Trigger(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=lambda: None)


def one_routine_flow() -> Flow:
    flow = Flow()
    flow.add_routine(Trigger(), "r")
    return flow


@pytest.mark.parametrize("entry", [["r"], 5, None, ("r",)])
@pytest.mark.parametrize("method", ["execute", "start"])
def test_an_entry_routine_id_that_is_not_a_string_is_refused(entry: Any, method: str) -> None:
    flow = one_routine_flow()
    with pytest.raises(DefinitionError, match="entry routine id must be a string"):
        getattr(flow, method)(entry)
    assert flow.get_all_executions() == []


@pytest.mark.parametrize("job", [5, None, {"job_id": "x"}])
def test_resume_refuses_what_is_not_a_job_id_or_a_job_state(job: Any) -> None:
    flow = one_routine_flow()
    with pytest.raises(DefinitionError, match="resume expects a job id string or a JobState"):
        flow.resume(job)
