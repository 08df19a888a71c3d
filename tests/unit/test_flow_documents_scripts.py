"""Classes and functions of the running script (``__main__``) serialize and load back there.

COMPAT.md §9: a document names them ``"__main__:Name"``; loading looks the
name up in the script already running, never imports anything by that name,
so the document loads in the program that wrote it and is refused, with a
clear error, by any other. ``allowed_modules`` limits what a load imports.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from routilux import Flow, Routine, SerializationError

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from routilux import Flow, Routine

    def concat(old, new):
        return {"text": (old or {}).get("text", "") + new["text"]}

    def shout(text):
        print("shout:", text.upper())

    class Source(Routine):
        def __init__(self):
            super().__init__()
            self.define_slot("trigger", handler=self.send)
            self.define_event("out", ["text"])

        def send(self, words):
            for word in words:
                self.emit("out", text=word)

    class Joiner(Routine):
        def __init__(self):
            super().__init__()
            self.define_slot("input", handler=self.show, merge_strategy=concat)

        def show(self, text):
            print("joined:", text)

    class Loud(Routine):
        def __init__(self):
            super().__init__()
            self.define_slot("input", handler=shout)

    if __name__ == "__main__":
        flow = Flow(flow_id="script")
        flow.add_routine(Source(), "source")
        flow.add_routine(Joiner(), "joiner")
        flow.add_routine(Loud(), "loud")
        flow.connect("source", "out", "joiner", "input")
        flow.connect("source", "out", "loud", "input")
        document = flow.serialize()
        with open(sys.argv[1], "w") as out:
            json.dump(document, out)
        rebuilt = Flow.deserialize(document)
        job = rebuilt.execute("source", {"words": ["a", "b"]})
        print("status:", job.status)
    """
)

OTHER = textwrap.dedent(
    """
    import json, sys
    from routilux import Flow, SerializationError

    with open(sys.argv[1]) as source:
        document = json.load(source)
    try:
        Flow.deserialize(document)
    except SerializationError as exc:
        print("refused:", exc)
    """
)


def _run(tmp_path: Path, name: str, text: str, *args: str) -> str:
    script = tmp_path / name
    script.write_text(text)
    done = subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_classes_and_functions_of_the_script_round_trip_in_that_script(tmp_path: Path) -> None:
    out = _run(tmp_path, "script.py", SCRIPT, str(tmp_path / "flow.json"))
    document = json.loads((tmp_path / "flow.json").read_text())

    assert out.splitlines() == [
        "joined: a",
        "shout: A",
        "joined: ab",
        "shout: B",
        "status: completed",
    ]
    routines = document["routines"]
    assert routines["source"]["class"] == "__main__:Source"
    assert routines["joiner"]["slots"][0]["merge_strategy"] == "__main__:concat"
    assert routines["loud"]["slots"][0]["handler"] == "__main__:shout"


def test_another_program_refuses_the_scripts_document_without_importing_it(
    tmp_path: Path,
) -> None:
    _run(tmp_path, "script.py", SCRIPT, str(tmp_path / "flow.json"))

    out = _run(tmp_path, "other.py", OTHER, str(tmp_path / "flow.json"))

    assert out.startswith("refused: ")
    assert "'__main__:Source', of the script that wrote the document" in out
    assert "Move it into a module, or register it" in out


def test_a_class_defined_in_a_function_still_needs_a_registry() -> None:
    class Local(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", handler=self.go)

        def go(self) -> None:
            pass

    flow = Flow()
    flow.add_routine(Local(), "local")

    with pytest.raises(SerializationError, match="is defined inside a function"):
        flow.serialize()
    document = flow.serialize(registry={"Local": Local})
    assert type(Flow.deserialize(document, registry={"Local": Local}).routines["local"]) is Local


def _probe_module(tmp_path: Path, name: str) -> Path:
    """A module that leaves a file behind when it is imported."""
    marker = tmp_path / f"{name}.imported"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            f"""
            from pathlib import Path
            from routilux import Routine

            Path({str(marker)!r}).write_text("imported")

            class Probe(Routine):
                def __init__(self):
                    super().__init__()
                    self.define_slot("trigger", handler=self.go)

                def go(self):
                    pass
            """
        )
    )
    return marker


