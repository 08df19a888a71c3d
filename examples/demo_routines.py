"""The routines of the command-line demo, `examples/demo_flow.yaml`.

They are the routines of `examples/demo.py`, written so that a flow
document can name them (`demo_routines:Orders`, ...) and a job can be
resumed in another process:

- `Orders` parses CSV records (the ones embedded below, unless the job's
  entry params give other text) and emits one per order;
- `Validator` checks each record and converts its amount to a Decimal; one
  record is bad, and the flow file gives the validator a SKIP policy, so
  that record becomes a dead letter and the job goes on;
- `Enricher` converts amounts to euros with rates from a (simulated) rates
  service that times out on its first call in each process; the flow file
  gives it a RETRY policy for `TimeoutError`;
- `Review` notes every large order in the job's shared log;
- `Totals` adds each order to the totals per category and counts orders per
  size class, in the job's shared data (so a resumed job keeps them).

Each handler sleeps `work_seconds` (a config key, set in the flow file) to
stand for real work, so that the live progress of `routilux run` has
something to show.

Run: routilux run examples/demo_flow.yaml   (or: make demo)
"""

from __future__ import annotations

import csv
import io
import time
from decimal import Decimal
from typing import Any

from routilux import Routine

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
CENT = Decimal("0.01")


class Worker(Routine):
    """A routine whose handlers take `work_seconds` of (simulated) work."""

    def work(self) -> None:
        """Sleep for the configured time."""
        time.sleep(float(self.get_config("work_seconds", 0.0)))


class Orders(Worker):
    """Emits one `record` per CSV line of the entry params' `text`."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.parse)
        self.define_event("record", ["data"])

    def parse(self, text: str | None = None) -> None:
        """Emit each record of `text` (default: the orders embedded in this module)."""
        self.work()
        for record in csv.DictReader(io.StringIO(ORDERS_CSV if text is None else text)):
            self.emit("record", data=record)


class Validator(Worker):
    """Checks a record and emits it as an `order`; raises ValueError for a bad one."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.validate)
        self.define_event("order", ["data"])

    def validate(self, data: dict[str, str]) -> None:
        """Emit the record as an order, or raise ValueError."""
        self.work()
        order = parse_order(data)
        if order["currency"] not in self.get_config("currencies", ()):
            raise ValueError(f"order {order['order_id']}: unknown currency {order['currency']}")
        self.emit("order", data=order)


class Enricher(Worker):
    """Adds `amount_eur`; the rates service times out on its first call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.define_slot("input", handler=self.enrich)
        self.define_event("enriched", ["data"])

    def enrich(self, data: dict[str, Any]) -> None:
        """Emit the order with its amount in euros."""
        self.work()
        rate = self.fetch_rate(data["currency"])
        self.emit("enriched", data={**data, "amount_eur": (data["amount"] * rate).quantize(CENT)})

    def fetch_rate(self, currency: str) -> Decimal:
        """The currency's rate to the euro, from the (flaky) rates service."""
        self.calls += 1
        if self.calls == 1:
            raise TimeoutError("rates service did not answer within 2 s")
        return Decimal(self.get_config("rates")[currency])


class Review(Worker):
    """Notes a large order in the job's shared log, then passes it on."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.review)
        self.define_event("reviewed", ["data"])

    def review(self, data: dict[str, Any]) -> None:
        """Log the order for review and emit it."""
        self.work()
        job = self.get_execution_context().job_state
        job.append_to_shared_log({"review": data["order_id"], "amount_eur": data["amount_eur"]})
        self.emit("reviewed", data=data)


class Totals(Worker):
    """One slot per size class; totals per category and counts per size, per job."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("small", handler=self.add_small)
        self.define_slot("medium", handler=self.add_medium)
        self.define_slot("large", handler=self.add_large)

    def add_small(self, data: dict[str, Any]) -> None:
        """Count a small order."""
        self.add("small", data)

    def add_medium(self, data: dict[str, Any]) -> None:
        """Count a medium order."""
        self.add("medium", data)

    def add_large(self, data: dict[str, Any]) -> None:
        """Count a large order."""
        self.add("large", data)

    def add(self, size: str, order: dict[str, Any]) -> None:
        """Add the order to the job's totals per category and counts per size."""
        self.work()
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
