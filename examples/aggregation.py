"""Aggregation: collect several messages in one job with an "append" slot.

A sensor routine emits one reading per message. An averager collects them in
a slot with the "append" merge strategy, and each time it holds a full window
of readings it emits their average and clears the slot.

The slot's data lives on the routine object, so it outlives the job: the
readings left over at the end of one job start the window of the next. The
script shows that too, then verifies every average against a plain-Python
computation.

Run: python examples/aggregation.py
"""

from routilux import Flow, Routine

READINGS = [
    ("north", 12.0),
    ("south", 14.5),
    ("east", 13.0),
    ("north", 12.5),
    ("west", 15.5),
    ("south", 14.0),
    ("east", 13.5),
]


class Sensors(Routine):
    """Emits each reading it is given as its own message."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("reading", ["sensor", "celsius"])

    def send(self, readings: list[tuple[str, float]]) -> None:
        for sensor, celsius in readings:
            self.emit("reading", sensor=sensor, celsius=celsius)


class WindowAverager(Routine):
    """Averages every `window` readings, then starts a new window."""

    def __init__(self) -> None:
        super().__init__()
        self.set_config(window=3)
        self.input_slot = self.define_slot("input", handler=self.collect, merge_strategy="append")
        self.define_event("average", ["sensors", "celsius"])

    def collect(self, sensor: str, celsius: float) -> None:
        # The handler receives one reading; the slot holds every reading so far.
        collected = self.input_slot.data
        if len(collected["celsius"]) < self.get_config("window"):
            return
        values = collected["celsius"]
        self.emit("average", sensors=list(collected["sensor"]), celsius=sum(values) / len(values))
        self.input_slot._data = {}  # The next window starts empty.


class Report(Routine):
    """Keeps the averages of the job in the job's shared data."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.record)

    def record(self, sensors: list[str], celsius: float) -> None:
        job = self.get_execution_context().job_state
        averages = job.get_shared_data("averages", [])
        job.update_shared_data("averages", [*averages, round(celsius, 2)])
        print(f"  average of {', '.join(sensors)}: {celsius:.2f} °C")


def build_flow() -> tuple[Flow, WindowAverager]:
    flow = Flow(flow_id="aggregation")
    averager = WindowAverager()
    flow.add_routine(Sensors(), "sensors")
    flow.add_routine(averager, "averager")
    flow.add_routine(Report(), "report")
    flow.connect("sensors", "reading", "averager", "input")
    flow.connect("averager", "average", "report", "input")
    return flow, averager


def expected_averages(values: list[float], window: int) -> list[float]:
    full = len(values) - len(values) % window
    return [round(sum(values[i : i + window]) / window, 2) for i in range(0, full, window)]


def main() -> None:
    flow, averager = build_flow()

    print("Job 1: seven readings")
    first = flow.execute("sensors", entry_params={"readings": READINGS})
    leftover = {key: list(values) for key, values in averager.input_slot.data.items()}
    print(f"  status: {first.status}; left in the slot: {leftover}")

    print("Job 2: two more readings complete the window the first job left open")
    more = [("north", 11.0), ("west", 16.0)]
    second = flow.execute("sensors", entry_params={"readings": more})
    print(f"  status: {second.status}; left in the slot: {dict(averager.input_slot.data)}")

    values = [celsius for _, celsius in READINGS + more]
    expected = expected_averages(values, window=3)
    computed = first.get_shared_data("averages", []) + second.get_shared_data("averages", [])
    if computed != expected:
        raise SystemExit(f"Expected averages {expected}, computed {computed}.")
    if leftover != {"sensor": ["east"], "celsius": [13.5]}:
        raise SystemExit(f"Expected one reading left after job 1, found {leftover}.")
    if first.status != "completed" or second.status != "completed":
        raise SystemExit(f"Expected two completed jobs, got {first.status} and {second.status}.")
    print(f"OK: {len(computed)} averages, as computed directly: {computed}")


if __name__ == "__main__":
    main()
