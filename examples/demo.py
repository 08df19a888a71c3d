"""routilux demo: an order-processing pipeline, run as one job you can inspect and save.

    orders -> validator -> enricher -> router --+-- small --------------> totals.small
                                                +-- medium -------------> totals.medium
                                                +-- large --> review ---> totals.large

- `orders` parses the CSV records embedded below and emits one per order.
- `validator` checks each record and converts its amount to a Decimal. One
  record is bad; the validator's SKIP policy records the error and the job
  goes on without it.
- `enricher` converts amounts to euros with rates from a (simulated) rates
  service, which times out on its first call. The enricher is critical: the
  call is retried after a short delay and succeeds.
- `router`, a ConditionalRouter, sends each order to a size class by its
  amount in euros.
- `review` notes every large order in the job's shared log.
- `totals` has one slot per size class and adds each order to the totals per
  category, in the job's shared data.

The script prints the job's status, what each routine did, the errors the
job recorded and the totals; checks the totals against a direct computation;
then saves the job to demo-job.json, loads it back and checks that nothing
changed.

Run: python examples/demo.py   (make demo runs the same pipeline from a flow file, through
the routilux command: see examples/demo_flow.yaml)
"""

import csv
import io
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from routilux import ErrorHandler, ErrorStrategy, Flow, JobState, Routine
from routilux.builtin_routines import ConditionalRouter

ORDERS_CSV = """\
order_id,customer,category,amount,currency
1001,acme,hardware,120.00,EUR
1002,globex,software,1499.00,USD
1003,initech,services,80.50,EUR
1004,umbrella,hardware,35.99,GBP
1005,acme,software,299.00,EUR
1006,hooli,services,2250.00,EUR
1007,globex,hardware,15.25,USD
1008,initech,software,49.99,EUR
1009,stark,hardware,875.00,GBP
1010,wayne,services,640.00,USD
1011,acme,hardware,12.40,EUR
1012,hooli,software,n/a,EUR
1013,umbrella,services,150.00,EUR
1014,stark,software,3200.00,USD
1015,wayne,hardware,99.99,EUR
1016,globex,services,420.00,GBP
1017,initech,hardware,64.00,EUR
1018,acme,software,18.00,USD
1019,hooli,hardware,510.00,EUR
1020,stark,services,75.00,GBP
1021,wayne,software,129.00,EUR
1022,umbrella,hardware,245.50,USD
1023,globex,software,9.99,EUR
1024,initech,services,1100.00,EUR
1025,acme,services,330.00,GBP
1026,hooli,hardware,42.00,USD
1027,stark,hardware,780.00,EUR
1028,wayne,services,56.75,EUR
1029,umbrella,software,610.00,GBP
1030,globex,hardware,23.10,EUR
"""
RATES_TO_EUR = {"EUR": "1", "USD": "0.92", "GBP": "1.17"}
SIZES = ("small", "medium", "large")
CENT = Decimal("0.01")
JOB_FILE = Path("demo-job.json")


class Orders(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.parse)
        self.define_event("record", ["data"])

    def parse(self, text: str) -> None:
        for record in csv.DictReader(io.StringIO(text)):
            self.emit("record", data=record)


class Validator(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.validate)
        self.define_event("order", ["data"])

    def validate(self, data: dict[str, str]) -> None:
        order = parse_order(data)
        if order["currency"] not in self.get_config("currencies", ()):
            raise ValueError(f"order {order['order_id']}: unknown currency {order['currency']}")
        self.emit("order", data=order)


