"""A complete pipeline: read, parse, route, alert and summarise a web server log.

    reader -> parser -> router --+-- each route --> tag_<route> --> stats
                                 +-- server_error --> server_alerts
                                 +-- slow ----------> slow_alerts

- `reader` emits one message per line of the log.
- `parser` turns a line into a request dict; a malformed line raises, and
  the parser's CONTINUE policy records the error and goes on.
- `router` (a ConditionalRouter) sends each request to one route, by status
  code and duration.
- `server_alerts` and `slow_alerts` note server errors and slow requests in
  the job's shared log, for a human to look at.
- `tag_<route>` adds the route's name to the request, and `stats` receives
  every tagged request (fan-in) and keeps per-route counts, bytes sent and
  the slowest path, in the job's shared data.

The script prints the summary and verifies it against the same figures
computed directly from the log.

Run: python examples/pipeline.py
"""

from collections import Counter
from typing import Any

from routilux import ErrorHandler, ErrorStrategy, Flow, JobState, Routine
from routilux.builtin_routines import ConditionalRouter

LOG = """
10.0.0.1 GET /index.html 200 5120 35
10.0.0.2 GET /api/orders 200 2048 120
10.0.0.3 POST /api/orders 201 512 1850
10.0.0.1 GET /missing 404 128 4
10.0.0.4 GET /api/report 500 64 2400
this line is garbage
10.0.0.2 DELETE /api/orders/7 403 96 12
10.0.0.5 GET /api/orders 503 0 30
10.0.0.3 GET /index.html 200 5120 28
10.0.0.6 GET /static/app.js 200 40960 1200
"""
ROUTES = [
    ("server_error", "data['status'] >= 500"),
    ("client_error", "data['status'] >= 400"),
    ("slow", "data['ms'] > config['slow_ms']"),
]
SLOW_MS = 1000


class Reader(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.read)
        self.define_event("line", ["number", "line"])

    def read(self, text: str) -> None:
        for number, line in enumerate(text.strip().splitlines(), start=1):
            self.emit("line", number=number, line=line)


class Parser(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.parse)
        self.define_event("request", ["data"])

    def parse(self, number: int, line: str) -> None:
        fields = line.split()
        if len(fields) != 6:
            raise ValueError(f"line {number}: expected 6 fields, found {len(fields)}")
        ip, method, path, status, size, ms = fields
        request = {
            "ip": ip,
            "method": method,
            "path": path,
            "status": int(status),
            "bytes": int(size),
            "ms": int(ms),
        }
        self.emit("request", data=request)


class Alerts(Routine):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.define_slot("input", handler=self.alert)

    def alert(self, data: dict[str, Any]) -> None:
        job = self.get_execution_context().job_state
        job.append_to_shared_log({"alert": self.kind, "path": data["path"], "ms": data["ms"]})


class Stats(Routine):
    """Receives every request, whichever route it took."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.count)

    def count(self, data: dict[str, Any], route: str) -> None:
        job = self.get_execution_context().job_state
        stats = job.get_shared_data("stats") or {"routes": {}, "bytes": 0, "slowest": None}
        stats["routes"][route] = stats["routes"].get(route, 0) + 1
        stats["bytes"] += data["bytes"]
        if stats["slowest"] is None or data["ms"] > stats["slowest"][1]:
            stats["slowest"] = (data["path"], data["ms"])
        job.update_shared_data("stats", stats)


class Tag(Routine):
    """Adds the name of the route a request took, so `stats` can count by route."""

    def __init__(self, route: str) -> None:
        super().__init__()
        self.route = route
        self.define_slot("input", handler=self.tag)
        self.define_event("tagged", ["data", "route"])

    def tag(self, data: dict[str, Any]) -> None:
        self.emit("tagged", data=data, route=self.route)


def build_flow() -> Flow:
    flow = Flow(flow_id="access_log")
    parser = Parser()
    router = ConditionalRouter()
    flow.add_routine(Reader(), "reader")
    flow.add_routine(parser, "parser")
    flow.add_routine(router, "router")
    flow.add_routine(Stats(), "stats")
    flow.add_routine(Alerts("server error"), "server_alerts")
    flow.add_routine(Alerts("slow request"), "slow_alerts")
    flow.connect("reader", "line", "parser", "input")
    flow.connect("parser", "request", "router", "input")

    router.set_config(routes=ROUTES, default_route="ok", slow_ms=SLOW_MS)
    for route in ("server_error", "client_error", "slow", "ok"):
        router.define_event(route)
        tag_id = flow.add_routine(Tag(route), f"tag_{route}")
        flow.connect("router", route, tag_id, "input")
        flow.connect(tag_id, "tagged", "stats", "input")
    flow.connect("router", "server_error", "server_alerts", "input")
    flow.connect("router", "slow", "slow_alerts", "input")

    parser.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    return flow


def route_of(request: dict[str, Any]) -> str:
    if request["status"] >= 500:
        return "server_error"
    if request["status"] >= 400:
        return "client_error"
    return "slow" if request["ms"] > SLOW_MS else "ok"


def expected_summary() -> dict[str, Any]:
    requests = []
    for line in LOG.strip().splitlines():
        fields = line.split()
        if len(fields) == 6:
            requests.append(
                {
                    "path": fields[2],
                    "status": int(fields[3]),
                    "bytes": int(fields[4]),
                    "ms": int(fields[5]),
                }
            )
    slowest = max(requests, key=lambda r: r["ms"])
    return {
        "routes": dict(Counter(route_of(r) for r in requests)),
        "bytes": sum(r["bytes"] for r in requests),
        "slowest": (slowest["path"], slowest["ms"]),
        "alerts": sorted(r["path"] for r in requests if route_of(r) in ("server_error", "slow")),
        "malformed": len(LOG.strip().splitlines()) - len(requests),
    }


def summarise(job: JobState) -> dict[str, Any]:
    stats = job.get_shared_data("stats")
    return {
        "routes": stats["routes"],
        "bytes": stats["bytes"],
        "slowest": stats["slowest"],
        "alerts": sorted(entry["path"] for entry in job.get_shared_log()),
        "malformed": len(job.errors),
    }


def main() -> None:
    job = build_flow().execute("reader", entry_params={"text": LOG})
    summary = summarise(job)

    print(f"Job {job.status}; {len(job.execution_history)} events emitted")
    print(f"Requests by route: {summary['routes']}")
    print(f"Bytes sent:        {summary['bytes']}")
    print(f"Slowest request:   {summary['slowest'][0]} ({summary['slowest'][1]} ms)")
    for entry in job.get_shared_log():
        print(f"Alert ({entry['alert']}): {entry['path']} took {entry['ms']} ms")
    for error in job.errors:
        print(f"Skipped: {error.message} (policy: {error.action})")

    expected = expected_summary()
    if job.status != "completed":
        raise SystemExit(f"The job ended {job.status}: {job.error}")
    if summary != expected:
        raise SystemExit(f"Summary {summary} differs from the direct computation {expected}.")
    print("OK: the summary matches the figures computed directly from the log.")


if __name__ == "__main__":
    main()
