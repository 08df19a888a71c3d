"""Routing: send each message to the handler its data calls for.

A ConditionalRouter receives measurements and routes them by value with
string conditions (evaluated by routilux's safe expression evaluator), a
dict condition and a default route. A second router, in "all_matches"
mode, shows a message going to every route that holds, and the `unrouted`
stat counting messages that matched none.

The script verifies where every message went against the rules written
again in plain Python.

Run: python examples/routing.py
"""

from typing import Any

from routilux import Flow, Routine
from routilux.builtin_routines import ConditionalRouter

MEASUREMENTS = [
    {"id": 1, "value": 15, "unit": "kg"},
    {"id": 2, "value": 4, "unit": "kg"},
    {"id": 3, "value": 10, "unit": "lb"},
    {"id": 4, "value": 42, "unit": "lb"},
    {"id": 5, "value": 7, "unit": "kg", "flagged": True},
]


class Source(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("output", ["data"])

    def send(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            self.emit("output", data=item)


class Handler(Routine):
    """Notes, in the job's shared data, which ids reached it."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.define_slot("input", handler=self.handle)

    def handle(self, data: dict[str, Any]) -> None:
        job = self.get_execution_context().job_state
        job.update_shared_data(self.name, [*job.get_shared_data(self.name, []), data["id"]])
        print(f"  {self.name:<8} <- {data}")


def build_flow(router: ConditionalRouter, routes: list[str]) -> Flow:
    flow = Flow()
    flow.add_routine(Source(), "source")
    flow.add_routine(router, "router")
    flow.connect("source", "output", "router", "input")
    for route in routes:
        router.define_event(route)
        flow.add_routine(Handler(route), route)
        flow.connect("router", route, route, "input")
    return flow


def first_match() -> dict[str, list[int]]:
    router = ConditionalRouter()
    router.set_config(
        routes=[
            ("review", {"flagged": True}),
            ("high", "data.get('value', 0) > 10"),
            ("low", "data.get('value', 0) <= 10"),
        ],
        default_route="low",
    )
    flow = build_flow(router, ["review", "high", "low"])
    job = flow.execute("source", entry_params={"items": MEASUREMENTS})
    if job.status != "completed":
        raise SystemExit(f"The first_match job ended {job.status}: {job.error}")
    return {route: job.get_shared_data(route, []) for route in ("review", "high", "low")}


def all_matches() -> tuple[dict[str, list[int]], int]:
    router = ConditionalRouter()
    router.set_config(
        route_priority="all_matches",
        limit=10,
        routes=[
            ("heavy", "data['value'] * (0.45 if data['unit'] == 'lb' else 1) > config['limit']"),
            ("imperial", lambda data: data["unit"] == "lb"),
        ],
    )
    flow = build_flow(router, ["heavy", "imperial"])
    job = flow.execute("source", entry_params={"items": MEASUREMENTS})
    if job.status != "completed":
        raise SystemExit(f"The all_matches job ended {job.status}: {job.error}")
    routed = {route: job.get_shared_data(route, []) for route in ("heavy", "imperial")}
    return routed, router.get_stat("unrouted", 0)


def main() -> None:
    print("first_match: the first route that holds wins")
    routed = first_match()
    expected = {
        "review": [m["id"] for m in MEASUREMENTS if m.get("flagged")],
        "high": [m["id"] for m in MEASUREMENTS if not m.get("flagged") and m["value"] > 10],
        "low": [m["id"] for m in MEASUREMENTS if not m.get("flagged") and m["value"] <= 10],
    }
    if routed != expected:
        raise SystemExit(f"first_match routed {routed}, expected {expected}.")

    print("all_matches: every route that holds")
    routed, unrouted = all_matches()

    def kilograms(m: dict[str, Any]) -> float:
        return float(m["value"] * (0.45 if m["unit"] == "lb" else 1))

    expected = {
        "heavy": [m["id"] for m in MEASUREMENTS if kilograms(m) > 10],
        "imperial": [m["id"] for m in MEASUREMENTS if m["unit"] == "lb"],
    }
    matched = set(expected["heavy"]) | set(expected["imperial"])
    expected_unrouted = sum(m["id"] not in matched for m in MEASUREMENTS)
    if routed != expected or unrouted != expected_unrouted:
        raise SystemExit(
            f"all_matches routed {routed} with {unrouted} unrouted; "
            f"expected {expected} with {expected_unrouted} unrouted."
        )
    print(f"  unrouted: {unrouted}")
    print("OK: every message reached the routes the rules give.")


if __name__ == "__main__":
    main()