class Probe(Routine):
    """Stands in for the probe module's class while the document is written."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.go)

    def go(self) -> None:
        pass


def _document(module: str) -> dict[str, Any]:
    """A flow document whose one routine is the class ``Probe`` of ``module``."""
    flow = Flow(flow_id="probe")
    flow.add_routine(Probe(), "probe")
    document = flow.serialize()
    document["routines"]["probe"]["class"] = f"{module}:Probe"
    return document


def test_allowed_modules_refuses_any_other_import_before_it_happens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    marker = _probe_module(tmp_path, "routilux_probe_refused")

    with pytest.raises(SerializationError, match="not among the allowed modules") as refused:
        Flow.deserialize(_document("routilux_probe_refused"), allowed_modules=["myapp"])

    assert "nothing was imported" in str(refused.value)
    assert not marker.exists()
    assert "routilux_probe_refused" not in sys.modules


def test_allowed_modules_lets_a_module_under_a_prefix_be_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    marker = _probe_module(tmp_path, "routilux_probe_allowed")
    try:
        flow = Flow.deserialize(
            _document("routilux_probe_allowed"), allowed_modules=["routilux_probe_allowed"]
        )
    finally:
        sys.modules.pop("routilux_probe_allowed", None)

    assert marker.exists()
    assert list(flow.routines) == ["probe"]


@pytest.mark.parametrize("reader", ["load", "from_file"])
def test_allowed_modules_also_guards_the_file_readers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    module = f"routilux_probe_{reader}"
    marker = _probe_module(tmp_path, module)
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(_document(module)))
    read = getattr(Flow, reader)

    with pytest.raises(SerializationError, match="not among the allowed modules"):
        read(path, allowed_modules=["myapp"])
    assert not marker.exists()
    assert module not in sys.modules

    try:
        flow = read(path, allowed_modules=[module])
    finally:
        sys.modules.pop(module, None)
    assert marker.exists()
    assert list(flow.routines) == ["probe"]


def test_a_function_handler_of_an_importable_module_is_written_by_its_import_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "routilux_probe_handlers.py").write_text(
        textwrap.dedent(
            """
            from routilux import Routine

            SEEN = []

            def note(value):
                SEEN.append(value)

            class Noter(Routine):
                def __init__(self):
                    super().__init__()
                    self.define_slot("trigger", handler=note)
            """
        )
    )
    try:
        import routilux_probe_handlers as handlers  # type: ignore[import-not-found]

        flow = Flow(flow_id="handlers")
        flow.add_routine(handlers.Noter(), "noter")
        document = flow.serialize()
        assert "routilux_probe_handlers:note" in json.dumps(document["routines"]["noter"])

        rebuilt = Flow.deserialize(json.loads(json.dumps(document)))
        rebuilt.execute("noter", {"value": 7})
        assert handlers.SEEN == [7]
    finally:
        sys.modules.pop("routilux_probe_handlers", None)


@pytest.mark.parametrize("bad", ["myapp", ["my app"], [1], ["a:b"]])
def test_allowed_modules_must_be_module_names(bad: object) -> None:
    with pytest.raises(ValueError, match="allowed_modules must be a list of module names"):
        Flow.deserialize(_document("x"), allowed_modules=bad)  # type: ignore[arg-type]


def test_a_lambda_handler_is_refused_naming_its_slot() -> None:
    class Lambda(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("input", handler=lambda **_: None)

    flow = Flow()
    flow.add_routine(Lambda(), "lam")

    with pytest.raises(SerializationError, match=r"handler of slot 'input' of routine 'lam'"):
        flow.serialize(registry={"Lambda": Lambda})
