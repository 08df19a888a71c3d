"""Built-in routines together: a refund desk that triages a batch of support tickets.

    inbox -> extract -> split -> reshape -> clean -> check --+-- valid --> triage
                |                             |              +-- invalid --> file_rejected --+
                +--> outbox.extracted         +-- error --> outbox.warning                   |
                                                                                             |
    triage --+-- escalate ----> file_escalate ----+                                          |
             +-- agent -------> file_agent -------+--> ledger <------------------------------+
             +-- auto_refund -> file_auto_refund -+      |
             +-- escalate ----> pager                    +--> outbox.ledger
                                  |                      +--> digest -> render -> clip
                                  +--> outbox.page                        |         |
                                                           outbox.report <+         +--> outbox.post

- `inbox` stands for an intake assistant (a language model) whose answer
  holds the day's refund requests as a fenced JSON block, between prose.
- `extract` (ResultExtractor) finds that JSON in the answer.
- `split` (Splitter) emits one message per ticket.
- `reshape` (Mapper) turns the nested export into a flat row, with defaults
  for the optional fields.
- `clean` (DataTransformer) strips, normalises and converts the fields; a
  step that fails (an amount of "n/a") is reported on `error` and the row
  goes on unchanged.
- `check` (DataValidator) sends each row to `valid` or, with what is wrong,
  to `invalid`.
- `triage` (ConditionalRouter) sends each valid ticket to a queue: escalate
  (urgent, or a large refund), auto_refund (small and not pressing), or the
  default, agent.
- `file_<queue>` and `file_rejected` (Mappers) reshape each outcome into a
  row of the report, stamped with its queue.
- `pager` (Batcher) pages the on-call in groups of two escalations.
- `ledger` (Aggregator) closes once every ticket of the batch is filed,
  rejected ones included.
- `digest` groups the ledger by queue; `render` (TextRenderer) writes it as
  Markdown, and `clip` (TextClipper) shortens it to fit a chat message.
- `outbox` keeps everything that comes out, in the job's shared data.

The script prints the chat message and what else came out, then checks the
figures (valid and invalid tickets, where each went, the totals per queue,
the pages, the warnings and the report) against the same rules applied
directly to the tickets in plain Python.

Run: python examples/builtins_pipeline.py [--concurrent]
"""

import argparse
import json
import re
from typing import Any

from routilux import Flow, JobState, Routine
from routilux.builtin_routines import (
    Aggregator,
    Batcher,
    ConditionalRouter,
    DataTransformer,
    DataValidator,
    Mapper,
    ResultExtractor,
    Splitter,
    TextClipper,
    TextRenderer,
)

