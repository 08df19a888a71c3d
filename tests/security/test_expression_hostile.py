"""Hostile expressions must be refused by routilux._expression, and run nothing."""

from __future__ import annotations

import ast
import contextlib
import gc
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import routilux._expression
from routilux._expression import compile_expression
from routilux._expression._bounds import OperationRefusedError
from routilux._expression._parse import PARSE_FILENAME
from routilux.exceptions import ExpressionEvaluationError, ExpressionRejectedError

_UNDERSCORE = "starting with an underscore"
_NAME = "the name '{}' is not allowed"

# (source, regex the rejection message must match)
HOSTILE: list[tuple[Any, str]] = [
    # dunder walks
    ("().__class__.__bases__[0].__subclasses__()", _UNDERSCORE),
    ("data.__class__", _UNDERSCORE),
    ("''.__class__.__mro__", _UNDERSCORE),
    ("[].__class__.__base__", _UNDERSCORE),
    ("[].__class__.__base__.__subclasses__()[0].__init__.__globals__['sys']", _UNDERSCORE),
    ("object.__subclasses__()", _UNDERSCORE),
    ("data.items.__self__", _UNDERSCORE),
    ("data.get.__globals__", _UNDERSCORE),
    ("data.__dict__", _UNDERSCORE),
    ("config.__getitem__('x')", _UNDERSCORE),
    ("len.__self__.__dict__['eval']", _UNDERSCORE),
    ("True.__class__", _UNDERSCORE),
    ("'a'.__add__('b')", _UNDERSCORE),
    ("data._private", _UNDERSCORE),
    # frames, code and generator internals
    ("data.func_globals", "the attribute 'func_globals' is not allowed"),
    ("data.gi_frame", "the attribute 'gi_frame' is not allowed"),
    ("data.gi_code.co_consts", "the attribute 'co_consts' is not allowed"),
    ("data.f_back.f_globals", "the attribute 'f_globals' is not allowed"),
    ("data.tb_frame", "the attribute 'tb_frame' is not allowed"),
    # builtins that are not on the list
    ("__import__('os').system('x')", "the attribute 'system' is not allowed"),
    ("__import__('os')", _NAME.format("__import__")),
    ("getattr(data, 'x')", _NAME.format("getattr")),
    ("setattr(data, 'x', 1)", _NAME.format("setattr")),
    ("open('/etc/passwd')", _NAME.format("open")),
    ("eval('1')", _NAME.format("eval")),
    ("exec('1')", _NAME.format("exec")),
    ("compile('1', '', 'eval')", _NAME.format("compile")),
    ("globals()", _NAME.format("globals")),
    ("vars()", _NAME.format("vars")),
    ("locals()", _NAME.format("locals")),
    ("type(data)", _NAME.format("type")),
    ("object", _NAME.format("object")),
    ("__builtins__", _NAME.format("__builtins__")),
    ("__builtins__['eval']('1')", "only the builtins"),
    ("__builtins__['eval']", _NAME.format("__builtins__")),
    ("breakpoint()", _NAME.format("breakpoint")),
    ("help()", _NAME.format("help")),
    ("input()", _NAME.format("input")),
    ("print(data)", _NAME.format("print")),
    ("bytearray(10 ** 9)", _NAME.format("bytearray")),
    ("range(10 ** 12)", _NAME.format("range")),
    ("data if True else exit()", _NAME.format("exit")),
    # functions
    ("(lambda: 1)()", "lambda expressions are not allowed"),
    ("lambda: 0", "lambda expressions are not allowed"),
    ("(x := 1)", r"assignment expressions \(:=\) are not allowed"),
    ("[y := data, y]", r"assignment expressions \(:=\) are not allowed"),
    # comprehensions keep every rule of the sandbox
    ("[c for c in ().__class__.__bases__]", _UNDERSCORE),
    ("[x.__class__ for x in data]", _UNDERSCORE),
    ("[x for x in data if x.__class__.__subclasses__()]", _UNDERSCORE),
    ("{k: v for k, v in data.__dict__.items()}", _UNDERSCORE),
    ("any(x.__init__.__globals__ for x in data)", _UNDERSCORE),
    ("[x.gi_frame for x in data]", "the attribute 'gi_frame' is not allowed"),
    ("[x.format for x in data]", "the attribute 'format' is not allowed"),
    ("[x.items for x in data]", "reading an attribute is not allowed"),
    ("[x(1) for x in data]", "calling 'x' is not allowed"),
    ("[x['f']() for x in data]", "only the builtins"),
    ("[getattr(x, 'y') for x in data]", _NAME.format("getattr")),
    ("[x for x in data if open('/etc/passwd')]", _NAME.format("open")),
    ("[__import__('os') for x in data]", _NAME.format("__import__")),
    ("[_ for _ in data]", "comprehension variables starting with an underscore, such as '_'"),
    ("[x for x, __builtins__ in data]", "comprehension variables starting with an underscore"),
    ("[1 for _x in data]", "comprehension variables starting with an underscore"),
    ("[len for len in data]", r"would hide the builtin len\(\)"),
    ("[getattr(g, 'x') for g, getattr in data]", "calling 'getattr' is not allowed"),
    ("[1 for data['x'] in config]", "must be a name or a tuple of names"),
    ("[1 for data.x in config]", "must be a name or a tuple of names"),
    ("[1 for a, *b in data]", r"starred targets \(for \*x in \.\.\.\) are not allowed"),
    ("[x async for x in data]", r"asynchronous comprehensions \(async for\) are not allowed"),
    ("[1 for a in b for b in data]", _NAME.format("b")),
    ("[x for x in data if (y := x)]", r"assignment expressions \(:=\) are not allowed"),
    ("[y := x for x in data]", r"assignment expressions \(:=\) are not allowed"),
    ("[lambda: x for x in data]", "lambda expressions are not allowed"),
    ("[(yield x) for x in data]", "yield expressions are not allowed"),
    ("[f'{x}' for x in data]", "f-strings are not allowed"),
    ("[x for x in data for x.y in data]", "must be a name or a tuple of names"),
    # a generator expression is consumed at once, never handed out
    ("(x for x in data)", "a generator expression is allowed only as the argument of"),
    ("[(x for x in data)]", "a generator expression is allowed only as the argument of"),
    ("((x for x in data),)", "a generator expression is allowed only as the argument of"),
    ("str(x for x in data)", "a generator expression is allowed only as the argument of"),
    ("len(x for x in data)", "a generator expression is allowed only as the argument of"),
    ("bool(x for x in data)", "a generator expression is allowed only as the argument of"),
    ("isinstance((x for x in data), int)", "a generator expression is allowed only as"),
    ("max((x for x in data), 1)", "a generator expression is allowed only as the argument of"),
    ("min(1, (x for x in data))", "a generator expression is allowed only as the argument of"),
    ("data.get(x for x in data)", "a generator expression is allowed only as the argument of"),
    ("(x for x in data) if data else 0", "a generator expression is allowed only as"),
    ("any(x for x in data) or (y for y in data)", "a generator expression is allowed only as"),
    ("[y for y in (x for x in data)]", "a generator expression is allowed only as"),
    ("next(x for x in data)", _NAME.format("next")),
    ("iter(x for x in data)", _NAME.format("iter")),
    ("sum(x for x in data).__class__", _UNDERSCORE),
    # iteration counts and products are bounded; constant ones fail while compiling
    ("sum(1 for a in 'x' * 99999 for b in 'x' * 99999)", "limit of 1000000 steps"),
    ("[1 for a in 'ab' * 1000 for b in 'ab' * 1000]", "the list comprehension would have at least"),
    ("sum(1 for a in 'ab' * 1000 for b in 'ab' * 1000)", "limit of 1000000 steps"),
    ("any(False for a in 'x' * 200 for b in 'x' * 200 for c in 'x' * 200)", "limit of 1000000"),
    ("[[1 for a in 'x' * 1000] for b in 'x' * 1000]", "limit of 1000000 steps"),
    ("len({a + b for a in 'x' * 99999 for b in 'x' * 99})", "limit of 1000000 steps"),
    ("['a' * 99999 for x in 'x' * 100]", "limit of 1000000 steps"),
    ("[[0] * 99999 for x in 'x' * 100]", "limit of 1000000 steps"),
    ("sum(len(x * 99999) for x in 'x' * 1000)", "limit of 1000000 steps"),
    ("any(x in 'a' * 99999 for x in 'b' * 1000)", "limit of 1000000 steps"),
    ("str([x for x in 'ab' * 50000] * 2)", "the repetition would have at least"),
    ("sum(x for x in [[1], [2]])", "unsupported operand"),
    ("sum([[1], [2]], [])", r"sum\(\) adds numbers only"),
    ("sum((x for x in 'ab'), '')", r"sum\(\) adds numbers only"),
    ("await data", "await expressions are not allowed"),
    ("(yield data)", "yield expressions are not allowed"),
    # formatting tricks
    ("f'{data.__class__}'", "f-strings are not allowed"),
    ("f'{data}'", "f-strings are not allowed"),
    ("'{0.__class__}'.format(data)", "the attribute 'format' is not allowed"),
    ("str.format('{0.__class__}', data)", "the attribute 'format' is not allowed"),
    ("'{}'.format_map(data)", "the attribute 'format_map' is not allowed"),
    ("'%s' % 1", "string formatting with % is not allowed"),
    ("'%*d' % (10 ** 9, 1)", "string formatting with % is not allowed"),
    # attributes read without a call
    ("data.items", "reading an attribute is not allowed"),
    ("data.get", "reading an attribute is not allowed"),
    ("[data.replace][0]('a', 'b')", "only the builtins"),
    ("[data.replace]", "reading an attribute is not allowed"),
    # huge values
    ("9**9**9", r"the power 9 \*\* 387420489 exceeds the limit of 4096 bits"),
    ("2**100000", r"the power 2 \*\* 100000 exceeds the limit of 4096 bits"),
    ("10**10**10", r"the power 10 \*\* 10000000000 exceeds"),
    ("(2 ** 4000) * (2 ** 4000)", "the product .* exceeds the limit of 4096 bits"),
    ("'x' * 10**10", "the repetition would have 10000000000 items"),
    ("[0] * 10**8", "the repetition would have at least 100000000 items"),
    # repeating a large item multiplies the work of printing or comparing it
    ("str([[0] * 100000] * 100000)", "the repetition would have at least"),
    ("['a' * 100000] * 100000", "the repetition would have at least"),
    ("[[0] * 100000] * 99999 == [[0] * 100000] * 99999", "the repetition would have at least"),
    ("str([2 ** 4000] * 100000)", "the repetition would have at least"),
    ("str(((0,) * 100000,) * 100000)", "the repetition would have at least"),
    ("('a' * 99999) + ('b' * 99999)", "the concatenation would have 199998 items"),
    ("'a'.replace('', 'b' * 99999)", r"replace\(\) would have"),
    ("1 << 10**7", "the shift 1 << 10000000 exceeds"),
    ("round(1, -10 ** 9)", r"round\(\) to -1000000000 digits exceeds"),
    ("str(2 ** 4000 * 2 ** 95)", "exceeds the limit of 4096 bits"),
    ("1" + "0" * 1999, "number literal of .* bits exceeds the limit"),
    # deep nesting and size
    ("(" * 200 + "1" + ")" * 200, "nests 200 levels deep, more than the limit of 32"),
    ("-" * 500 + "1", "syntax nodes|levels deep"),
    ("[" * 100 + "]" * 100, "nests 100 levels deep"),
    ("not " * 1000 + "True", "characters long|levels deep"),
    ("not " * 400 + "True", "levels deep"),
    ('"' + "a" * 5000 + '"', "5002 characters long, more than the limit of 2000"),
    ("+".join(["1"] * 1000), "syntax nodes, more than the limit of 500"),
    ("[" + ",".join(["1"] * 600) + "]", "601 syntax nodes, more than the limit of 500"),
    # literals and syntax that is not allowed
    ("b'abc'", "bytes literals are not allowed"),
    ("1j", "complex number literals"),
    ("...", r"the ellipsis \(\.\.\.\) is not allowed"),
    ("import os", "not a single valid expression"),
    ("data = 1", "not a single valid expression"),
    ("1; import os", "not a single valid expression"),
    ("'\\d'", "invalid escape sequence"),
    ("1\x00", "null bytes"),
    ("data @ data", r"matrix multiplication operator \(@\) is not allowed"),
    # argument smuggling
    ("sorted(data, key=len)", "keyword arguments are not allowed"),
    ("dict(__builtins__=1)", "keyword arguments are not allowed"),
    ("len(**data)", r"keyword argument unpacking \(\*\*\) is not allowed"),
    ("max(*data)", "starred arguments are not allowed"),
    ("[*data]", r"starred expressions \(\*x\) are not allowed"),
    ("{**data}", r"dictionary unpacking \(\*\*\) is not allowed"),
    ("data(1)", "calling 'data' is not allowed"),
    ("data['f']()", "only the builtins"),
    ("(str if data else int)(1)", "only the builtins"),
    ("data[1:2, 3]", "a slice is only allowed alone inside brackets"),
    # not a str
    (None, "must be a plain str, not an object of type NoneType"),
    (b"1 + 1", "must be a plain str, not an object of type bytes"),
    (123, "must be a plain str, not an object of type int"),
    (["1"], "must be a plain str, not an object of type list"),
    (type("Text", (str,), {})("1"), "must be a plain str, not an object of type Text"),
]