class Enricher(Routine):
    """Adds `amount_eur`; the rates service times out on its first call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.define_slot("input", handler=self.enrich)
        self.define_event("enriched", ["data"])

    def enrich(self, data: dict[str, Any]) -> None:
        rate = self.fetch_rate(data["currency"])
        self.emit("enriched", data={**data, "amount_eur": (data["amount"] * rate).quantize(CENT)})

    def fetch_rate(self, currency: str) -> Decimal:
        self.calls += 1
        if self.calls == 1:
            raise TimeoutError("rates service did not answer within 2 s")
        return Decimal(self.get_config("rates")[currency])


class Review(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.review)
        self.define_event("reviewed", ["data"])

    def review(self, data: dict[str, Any]) -> None:
        job = self.get_execution_context().job_state
        job.append_to_shared_log({"review": data["order_id"], "amount_eur": data["amount_eur"]})
        self.emit("reviewed", data=data)


class Totals(Routine):
    """One slot per size class; totals per category and counts per size, per job."""

    def __init__(self) -> None:
        super().__init__()
        for size in SIZES:
            self.define_slot(size, handler=self.adder(size))

    def adder(self, size: str) -> Callable[[dict[str, Any]], None]:
        def add(data: dict[str, Any]) -> None:
            self.add(size, data)

        return add

    def add(self, size: str, order: dict[str, Any]) -> None:
        job = self.get_execution_context().job_state
        totals = dict(job.get_shared_data("totals", {}))
        totals[order["category"]] = totals.get(order["category"], Decimal(0)) + order["amount_eur"]
        counts = dict(job.get_shared_data("sizes", {}))
        counts[size] = counts.get(size, 0) + 1
        job.update_shared_data("totals", totals)
        job.update_shared_data("sizes", counts)


def parse_order(record: dict[str, str]) -> dict[str, Any]:
    """One CSV record as an order; raises ValueError for a bad amount."""
    try:
        amount = Decimal(record["amount"])
    except ArithmeticError:
        raise ValueError(
            f"order {record['order_id']}: amount {record['amount']!r} is not a number"
        ) from None
    if not amount.is_finite() or amount <= 0:
        raise ValueError(f"order {record['order_id']}: amount {amount} must be positive")
    return {**record, "order_id": int(record["order_id"]), "amount": amount}


def build_flow() -> Flow:
    flow = Flow(flow_id="orders_demo")
    validator, enricher, router = Validator(), Enricher(), ConditionalRouter()
    for routine_id, routine in [
        ("orders", Orders()),
        ("validator", validator),
        ("enricher", enricher),
        ("router", router),
        ("review", Review()),
        ("totals", Totals()),
    ]:
        flow.add_routine(routine, routine_id)

    validator.set_config(currencies=tuple(RATES_TO_EUR))
    enricher.set_config(rates=RATES_TO_EUR)
    router.set_config(
        routes=[("large", "data['amount_eur'] >= 500"), ("medium", "data['amount_eur'] >= 100")],
        default_route="small",
    )
    for size in SIZES:
        router.define_event(size)

    flow.connect("orders", "record", "validator", "input")
    flow.connect("validator", "order", "enricher", "input")
    flow.connect("enricher", "enriched", "router", "input")
    flow.connect("router", "small", "totals", "small")
    flow.connect("router", "medium", "totals", "medium")
    flow.connect("router", "large", "review", "input")
    flow.connect("review", "reviewed", "totals", "large")

    validator.set_error_handler(ErrorHandler(strategy=ErrorStrategy.SKIP))
    enricher.set_as_critical(max_retries=3, retry_delay=0.05, retry_backoff=2.0)
    return flow


def expected_results() -> tuple[dict[str, Decimal], dict[str, int]]:
    """The totals and size counts, computed without routilux."""
    totals: dict[str, Decimal] = {}
    sizes: dict[str, int] = {}
    for record in csv.DictReader(io.StringIO(ORDERS_CSV)):
        try:
            order = parse_order(record)
        except ValueError:
            continue
        eur = (order["amount"] * Decimal(RATES_TO_EUR[order["currency"]])).quantize(CENT)
        totals[order["category"]] = totals.get(order["category"], Decimal(0)) + eur
        size = "large" if eur >= 500 else "medium" if eur >= 100 else "small"
        sizes[size] = sizes.get(size, 0) + 1
    return totals, sizes


def print_summary(job: JobState) -> None:
    print(f"Job of flow {job.flow_id!r}: {job.status}")
    print()
    print(f"{'routine':<10} {'status':<10} {'deliveries':>10} {'failures':>9}")
    for routine_id, stats in job.all_routine_stats().items():
        print(f"{routine_id:<10} {stats.status:<10} {stats.deliveries:>10} {stats.failures:>9}")
    print()
    print(f"Errors recorded: {len(job.errors)}")
    for error in job.errors:
        print(
            f"  {error.routine_id}, attempt {error.attempt}, {error.action}: "
            f"{error.error_type}: {error.message}"
        )
    print()
    reviewed = ", ".join(str(entry["review"]) for entry in job.get_shared_log())
    print(f"Orders by size: {job.get_shared_data('sizes')}")
    print(f"Large orders reviewed: {reviewed}")
    print("Totals per category (EUR):")
    for category, total in sorted(job.get_shared_data("totals").items()):
        print(f"  {category:<10} {total:>10}")


def check(condition: bool, message: str) -> None:
    if not condition:
        raise SystemExit(f"demo: unexpected result: {message}")


def check_job(job: JobState) -> None:
    totals, sizes = expected_results()
    check(job.status == "completed", f"the job ended {job.status}: {job.error}")
    check(job.get_shared_data("totals") == totals, f"totals differ from {totals}")
    check(job.get_shared_data("sizes") == sizes, f"size counts differ from {sizes}")
    actions = [(e.routine_id, e.error_type, e.action) for e in job.errors]
    check(
        sorted(actions)
        == [("enricher", "TimeoutError", "retry"), ("validator", "ValueError", "skip")],
        f"errors recorded: {actions}",
    )
    check(job.routine_states["validator"]["status"] == "skipped", "validator state")
    validator, enricher = job.routine_stats("validator"), job.routine_stats("enricher")
    check(validator is not None and validator.skips == 1, "validator skips")
    check(enricher is not None and enricher.failures == 0, "enricher failures")
    check(len(job.get_shared_log()) == sizes.get("large", 0), "one review per large order")


def check_round_trip(job: JobState) -> JobState:
    job.save(JOB_FILE)
    loaded = JobState.load(JOB_FILE)
    check(loaded.serialize() == job.serialize(), "the reloaded job differs from the saved one")
    check(loaded.shared_data == job.shared_data, "the reloaded shared data differs")
    check(
        all(isinstance(v, Decimal) for v in loaded.get_shared_data("totals").values()),
        "totals did not come back as Decimal",
    )
    return loaded


def main() -> None:
    job = build_flow().execute("orders", entry_params={"text": ORDERS_CSV})
    print_summary(job)
    check_job(job)

    loaded = check_round_trip(job)
    print()
    print(
        f"Saved to {JOB_FILE} and loaded back: status {loaded.status}, "
        f"{len(loaded.errors)} errors, {len(loaded.execution_history)} events in the history."
    )
    print("OK: totals match a direct computation, and the saved job round-trips.")


if __name__ == "__main__":
    main()