BATCH = "2024-05-06"
TICKETS: list[dict[str, Any]] = [
    {
        "ticket": "T-1001",
        "customer": {"name": " ada lovelace ", "email": "ADA@Example.org "},
        "request": {"amount": "19.99", "priority": "Normal"},
        "channel": "Email",
    },
    {
        "ticket": "T-1002",
        "customer": {"name": "alan turing", "email": "alan@example.org"},
        "request": {"amount": "640", "priority": "high"},
        "channel": "chat",
    },
    {
        "ticket": "T-1003",
        "customer": {"name": "grace hopper ", "email": "grace@example.org"},
        "request": {"amount": "42.50", "priority": "LOW"},
        "channel": "phone",
    },
    {
        "ticket": "T-1004",
        "customer": {"name": "katherine johnson", "email": "kj@example.org"},
        "request": {"amount": "120", "priority": "urgent "},
        "channel": "email",
    },
    {
        "ticket": "T-1005",
        "customer": {"name": "edsger dijkstra", "email": "edsger@example.org"},
        "request": {"amount": "n/a", "priority": "normal"},
        "channel": "web",
    },
    {
        "ticket": "T-1006",
        "customer": {"name": "barbara liskov", "email": "barbara@example.org"},
        "request": {"amount": "75.00", "priority": "normal"},
        "channel": "email",
    },
    {
        "ticket": "T-1007",
        "customer": {"name": "   ", "email": "ghost@example.org"},
        "request": {"amount": "30", "priority": "low"},
        "channel": "web",
    },
    {
        "ticket": "T-1008",
        "customer": {"name": "donald knuth", "email": "don at example.org"},
        "request": {"amount": "15", "priority": "low"},
        "channel": "email",
    },
    {
        "ticket": "T-1009",
        "customer": {"name": "margaret hamilton", "email": "margaret@example.org"},
        "request": {"amount": "2500", "priority": "high"},
        "channel": "phone",
    },
    {
        "customer": {"name": "linus torvalds", "email": "linus@example.org"},
        "request": {"amount": "60", "priority": "normal"},
        "channel": "email",
    },
    {
        "ticket": "T-1011",
        "customer": {"name": "frances allen", "email": "fran@example.org"},
        "request": {"amount": "-12.50", "priority": "low"},
        "channel": "chat",
    },
    {
        "ticket": "T-1012",
        "customer": {"name": "john backus", "email": "john@example.org"},
        "request": {"amount": 45, "priority": "HIGH"},
        "channel": "chat",
    },
    {
        "ticket": "T-1013",
        "customer": {"name": "radia perlman", "email": "radia@example.org"},
        "request": {"amount": "9.90"},
    },
    {
        "ticket": "T-1014",
        "customer": {"name": "ken thompson", "email": "ken@example.org"},
        "request": {"amount": "310", "priority": "asap"},
        "channel": "phone",
    },
    {
        "ticket": "T-1015",
        "customer": {"name": "barbara liskov", "email": "barbara@example.org"},
        "request": {"amount": "88.00", "priority": "urgent"},
        "channel": "chat",
    },
    {
        "ticket": "T-1016",
        "customer": {"name": "sophie wilson", "email": "sophie@example.org"},
        "request": {"amount": "980.00", "priority": "low"},
        "channel": "email",
    },
]
ANSWER = (
    f"Here are the refund requests from the inbox for {BATCH}:\n\n"
    f"```json\n{json.dumps(TICKETS, indent=2)}\n```\n\n"
    "A few of them looked incomplete; I left those exactly as they were written."
)

QUEUES = ("escalate", "agent", "auto_refund")
REVIEW_LIMIT = 500  # A refund of at least this much is escalated.
AUTO_LIMIT = 50  # A low or normal request up to this much is refunded automatically.
PAGE_SIZE = 2  # Escalations per page to the on-call.
CHAT_LIMIT = 1125  # The longest chat message, in characters: the report is cut to fit.

PRIORITIES = ["low", "normal", "high", "urgent"]
CHANNELS = ["email", "chat", "phone", "web"]
ID_PATTERN = r"^T-\d{4}$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[a-z]+$"
MIN_AMOUNT, MAX_AMOUNT = 0.01, 5000


class Inbox(Routine):
    """Stands for the intake assistant: emits its answer, a text."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("answer", ["text"])

    def send(self, answer: str) -> None:
        self.emit("answer", text=answer)


class Digest(Routine):
    """Groups the closed ledger by queue, as the report the renderer writes."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.digest)
        self.define_event("report", ["data"])

    def digest(self, items: list[dict[str, Any]], count: int, reason: str) -> None:
        rows = sorted(items, key=lambda row: row["id"])  # Arrival order varies; the report not.
        by_queue = {queue: [row for row in rows if row["queue"] == queue] for queue in QUEUES}
        rejected = [row for row in rows if row["queue"] == "rejected"]
        report: dict[str, Any] = {
            "tickets received": count,
            "routed": count - len(rejected),
            "rejected": len(rejected),
            "ledger closed by": reason,
            "queue totals": [
                {
                    "queue": queue,
                    "tickets": len(queue_rows),
                    "refunds": f"{sum(row['amount'] for row in queue_rows):.2f}",
                }
                for queue, queue_rows in by_queue.items()
            ],
            "rejected tickets": [without_queue(row) for row in rejected],
        }
        for queue, queue_rows in by_queue.items():
            report[f"queue {queue}"] = [
                {**without_queue(row), "amount": f"{row['amount']:.2f}"} for row in queue_rows
            ]
        self.emit("report", data=report)