def _case_id(case: tuple[Any, str]) -> str:
    shown = repr(case[0])
    return shown if len(shown) <= 40 else shown[:37] + "..."


def test_there_are_enough_hostile_cases() -> None:
    assert len(HOSTILE) >= 40


@pytest.mark.parametrize(("source", "pattern"), HOSTILE, ids=[_case_id(c) for c in HOSTILE])
def test_hostile_expression_is_rejected(source: Any, pattern: str) -> None:
    with pytest.raises(ExpressionRejectedError, match=pattern) as caught:
        compile_expression(source)
    assert caught.value.reason.endswith(".")
    # The message must stay readable however long the expression is.
    assert len(str(caught.value)) < 600


# --- audit hook gate ------------------------------------------------------
#
# An audit hook cannot be removed, so one is installed for the whole session;
# it records events only while a test sets the flag, and only on that thread.

_GATE: dict[str, Any] = {"thread": None}
_EVENTS: list[tuple[str, tuple[Any, ...]]] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _GATE["thread"] == threading.get_ident():
        _EVENTS.append((event, args))


sys.addaudithook(_audit)

_FORBIDDEN_PREFIXES = (
    "import",
    "exec",
    "compile",
    "open",
    "os.",
    "subprocess.",
    "shutil.",
    "object.__getattr__",
    "object.__setattr__",
    "object.__delattr__",
    "sys._getframe",
    "sys.settrace",
    "sys.setprofile",
    "builtins.",
    "code.__new__",
    "function.__new__",
    "ctypes.",
    "socket.",
    "marshal.",
    "pickle.",
    "cpython.",
    "urllib.",
    "webbrowser.",
)


