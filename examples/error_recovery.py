"""Error recovery: RETRY with backoff, CONTINUE and SKIP in one flow, and a critical failure.

A batch of payments goes through three routines, each with its own error
policy:

- `gateway` calls a payment service that times out now and then. It retries
  TimeoutError with a short, real backoff (20 ms, then 40 ms); other errors
  are not retried.
- `ledger` refuses payments in an unknown currency. Its policy is CONTINUE:
  the failure is recorded and the batch goes on.
- `receipts` cannot print receipts for anonymous payers. Its policy is SKIP:
  recorded, and the routine is marked "skipped" for the job.

A second run makes the gateway time out for good. The gateway is critical
(`set_as_critical`), so the job fails once its retries are used up.

The script checks the job statuses, the error records and the per-routine
states against what the policies promise.

Run: python examples/error_recovery.py
"""

import time
from typing import Any

from routilux import ErrorHandler, ErrorStrategy, Flow, JobState, Routine, RoutineStats

PAYMENTS = [
    {"id": "p1", "payer": "ada", "amount": 120, "currency": "EUR"},
    {"id": "p2", "payer": "bob", "amount": 80, "currency": "XXX"},
    {"id": "p3", "payer": None, "amount": 35, "currency": "EUR"},
    {"id": "p4", "payer": "cy", "amount": 60, "currency": "USD"},
]
RETRY_DELAY = 0.02
RETRY_BACKOFF = 2.0


class Batch(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("payment", ["payment"])

    def send(self, payments: list[dict[str, Any]]) -> None:
        for payment in payments:
            self.emit("payment", payment=payment)


class Gateway(Routine):
    """Charges a payment; the service times out on the first `timeouts` calls for p1."""

    def __init__(self, timeouts: int) -> None:
        super().__init__()
        self.timeouts = timeouts
        self.define_slot("input", handler=self.charge)
        self.define_event("charged", ["payment"])

    def charge(self, payment: dict[str, Any]) -> None:
        if payment["id"] == "p1" and self.timeouts > 0:
            self.timeouts -= 1
            raise TimeoutError("payment service did not answer")
        self.emit("charged", payment=payment)


class Ledger(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.book)
        self.define_event("booked", ["payment"])

    def book(self, payment: dict[str, Any]) -> None:
        if payment["currency"] not in ("EUR", "USD"):
            raise ValueError(f"{payment['id']}: unknown currency {payment['currency']!r}")
        job = self.get_execution_context().job_state
        job.update_shared_data("booked", [*job.get_shared_data("booked", []), payment["id"]])
        self.emit("booked", payment=payment)


class Receipts(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.send_receipt)

    def send_receipt(self, payment: dict[str, Any]) -> None:
        if payment["payer"] is None:
            raise LookupError(f"{payment['id']}: no payer to send a receipt to")
        job = self.get_execution_context().job_state
        job.update_shared_data("receipts", [*job.get_shared_data("receipts", []), payment["id"]])


def build_flow(gateway_timeouts: int) -> Flow:
    flow = Flow(flow_id="payments")
    gateway = Gateway(gateway_timeouts)
    ledger = Ledger()
    receipts = Receipts()
    flow.add_routine(Batch(), "batch")
    flow.add_routine(gateway, "gateway")
    flow.add_routine(ledger, "ledger")
    flow.add_routine(receipts, "receipts")
    flow.connect("batch", "payment", "gateway", "input")
    flow.connect("gateway", "charged", "ledger", "input")
    flow.connect("ledger", "booked", "receipts", "input")

    gateway.set_error_handler(
        ErrorHandler(
            strategy=ErrorStrategy.RETRY,
            max_retries=2,
            retry_delay=RETRY_DELAY,
            retry_backoff=RETRY_BACKOFF,
            retryable_exceptions=(TimeoutError,),
            is_critical=True,
        )
    )
    ledger.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    receipts.set_as_optional(ErrorStrategy.SKIP)
    return flow


def show(job: JobState, seconds: float) -> None:
    print(f"  status: {job.status} after {seconds * 1000:.0f} ms")
    for error in job.errors:
        print(
            f"  error: {error.routine_id} attempt {error.attempt} -> {error.action}: "
            f"{error.error_type}: {error.message}"
        )
    for routine_id, stats in job.all_routine_stats().items():
        print(f"  {routine_id:<9} {stats}")
    for routine_id, state in job.routine_states.items():
        print(f"  {routine_id:<9} state: {state}")


def check(condition: bool, message: str) -> None:
    if not condition:
        raise SystemExit(f"Unexpected result: {message}")


def recovering_run() -> None:
    print("Run 1: the gateway times out twice on p1, then succeeds")
    started = time.monotonic()
    job = build_flow(gateway_timeouts=2).execute("batch", entry_params={"payments": PAYMENTS})
    elapsed = time.monotonic() - started
    show(job, elapsed)

    actions = [(e.routine_id, e.attempt, e.action) for e in job.errors]
    check(job.status == "completed", f"job status is {job.status}")
    check(
        sorted(actions)
        == [
            ("gateway", 1, "retry"),
            ("gateway", 2, "retry"),
            ("ledger", 1, "continue"),
            ("receipts", 1, "skip"),
        ],
        f"error actions are {actions}",
    )
    waited = RETRY_DELAY + RETRY_DELAY * RETRY_BACKOFF
    check(elapsed >= waited, f"the retries took {elapsed:.3f} s, less than {waited:.3f} s")
    check(sorted(job.get_shared_data("booked")) == ["p1", "p3", "p4"], "booked payments")
    check(sorted(job.get_shared_data("receipts")) == ["p1", "p4"], "receipts sent")
    stats = job.all_routine_stats()
    check(stats["gateway"] == RoutineStats(deliveries=6), "gateway")
    check(stats["ledger"].status == "failed", "ledger counts")
    check(stats["receipts"].status == "skipped", "receipts counts")
    # What routilux 0.10 wrote into a routine's state: the outcome of its failures.
    check(job.get_routine_state("gateway") is None, "gateway state: its retries succeeded")
    check(job.routine_states["ledger"]["status"] == "error_continued", "ledger state")
    check(job.routine_states["receipts"]["status"] == "skipped", "receipts state")


def failing_run() -> None:
    print("Run 2: the gateway keeps timing out on p1; it is critical, so the job fails")
    started = time.monotonic()
    job = build_flow(gateway_timeouts=10).execute("batch", entry_params={"payments": PAYMENTS})
    show(job, time.monotonic() - started)
    print(f"  error: {job.error}")

    check(job.status == "failed", f"job status is {job.status}")
    check(
        [e.action for e in job.errors if e.routine_id == "gateway"] == ["retry", "retry", "stop"],
        "gateway attempts",
    )
    check(job.error is not None and "attempt 3" in job.error, f"job error is {job.error!r}")


def main() -> None:
    recovering_run()
    failing_run()
    print("OK: every policy did what it promises.")


if __name__ == "__main__":
    main()