def without_queue(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key != "queue"}


class Outbox(Routine):
    """Keeps what comes out of the flow in the job's shared data, one list per slot."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("extracted", handler=self.keep_extracted)
        self.define_slot("ledger", handler=self.keep_ledger)
        self.define_slot("page", handler=self.keep_page)
        self.define_slot("warning", handler=self.keep_warning)
        self.define_slot("report", handler=self.keep_report)
        self.define_slot("post", handler=self.keep_post)

    def keep(self, key: str, value: Any) -> None:
        job = self.get_execution_context().job_state
        job.update_shared_data(key, [*job.get_shared_data(key, []), value])

    def keep_extracted(
        self,
        extracted_result: Any,
        format: str,
        metadata: dict[str, Any],
        confidence: float,
        extraction_path: list[str],
    ) -> None:
        self.keep(
            "extracted",
            {
                "result": extracted_result,
                "format": format,
                "confidence": confidence,
            },
        )

    def keep_ledger(self, items: list[dict[str, Any]], count: int, reason: str) -> None:
        self.keep("ledger", {"items": items, "count": count, "reason": reason})

    def keep_page(self, items: list[dict[str, Any]], size: int, reason: str) -> None:
        self.keep("pages", [item["id"] for item in items])

    def keep_warning(self, data: dict[str, Any], step: dict[str, Any], error: str) -> None:
        self.keep("warnings", (data.get("id"), step["field"], step["transformation"], error))

    def keep_report(self, rendered_text: str, original_type: str) -> None:
        self.keep("reports", rendered_text)

    def keep_post(self, clipped_text: str, was_clipped: bool, original_length: int) -> None:
        self.keep(
            "posts",
            {"text": clipped_text, "clipped": was_clipped, "original_length": original_length},
        )


def intake_routines() -> dict[str, Routine]:
    """The routines from the assistant's answer to the validated rows."""
    extract = ResultExtractor()
    extract.set_config(extract=["json"])
    split = Splitter()
    split.set_config(field="extracted_result")
    reshape = Mapper()
    reshape.set_config(
        mappings={
            "id": "ticket",
            "customer": "customer.name",
            "email": "customer.email",
            "priority": "request.priority",
            "amount": "request.amount",
            "channel": "channel",
        },
        defaults={"priority": "normal", "channel": "web"},
    )
    clean = DataTransformer()
    clean.set_config(
        fields={
            "customer": ["strip", "title"],
            "email": ["strip", "lower"],
            "priority": ["strip", "lower"],
            "amount": ["to_float", "round:2"],
            "channel": ["strip", "lower"],
        },
        on_error="skip",
    )
    check = DataValidator()
    check.set_config(
        rules={
            "id": {"type": "str", "pattern": ID_PATTERN, "required": True},
            "customer": {"type": "str", "min_length": 1, "max_length": 60, "required": True},
            "email": {"type": "str", "pattern": EMAIL_PATTERN, "max_length": 254},
            "priority": {"choices": PRIORITIES},
            "amount": {"type": "float", "min": MIN_AMOUNT, "max": MAX_AMOUNT, "required": True},
            "channel": {"choices": CHANNELS},
        },
        required=["email"],
        # Each error as {field, rule, message}: `file_rejected` reads the first.
        detailed_errors=True,
    )
    return {"extract": extract, "split": split, "reshape": reshape, "clean": clean, "check": check}