class _Recording:
    def __enter__(self) -> list[tuple[str, tuple[Any, ...]]]:
        _EVENTS.clear()
        _GATE["thread"] = threading.get_ident()
        return _EVENTS

    def __exit__(self, *exc_info: object) -> None:
        _GATE["thread"] = None


def _forbidden(events: list[tuple[str, tuple[Any, ...]]]) -> list[str]:
    found = []
    for event, args in events:
        # ast.parse raises one "compile" event; it builds a tree, not code.
        if event == "compile" and args[-1] == PARSE_FILENAME:
            continue
        if event.startswith(_FORBIDDEN_PREFIXES):
            found.append(event)
    return found


class _Lookalike:
    """Has methods named like allowed ones; none of them may run."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def get(self, *args: Any) -> Any:
        return open(self.path, "w")

    def lower(self) -> Any:
        return __import__("os").system("true")

    def count(self, *args: Any) -> Any:
        return compile("1", "<x>", "eval")


# (source, data): expressions that compile; evaluating them must do nothing
# forbidden, whatever they return or raise.
PROBES: list[tuple[str, str]] = [
    ("data.get('x')", "lookalike"),
    ("data.lower()", "lookalike"),
    ("data.count(1)", "lookalike"),
    ("data.replace('a', 'b')", "path"),
    ("data.split('/')", "path"),
    ("data.index(0)", "path"),
    ("data.get('value', 0) > 10", "dict"),
    ("sorted(data.keys())", "dict"),
    ("str(data)", "dict"),
    ("data.lower().split()", "text"),
    ("len(data) + int('7') * 2 ** 10", "text"),
    ("data['missing']", "dict"),
    ("data['a'] ** data['b']", "big"),
    ("[x.get('x') for x in [data]]", "lookalike"),
    ("sorted(x.lower() for x in [data, data])", "lookalike"),
    ("{x.count(1): 1 for x in (data,)}", "lookalike"),
    ("any(x.replace('a', 'b') for x in [data])", "path"),
    ("sum(1 for x in data)", "path"),
    ("[k for k, v in data.items() if v > 10]", "dict"),
    ("max(len(w) for w in data.split())", "text"),
]


def _probe_data(kind: str, tmp_path: Path) -> Any:
    values: dict[str, Any] = {
        "lookalike": _Lookalike(tmp_path / "lookalike-canary"),
        "path": tmp_path / "path-canary",
        "dict": {"value": 15},
        "text": "Hello World",
        "big": {"a": 2, "b": 10**9},
    }
    return values[kind]


def test_hostile_expressions_raise_no_forbidden_audit_events() -> None:
    for source, _ in HOSTILE:
        with _Recording() as events:
            with pytest.raises(ExpressionRejectedError):
                compile_expression(source)
            found = _forbidden(events)
            compiles = [args for event, args in events if event == "compile"]
        assert found == [], f"{source!r} raised audit events {found}"
        assert len(compiles) <= 1


@pytest.mark.parametrize(("source", "kind"), PROBES)
def test_evaluation_raises_no_forbidden_audit_events(
    source: str, kind: str, tmp_path: Path
) -> None:
    data = _probe_data(kind, tmp_path)
    with _Recording() as events:
        expression = compile_expression(source)
        with contextlib.suppress(ExpressionEvaluationError):
            expression.evaluate({"data": data, "config": {}})
        found = _forbidden(events)
    assert found == []
    assert not any(tmp_path.iterdir())


def test_audit_gate_sees_forbidden_events() -> None:
    with _Recording() as events:
        compile("1", "<probe>", "eval")
        found = _forbidden(events)
    assert found == ["compile"]


# --- comprehensions over the data --------------------------------------------


class Endless:
    """Iterates for ever, counting the items taken."""

    def __init__(self) -> None:
        self.taken = 0

    def __iter__(self) -> Endless:
        return self

    def __next__(self) -> int:
        self.taken += 1
        return self.taken


_STEPS = "the comprehensions need more than the limit of 1000000 steps"
_BIG = list(range(100_001))

# (source, data, regex the evaluation error must match): each runs away with
# the data it is given, and must be stopped by a limit.
RUNAWAYS: list[tuple[str, Any, str]] = [
    ("sum(1 for a in data for b in data)", list(range(10_000)), _STEPS),
    ("sum(1 for a in data for b in data for c in data)", list(range(200)), _STEPS),
    ("any(a + b + c == 'x' for a in data for b in data for c in data)", "ab" * 100, _STEPS),
    ("[x for x in data if x in data]", list(range(100_000)), _STEPS),
    ("any(x == data for x in data)", [[0] * 1000] * 2000, _STEPS),
    ("[x * 99999 for x in data]", ["a"] * 1000, _STEPS),
    ("sum(len(str(data)) for x in data)", [[0] * 100] * 100, _STEPS),
    ("sorted(data) == [y for x in data for y in sorted(data)]", ["a" * 50] * 1000, _STEPS),
    ("[data for x in data]", ["a" * 10_000] * 200, _STEPS),
    ("{x: data for x in data}", list(range(1000)), _STEPS),
    ("any(False for x in data)", Endless(), _STEPS),
    ("sum(x for x in data)", Endless(), _STEPS),
    ("[x for x in data][-1]", Endless(), "the list comprehension would have at least 100001"),
    ("len([x for x in data])", _BIG, "the list comprehension would have at least 100001 items"),
    ("len({x for x in data})", _BIG, "the set comprehension would have at least 100001 items"),
    ("len({x: 1 for x in data})", _BIG, "the dict comprehension would have at least 100001"),
    ("len(sorted(x for x in data))", _BIG, r"sorted\(\) of the elements would have at least"),
    ("len(set(x for x in data))", _BIG, r"set\(\) of the elements would have at least"),
    ("len(dict((x, x) for x in data))", _BIG, r"dict\(\) of the elements would have at least"),
]


@pytest.mark.parametrize(
    ("source", "data", "pattern"), RUNAWAYS, ids=[source for source, _, _ in RUNAWAYS]
)
def test_runaway_comprehension_is_stopped_by_a_limit(source: str, data: Any, pattern: str) -> None:
    expression = compile_expression(source)
    with pytest.raises(ExpressionEvaluationError, match=pattern) as caught:
        expression.evaluate({"data": data})
    assert isinstance(caught.value.__cause__, OperationRefusedError)


def test_an_endless_iterable_is_read_only_as_far_as_the_steps_allow() -> None:
    endless = Endless()
    with pytest.raises(ExpressionEvaluationError, match=_STEPS):
        compile_expression("any(x < 0 for x in data)").evaluate({"data": endless})
    assert endless.taken <= 1_000_000
    with pytest.raises(ExpressionEvaluationError, match="too many values to unpack"):
        compile_expression("[a for a, b in [data]]").evaluate({"data": Endless()})


class Watched:
    """An iterable whose iterators record when they are closed."""

    def __init__(self) -> None:
        self.closed = 0

    def __iter__(self) -> Iterator[int]:
        try:
            yield from range(10)
        finally:
            self.closed += 1


def _suspended_generators() -> list[types.GeneratorType[Any, Any, Any]]:
    # A generator that has not finished holds its frame, and could go on.
    package = Path(routilux._expression.__file__).parent
    return [
        found
        for found in gc.get_objects()
        if isinstance(found, types.GeneratorType)
        and Path(found.gi_code.co_filename).parent == package
        and found.gi_frame is not None
    ]


@pytest.mark.parametrize(
    "source",
    [
        "any(x > 0 for x in data)",
        "all(x < 0 for x in data)",
        "max(x for x in data)",
        "sum(x for x in data if x)",
        "sorted(x for x in data)",
        "[x for x in data if 1 // x]",
        "any(y > 0 for x in data for y in data)",
    ],
)
def test_no_generator_outlives_its_evaluation(source: str) -> None:
    watched = Watched()
    with contextlib.suppress(ExpressionEvaluationError):
        result = compile_expression(source).evaluate({"data": watched})
        assert not isinstance(result, types.GeneratorType)
    # Stopping early (any, all, an error) closes what was being read at once.
    assert _suspended_generators() == []
    assert watched.closed >= 1


# --- canaries ---------------------------------------------------------------


def _canary_expressions(canary: Path) -> list[str]:
    path = str(canary)
    return [
        f"open({path!r}, 'w')",
        f"__import__('os').system('touch {path}')",
        f"__import__('pathlib').Path({path!r}).touch()",
        f"[open({path!r}, 'w') for _ in [1]]",
        f"(lambda: open({path!r}, 'w'))()",
        f"exec(\"open({path!r}, 'w')\")",
        f"eval(\"open({path!r}, 'w')\")",
        f"f'{{open({path!r}, \"w\")}}'",
        "data.write_text('x')",
        "data.touch()",
        "data.open('w')",
        f"().__class__.__base__.__subclasses__()[0]({path!r})",
    ]


def test_canary_file_is_never_created(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    for source in _canary_expressions(canary):
        with pytest.raises(ExpressionRejectedError):
            compile_expression(source).evaluate({"data": canary})
    assert not canary.exists()


def test_lookalike_receivers_run_no_code(tmp_path: Path) -> None:
    target = tmp_path / "moved"
    original = tmp_path / "original"
    original.write_text("x")
    renamer = compile_expression(f"data.replace({str(target)!r})")
    with pytest.raises(
        ExpressionEvaluationError, match=r"not allowed on a (PosixPath|WindowsPath)"
    ):
        renamer.evaluate({"data": original})
    assert original.exists()
    assert not target.exists()

    canary = tmp_path / "canary"

    class Sneaky(str):
        def lower(self) -> str:
            canary.write_text("ran")
            return "sneaky"

    assert compile_expression("data.lower()").evaluate({"data": Sneaky("ABC")}) == "abc"
    with pytest.raises(ExpressionEvaluationError, match="not allowed on a _Lookalike"):
        compile_expression("data.get('k')").evaluate({"data": _Lookalike(canary)})
    assert not canary.exists()


# --- the evaluator's own source -------------------------------------------

_BANNED_NAMES = frozenset({"eval", "exec", "compile", "__import__", "getattr", "setattr"})
_BANNED_MODULES = frozenset({"pickle", "marshal", "importlib", "os", "subprocess", "ctypes"})


def _package_sources() -> Iterator[Path]:
    yield from sorted(Path(routilux._expression.__file__).parent.glob("*.py"))


def test_package_source_has_no_eval_exec_or_compile() -> None:
    files = list(_package_sources())
    assert len(files) >= 5
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                assert node.id not in _BANNED_NAMES, f"{path.name}:{node.lineno} uses {node.id}"
            if isinstance(node, ast.Attribute):
                assert node.attr not in _BANNED_NAMES, f"{path.name}:{node.lineno}"
            if isinstance(node, ast.Import):
                modules = {alias.name.split(".")[0] for alias in node.names}
                assert not modules & _BANNED_MODULES, f"{path.name}:{node.lineno}"
            if isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] not in _BANNED_MODULES
