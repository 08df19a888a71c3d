"""Fan-out and fan-in: one event to several processors, their results to one collector.

Each document is sent to three analysers (fan-out: one event
connected to three slots). Each analyser emits a partial result, and all of
them are connected to one collector slot (fan-in). The collector's slot
uses a callable merge strategy that groups the partial results by
document; when a document has all three, the collector emits its report.

One analyser's output key is renamed on its connection with
`param_mapping`, so the analysers need not agree on key names.

The script verifies every report against the same statistics computed
directly.

Run: python examples/fan_out_fan_in.py
"""

from typing import Any

from routilux import Flow, Routine

DOCUMENTS = {
    "intro": "Routines have slots and events. Flows connect them.",
    "jobs": "Every execution is a job. A job can be saved, loaded and inspected.",
    "errors": "Handlers fail. Policies decide: stop, continue, skip or retry.",
}
METRICS = ("words", "sentences", "longest")


class Documents(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("document", ["doc", "text"])

    def send(self, documents: dict[str, str]) -> None:
        for doc, text in documents.items():
            self.emit("document", doc=doc, text=text)


def words_of(text: str) -> list[str]:
    return [word.strip(".,:") for word in text.split()]


class Counter(Routine):
    """Counts the words or the sentences of a text and emits the count as `value`."""

    def __init__(self, metric: str) -> None:
        super().__init__()
        self.metric = metric
        self.define_slot("input", handler=self.count)
        self.define_event("result", ["doc", "metric", "value"])

    def count(self, doc: str, text: str) -> None:
        value = len(words_of(text)) if self.metric == "words" else text.count(".")
        self.emit("result", doc=doc, metric=self.metric, value=value)


class LongestWord(Routine):
    """Emits the longest word as `word`: its connection renames the key to `value`."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.find)
        self.define_event("result", ["doc", "metric", "word"])

    def find(self, doc: str, text: str) -> None:
        self.emit("result", doc=doc, metric="longest", word=max(words_of(text), key=len))


def group_by_document(old: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    """Merge strategy: {doc: {metric: value}}, plus the document just completed or None."""
    grouped = {k: dict(v) for k, v in old.get("grouped", {}).items()}
    results = grouped.setdefault(message["doc"], {})
    results[message["metric"]] = message["value"]
    complete = message["doc"] if len(results) == len(METRICS) else None
    return {"grouped": grouped, "complete": complete}


class Collector(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.input_slot = self.define_slot(
            "input", handler=self.collect, merge_strategy=group_by_document
        )
        self.define_event("report", ["doc", "stats"])

    def collect(self, grouped: dict[str, dict[str, Any]], complete: str | None) -> None:
        if complete is not None:
            self.emit("report", doc=complete, stats=grouped[complete])


class Printer(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.show)

    def show(self, doc: str, stats: dict[str, Any]) -> None:
        job = self.get_execution_context().job_state
        job.update_shared_data(doc, stats)
        print(f"  {doc:<7} {stats}")


def build_flow() -> Flow:
    flow = Flow(flow_id="fan_out_fan_in")
    flow.add_routine(Documents(), "documents")
    flow.add_routine(Collector(), "collector")
    flow.add_routine(Printer(), "printer")
    flow.add_routine(Counter("words"), "words")
    flow.add_routine(Counter("sentences"), "sentences")
    flow.add_routine(LongestWord(), "longest")
    for analyser in METRICS:
        flow.connect("documents", "document", analyser, "input")  # Fan-out.
        mapping = {"word": "value"} if analyser == "longest" else None
        flow.connect(analyser, "result", "collector", "input", param_mapping=mapping)  # Fan-in.
    flow.connect("collector", "report", "printer", "input")
    return flow


def main() -> None:
    print("Reports, in the order documents were completed:")
    job = build_flow().execute("documents", entry_params={"documents": DOCUMENTS})
    if job.status != "completed":
        raise SystemExit(f"The job ended {job.status}: {job.error}")

    for doc, text in DOCUMENTS.items():
        words = words_of(text)
        expected = {
            "words": len(words),
            "sentences": text.count("."),
            "longest": max(words, key=len),
        }
        if job.get_shared_data(doc) != expected:
            raise SystemExit(f"Report of {doc!r} is {job.get_shared_data(doc)}, not {expected}.")

    deliveries = {rid: stats.deliveries for rid, stats in job.all_routine_stats().items()}
    expected_deliveries = len(DOCUMENTS) * len(METRICS)
    if deliveries["collector"] != expected_deliveries:
        raise SystemExit(
            f"The collector ran {deliveries['collector']} times, not {expected_deliveries}."
        )
    print(f"Deliveries per routine: {deliveries}")
    print("OK: every report matches the statistics computed directly.")


if __name__ == "__main__":
    main()