def filing_routines() -> dict[str, Routine]:
    """The routines that file each outcome in a queue and page the on-call."""
    triage = ConditionalRouter()
    triage.set_config(
        routes=[
            ("escalate", "data['priority'] == 'urgent' or data['amount'] >= config['review']"),
            (
                "auto_refund",
                "data['amount'] <= config['auto'] and data['priority'] in ('low', 'normal')",
            ),
        ],
        default_route="agent",
        review=REVIEW_LIMIT,
        auto=AUTO_LIMIT,
    )
    routines: dict[str, Routine] = {"triage": triage}
    for queue in QUEUES:
        triage.define_event(queue)
        filer = Mapper()
        # A mapping has no constant value, but a target whose source is absent
        # takes its default: no row has a `queue`, so each filer stamps its own.
        filer.set_config(
            mappings={
                "queue": "queue",
                "id": "id",
                "customer": "customer",
                "priority": "priority",
                "amount": "amount",
            },
            defaults={"queue": queue},
        )
        routines[f"file_{queue}"] = filer
    file_rejected = Mapper()
    file_rejected.set_config(
        mappings={
            "queue": "queue",
            "id": "ticket.id",
            "field": "errors.0.field",
            "problem": "errors.0.message",
        },
        defaults={"queue": "rejected", "id": "(no id)"},
    )
    routines["file_rejected"] = file_rejected
    pager = Batcher()
    pager.set_config(batch_size=PAGE_SIZE)
    routines["pager"] = pager
    return routines


def reporting_routines(ticket_count: int) -> dict[str, Routine]:
    """The routines that close the ledger and write the report."""
    ledger = Aggregator()
    ledger.set_config(complete_on="count", count=ticket_count)
    render = TextRenderer()
    render.set_config(tag_format="markdown", root=f"Refund desk, batch {BATCH}")
    clip = TextClipper()
    clip.set_config(max_length=CHAT_LIMIT, keep="head")
    return {"ledger": ledger, "digest": Digest(), "render": render, "clip": clip}


CONNECTIONS = [
    ("inbox", "answer", "extract", "input"),
    ("extract", "output", "split", "input"),
    ("extract", "output", "outbox", "extracted"),
    ("reshape", "output", "clean", "input"),
    ("clean", "error", "outbox", "warning"),
    ("check", "valid", "triage", "input"),
    ("triage", "escalate", "pager", "input"),
    ("pager", "batch", "outbox", "page"),
    ("file_rejected", "output", "ledger", "input"),
    *[("triage", queue, f"file_{queue}", "input") for queue in QUEUES],
    *[(f"file_{queue}", "output", "ledger", "input") for queue in QUEUES],
    ("ledger", "output", "digest", "input"),
    ("ledger", "output", "outbox", "ledger"),
    ("digest", "report", "render", "input"),
    ("render", "output", "outbox", "report"),
    ("clip", "output", "outbox", "post"),
]


def build_flow(strategy: str) -> tuple[Flow, dict[str, Routine]]:
    flow = Flow(flow_id="refund_desk", execution_strategy=strategy, max_workers=4)
    routines: dict[str, Routine] = {
        "inbox": Inbox(),
        **intake_routines(),
        **filing_routines(),
        **reporting_routines(len(TICKETS)),
        "outbox": Outbox(),
    }
    for routine_id, routine in routines.items():
        flow.add_routine(routine, routine_id)
    # The splitter emits `item`; the mapper reads `data`.
    flow.connect("split", "item", "reshape", "input", param_mapping={"item": "data"})
    # The transformer emits `transformed_data`; the validator checks `data`.
    flow.connect("clean", "output", "check", "input", param_mapping={"transformed_data": "data"})
    # A mapper maps only the `data` of a message that has one: renamed, the
    # whole message is mapped, so `file_rejected` reads the errors too.
    flow.connect("check", "invalid", "file_rejected", "input", param_mapping={"data": "ticket"})
    # The renderer emits `rendered_text`; the clipper reads `text`.
    flow.connect("render", "output", "clip", "input", param_mapping={"rendered_text": "text"})
    for source, event, target, slot in CONNECTIONS:
        flow.connect(source, event, target, slot)
    return flow, routines


