"""Pictures of flows and jobs: ``Flow.to_mermaid`` and ``Flow.to_dot``."""

from __future__ import annotations

from routilux import ErrorHandler, ErrorStrategy, Flow, JobState, Routine


class Source(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("out", ["value"])

    def send(self, values: list[int]) -> None:
        for value in values:
            self.emit("out", value=value)


class Check(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.check)
        self.define_event("ok", ["amount"])
        self.set_error_handler(ErrorHandler(strategy=ErrorStrategy.SKIP))

    def check(self, value: int) -> None:
        if value < 0:
            raise ValueError("negative")
        self.emit("ok", amount=value)


class Sink(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.take)

    def take(self, total: int) -> None:
        pass


def small_flow() -> Flow:
    flow = Flow(flow_id="small")
    flow.add_routine(Source(), "source")
    flow.add_routine(Check(), "check")
    flow.add_routine(Sink(), "sink")
    flow.connect("source", "out", "check", "input")
    flow.connect("check", "ok", "sink", "input", {"amount": "total"})
    return flow


MERMAID = """\
flowchart LR
    r0["source<br/>Source"]
    r1["check<br/>Check"]
    r2["sink<br/>Sink"]
    r0 -->|"out → input"| r1
    r1 -->|"ok → input<br/>(amount → total)"| r2
"""

DOT = """\
digraph "small" {
    rankdir=LR;
    node [shape=box, style="rounded"];
    "source" [label="source\\nSource"];
    "check" [label="check\\nCheck"];
    "sink" [label="sink\\nSink"];
    "source" -> "check" [label="out → input"];
    "check" -> "sink" [label="ok → input\\n(amount → total)"];
}
"""


def test_mermaid_of_a_flow() -> None:
    assert small_flow().to_mermaid() == MERMAID


def test_dot_of_a_flow() -> None:
    assert small_flow().to_dot() == DOT


def test_the_same_flow_gives_the_same_text() -> None:
    assert small_flow().to_mermaid() == small_flow().to_mermaid()
    assert small_flow().to_dot() == small_flow().to_dot()


def test_mermaid_escapes_labels() -> None:
    flow = Flow(flow_id="escapes")
    flow.add_routine(Sink(), 'a"b<c>&d|e#f`g\nh')
    text = flow.to_mermaid()
    assert text.splitlines()[1] == (
        '    r0["a#quot;b#lt;c#gt;#amp;d#124;e#35;f#96;g<br/>h<br/>Sink"]'
    )


def test_mermaid_node_ids_do_not_depend_on_routine_ids() -> None:
    flow = Flow(flow_id="ids")
    flow.add_routine(Source(), "end")
    flow.add_routine(Sink(), "graph TD; click")
    flow.connect("end", "out", "graph TD; click", "input")
    lines = flow.to_mermaid().splitlines()
    assert lines[1].startswith('    r0["end<br/>')
    assert lines[2].startswith('    r1["graph TD; click<br/>')
    assert lines[3].startswith("    r0 -->|")
    assert lines[3].endswith("| r1")


def test_dot_escapes_quotes_backslashes_and_newlines() -> None:
    flow = Flow(flow_id='say "hi"')
    flow.add_routine(Sink(), 'a"b\\c\nd')
    lines = flow.to_dot().splitlines()
    assert lines[0] == 'digraph "say \\"hi\\"" {'
    assert lines[3] == '    "a\\"b\\\\c\\nd" [label="a\\"b\\\\c\\nd\\nSink"];'


def ran_job(flow: Flow) -> JobState:
    job = flow.execute("source", {"values": [1, -1]})
    assert job.status == "completed"
    return job


def test_a_job_colours_each_routine_by_what_it_did() -> None:
    flow = small_flow()
    job = flow.execute("source", {"values": [-1]})  # The sink receives nothing.
    lines = flow.to_mermaid(job).splitlines()
    assert lines[-6:] == [
        "    classDef completed fill:#d4edda,stroke:#28a745,color:#155724",
        "    class r0 completed",
        "    classDef skipped fill:#fff3cd,stroke:#e0a800,color:#856404",
        "    class r1 skipped",
        "    classDef not_run fill:#eeeeee,stroke:#999999,color:#666666",
        "    class r2 not_run",
    ]


def test_a_failed_routine_is_coloured_failed() -> None:
    flow = small_flow()
    flow.routines["check"].set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    job = ran_job(flow)
    text = flow.to_mermaid(job)
    assert "    classDef failed fill:#f8d7da,stroke:#dc3545,color:#721c24\n" in text
    assert "    class r1 failed\n" in text


def test_the_colours_are_the_routine_stats_not_what_handlers_stored() -> None:
    flow = small_flow()
    job = flow.execute("source", {"values": [-1]})
    job.update_routine_state("sink", {"status": "failed"})
    job.update_routine_state("check", {"status": "completed"})
    text = flow.to_mermaid(job)
    assert "    class r1 skipped\n" in text
    assert "    class r2 not_run\n" in text


def test_dot_colours_routines_of_a_job() -> None:
    flow = small_flow()
    job = ran_job(flow)
    lines = flow.to_dot(job).splitlines()
    assert lines[3] == (
        '    "source" [label="source\\nSource", style="rounded,filled", fillcolor="#d4edda", '
        'color="#28a745", fontcolor="#155724", tooltip="completed"];'
    )
    assert 'fillcolor="#fff3cd"' in lines[4]
    assert 'tooltip="skipped"' in lines[4]


def test_a_picture_without_a_job_has_no_colours() -> None:
    assert "classDef" not in small_flow().to_mermaid()
    assert "fillcolor" not in small_flow().to_dot()