# The same rules, applied directly to the tickets.


def cleaned(ticket: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The ticket as a flat, cleaned row, and the fields whose cleaning failed."""
    customer, request = ticket["customer"], ticket["request"]
    row: dict[str, Any] = {
        "id": ticket.get("ticket"),
        "customer": customer["name"].strip().title(),
        "email": customer["email"].strip().lower(),
        "priority": request.get("priority", "normal").strip().lower(),
        "amount": request["amount"],
        "channel": ticket.get("channel", "web").strip().lower(),
    }
    try:
        row["amount"] = round(float(request["amount"]), 2)
    except ValueError:
        return row, ["amount"]
    return row, []


def first_problem(row: dict[str, Any]) -> str | None:
    """The first field, in the validator's rule order, that breaks its rule."""
    amount = row["amount"]
    checks = {
        "id": isinstance(row["id"], str) and re.search(ID_PATTERN, row["id"]) is not None,
        "customer": 1 <= len(row["customer"]) <= 60,
        "email": re.search(EMAIL_PATTERN, row["email"]) is not None,
        "priority": row["priority"] in PRIORITIES,
        "amount": isinstance(amount, float) and MIN_AMOUNT <= amount <= MAX_AMOUNT,
        "channel": row["channel"] in CHANNELS,
    }
    return next((field for field, ok in checks.items() if not ok), None)


def queue_of(row: dict[str, Any]) -> str:
    if row["priority"] == "urgent" or row["amount"] >= REVIEW_LIMIT:
        return "escalate"
    if row["amount"] <= AUTO_LIMIT and row["priority"] in ("low", "normal"):
        return "auto_refund"
    return "agent"


def expected_results() -> dict[str, Any]:
    queues: dict[str, list[str]] = {queue: [] for queue in QUEUES}
    totals = dict.fromkeys(QUEUES, 0.0)
    rejected: dict[str, str] = {}
    warnings: list[tuple[Any, str]] = []
    for ticket in TICKETS:
        row, failed = cleaned(ticket)
        warnings += [(row["id"], field) for field in failed]
        problem = first_problem(row)
        if problem is not None:
            rejected[row["id"] or "(no id)"] = problem
            continue
        queue = queue_of(row)
        queues[queue].append(row["id"])
        totals[queue] += row["amount"]
    escalations = len(queues["escalate"])
    pages = range(0, escalations, PAGE_SIZE)
    return {
        "valid": sum(len(ids) for ids in queues.values()),
        "invalid": len(rejected),
        "queues": {queue: sorted(ids) for queue, ids in queues.items()},
        "totals": {queue: round(total, 2) for queue, total in totals.items()},
        "rejected": rejected,
        "warnings": sorted(warnings),
        "page_sizes": sorted(min(PAGE_SIZE, escalations - start) for start in pages),
    }


# What the flow produced, in the same shape.


def only(job: JobState, key: str) -> Any:
    """The one thing the outbox kept under `key`."""
    kept = job.get_shared_data(key, [])
    if len(kept) != 1:
        raise SystemExit(f"The outbox kept {len(kept)} {key!r} messages, not one: {kept}")
    return kept[0]


def flow_results(job: JobState, check: Routine) -> dict[str, Any]:
    ledger = only(job, "ledger")
    rows = ledger["items"]
    queues = {queue: sorted(r["id"] for r in rows if r["queue"] == queue) for queue in QUEUES}
    totals = {
        queue: round(sum(r["amount"] for r in rows if r["queue"] == queue), 2) for queue in QUEUES
    }
    pages = job.get_shared_data("pages", [])
    return {
        "valid": check.get_stat("valid", 0),
        "invalid": check.get_stat("invalid", 0),
        "queues": queues,
        "totals": totals,
        "rejected": {r["id"]: r["field"] for r in rows if r["queue"] == "rejected"},
        "warnings": sorted((w[0], w[1]) for w in job.get_shared_data("warnings", [])),
        "page_sizes": sorted(len(page) for page in pages),
    }


def verify_extraction(job: JobState) -> None:
    """Checks that the extractor found the tickets the assistant sent, whole."""
    extracted = only(job, "extracted")
    if extracted["result"] != TICKETS:
        raise SystemExit(f"The extractor did not find the {len(TICKETS)} tickets: {extracted}")


def verify_report(job: JobState, expected: dict[str, Any]) -> dict[str, Any]:
    """Checks the ledger, the report and the chat message; returns the message."""
    ledger = only(job, "ledger")
    if ledger["reason"] != "count" or ledger["count"] != len(TICKETS):
        raise SystemExit(
            f"The ledger closed by {ledger['reason']!r} with {ledger['count']} tickets; "
            f"expected 'count' with all {len(TICKETS)}: a ticket was lost on the way."
        )
    report = only(job, "reports")
    for queue in QUEUES:
        line = f"| {queue} | {len(expected['queues'][queue])} | {expected['totals'][queue]:.2f} |"
        if line not in report:
            raise SystemExit(f"The report has no totals line {line!r}:\n{report}")
    post = only(job, "posts")
    text = post["text"]
    if post["original_length"] != len(report) or len(text) > CHAT_LIMIT:
        raise SystemExit(
            f"The chat message has {len(text)} characters of {post['original_length']}; "
            f"expected at most {CHAT_LIMIT} of the report's {len(report)}."
        )
    if post["clipped"] != (len(report) > CHAT_LIMIT):
        raise SystemExit(f"clipped is {post['clipped']} for a report of {len(report)} characters.")
    kept = text.rsplit("\n… [truncated", 1)[0] if post["clipped"] else text
    if not report.startswith(kept):
        raise SystemExit("The chat message is not the start of the report.")
    return post


def show(job: JobState, results: dict[str, Any], post: dict[str, Any]) -> None:
    extracted = only(job, "extracted")
    print(
        f"Extracted {len(extracted['result'])} tickets from the assistant's answer "
        f"({extracted['format']}, confidence {extracted['confidence']:.2f})"
    )
    print()
    print(post["text"])
    print()
    print(f"-- chat message: {len(post['text'])} characters, the report {post['original_length']}")
    print(f"Valid: {results['valid']}, invalid: {results['invalid']}")
    for queue in QUEUES:
        ids = ", ".join(results["queues"][queue])
        print(f"{queue:<12} {results['totals'][queue]:>8.2f}  {ids}")
    rejected = ", ".join(
        f"{ticket} ({field})" for ticket, field in sorted(results["rejected"].items())
    )
    print(f"Rejected:    {rejected}")
    pages = sorted(job.get_shared_data("pages", []))
    print(f"Pages to the on-call ({PAGE_SIZE} per page): {pages}")
    for ticket, field, transformation, error in sorted(job.get_shared_data("warnings", [])):
        print(f"Warning: {ticket} {field} ({transformation}): {error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--concurrent", action="store_true", help="use the concurrent execution strategy"
    )
    strategy = "concurrent" if parser.parse_args().concurrent else "sequential"

    flow, routines = build_flow(strategy)
    with flow:
        job = flow.execute("inbox", entry_params={"answer": ANSWER})
    if job.status != "completed" or job.errors:
        raise SystemExit(f"The job ended {job.status}: {job.error}; errors: {job.errors}")

    verify_extraction(job)
    expected = expected_results()
    results = flow_results(job, routines["check"])
    post = verify_report(job, expected)
    print(f"Strategy: {strategy}")
    show(job, results, post)
    if results != expected:
        raise SystemExit(f"The flow's results {results}\ndiffer from the direct ones {expected}.")
    print(
        "OK: the counts, queues, totals, pages, warnings and report match the direct computation."
    )


if __name__ == "__main__":
    main()
