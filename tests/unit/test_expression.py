"""Unit tests for the safe expression evaluator in routilux._expression."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Iterator, Mapping
from fractions import Fraction
from typing import Any

import pytest

from routilux._expression import (
    DEFAULT_LIMITS,
    CompiledExpression,
    ExpressionLimits,
    compile_expression,
)
from routilux._expression._bounds import OperationRefusedError
from routilux.exceptions import ExpressionEvaluationError, ExpressionRejectedError

DATA: dict[str, Any] = {
    "value": 15,
    "name": "  Alice Smith ",
    "text": "a,b,c",
    "items": [3, 1, 2],
    "pair": (1, 2, 2),
    "nested": {"a": {"b": 7}},
    "flag": True,
    "none": None,
    "ratio": 0.5,
    "digits": "123",
}
CONFIG: dict[str, Any] = {"threshold": 10, "mode": "fast"}
ENV: dict[str, Any] = {"data": DATA, "config": CONFIG}


def evaluate(source: str, env: Mapping[str, Any] = ENV, **kwargs: Any) -> Any:
    return compile_expression(source, **kwargs).evaluate(env)


# (source, expected): each is what Python itself gives for the same text.
CONSTRUCTS: list[tuple[str, Any]] = [
    # constants
    ("None", None),
    ("True", True),
    ("False", False),
    ("42", 42),
    ("-7", -7),
    ("1.5", 1.5),
    ("'text'", "text"),
    ('"double"', "double"),
    ("'con' 'cat'", "concat"),
    ("1_000", 1000),
    ("0x1F", 31),
    # names and subscripts
    ("data['value']", 15),
    ("config['mode']", "fast"),
    ("data['nested']['a']['b']", 7),
    ("data['items'][0]", 3),
    ("data['items'][-1]", 2),
    ("data['items'][1:]", [1, 2]),
    ("data['items'][::-1]", [2, 1, 3]),
    ("data['items'][:2]", [3, 1]),
    ("data['text'][0:3:2]", "ab"),
    ("data['pair'][data['items'][1]]", 2),
    # displays
    ("(1, 2)", (1, 2)),
    ("()", ()),
    ("(data['value'],)", (15,)),
    ("[1, data['value']]", [1, 15]),
    ("[]", []),
    ("{1, 2, 2}", {1, 2}),
    ("{'a': 1, 'b': data['value']}", {"a": 1, "b": 15}),
    ("{}", {}),
    # comparisons
    ("data['value'] > 10", True),
    ("data['value'] >= 15", True),
    ("data['value'] < 15", False),
    ("data['value'] <= 14", False),
    ("data['value'] == 15", True),
    ("data['value'] != 15", False),
    ("1 < data['value'] < 20", True),
    ("1 < data['value'] < 10", False),
    ("0 < 1 < 2 < 3 > 2", True),
    ("3 in data['items']", True),
    ("4 not in data['items']", True),
    ("'b' in data['text']", True),
    ("'value' in data", True),
    ("data['none'] is None", True),
    ("data['flag'] is not None", True),
    # boolean operators
    ("data['flag'] and data['value']", 15),
    ("data['none'] and data['value']", None),
    ("data['none'] or data['value']", 15),
    ("data['none'] or 0 or ''", ""),
    ("not data['flag']", False),
    ("not data['none']", True),
    ("data['value'] > 1 and data['value'] < 20 and data['flag']", True),
    # arithmetic
    ("data['value'] + 1", 16),
    ("data['value'] - 20", -5),
    ("data['value'] * 2", 30),
    ("data['value'] / 2", 7.5),
    ("data['value'] // 4", 3),
    ("data['value'] % 4", 3),
    ("-data['value'] % 4", 1),
    ("data['value'] ** 2", 225),
    ("2 ** -1", 0.5),
    ("data['value'] << 2", 60),
    ("data['value'] >> 2", 3),
    ("data['value'] & 6", 6),
    ("data['value'] | 16", 31),
    ("data['value'] ^ 5", 10),
    ("-data['value']", -15),
    ("+data['value']", 15),
    ("~data['value']", -16),
    ("data['ratio'] * 4", 2.0),
    ("2 + 3 * 4 ** 2 // 5", 11),
    ("'ab' + data['text']", "aba,b,c"),
    ("'ab' * 3", "ababab"),
    ("3 * [0]", [0, 0, 0]),
    ("data['items'] + [4]", [3, 1, 2, 4]),
    ("data['pair'] + (3,)", (1, 2, 2, 3)),
    # conditional expressions
    ("'big' if data['value'] > 10 else 'small'", "big"),
    ("'big' if data['value'] > 100 else 'small'", "small"),
    # builtins
    ("len(data['items'])", 3),
    ("min(data['items'])", 1),
    ("max(data['items'])", 3),
    ("min(4, data['value'], 9)", 4),
    ("abs(-data['value'])", 15),
    ("any([0, data['none'], 1])", True),
    ("all(data['items'])", True),
    ("isinstance(data['value'], int)", True),
    ("isinstance(data['ratio'], (int, float))", True),
    ("isinstance(data['name'], dict)", False),
    ("str(data['value'])", "15"),
    ("int(data['digits'])", 123),
    ("int('ff', 16)", 255),
    ("float(data['digits'])", 123.0),
    ("bool(data['none'])", False),
    ("round(data['ratio'] * 7)", 4),
    ("round(2.675, 2)", 2.67),
    ("round(1234, -2)", 1200),
    ("sorted(data['items'])", [1, 2, 3]),
    ("list(data['pair'])", [1, 2, 2]),
    ("tuple(data['items'])", (3, 1, 2)),
    ("dict([('a', 1)])", {"a": 1}),
    ("set(data['pair'])", {1, 2}),
    ("sorted(data['nested'])", ["a"]),
    ("int", int),
    ("[str, len]", [str, len]),
    # methods on dict
    ("data.get('value', 0) > 10", True),
    ("data.get('missing')", None),
    ("data.get('missing', 'default')", "default"),
    ("sorted(data['nested'].keys())", ["a"]),
    ("list(data['nested']['a'].values())", [7]),
    ("list(data['nested']['a'].items())", [("b", 7)]),
    # methods on str
    ("data['name'].startswith('  A')", True),
    ("data['name'].endswith(('x', ' '))", True),
    ("data['name'].lower()", "  alice smith "),
    ("data['name'].upper()", "  ALICE SMITH "),
    ("data['name'].strip()", "Alice Smith"),
    ("data['name'].lstrip()", "Alice Smith "),
    ("data['name'].rstrip()", "  Alice Smith"),
    ("data['text'].split(',')", ["a", "b", "c"]),
    ("data['text'].split(',', 1)", ["a", "b,c"]),
    ("data['name'].split()", ["Alice", "Smith"]),
    ("data['name'].count('i')", 2),
    ("data['name'].find('Smith')", 8),
    ("data['digits'].isdigit()", True),
    ("data['text'].isalpha()", False),
    ("'abc1'.isalnum()", True),
    ("'  '.isspace()", True),
    ("data['text'].replace(',', ';')", "a;b;c"),
    ("data['text'].replace(',', '', 1)", "ab,c"),
    ("'hello world'.title()", "Hello World"),
    # methods on list and tuple
    ("data['items'].count(3)", 1),
    ("data['items'].index(2)", 2),
    ("data['pair'].count(2)", 2),
    ("data['pair'].index(2)", 1),
    ("config.get('threshold') < data['value']", True),
]


@pytest.mark.parametrize(("source", "expected"), CONSTRUCTS)
def test_allowed_constructs_evaluate_like_python(source: str, expected: Any) -> None:
    result = evaluate(source)
    assert result == expected
    assert type(result) is type(expected)


class RecordingEnv(Mapping[str, Any]):
    """An environment that records every name looked up in it."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values
        self.looked_up: list[str] = []

    def __getitem__(self, key: str) -> Any:
        self.looked_up.append(key)
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


@pytest.mark.parametrize(
    ("source", "expected", "looked_up"),
    [
        ("data and config", 0, ["data"]),
        ("data or config", 1, ["data", "config"]),
        ("config or data", 1, ["config"]),
        ("config if data else data", 0, ["data", "data"]),
        ("data if config else config", 0, ["config", "data"]),
        ("not data and config", 1, ["data", "config"]),
        ("data > 1 > config", False, ["data"]),
    ],
)
def test_short_circuit_skips_unneeded_operands(
    source: str, expected: Any, looked_up: list[str]
) -> None:
    env = RecordingEnv({"data": 0, "config": 1})
    assert compile_expression(source).evaluate(env) == expected
    assert env.looked_up == looked_up


def test_short_circuit_skips_failing_operands() -> None:
    assert evaluate("data['flag'] or data['missing']") is True
    assert evaluate("data['none'] and data['missing']") is None
    assert evaluate("data['missing'] if data['none'] else 1") == 1
    assert evaluate("0 > data['value'] > data['missing']") is False


def test_constant_condition_skips_failing_constant_like_python() -> None:
    assert evaluate("False and 1 / 0") is False
    assert evaluate("True or 9 ** 9 ** 9") is True
    assert evaluate("1 if True else 1 // 0") == 1
    assert evaluate("2 < 1 < 1 // 0") is False


def test_comparison_chain_evaluates_each_operand_once() -> None:
    env = RecordingEnv({"data": 5, "config": 7})
    assert compile_expression("1 < data < config < 10").evaluate(env) is True
    assert env.looked_up == ["data", "config"]


def test_comparison_chain_returns_the_failing_comparison_result() -> None:
    class Falsy:
        def __lt__(self, other: object) -> Any:
            return ""

    env = {"data": Falsy(), "config": 3}
    assert compile_expression("data < config < 5").evaluate(env) == ""


class LoudStr(str):
    def lower(self) -> str:
        raise AssertionError("the subclass method must not run")

    def startswith(self, *args: Any) -> bool:
        raise AssertionError("the subclass method must not run")


class LoudDict(dict[str, Any]):
    def get(self, *args: Any) -> Any:
        raise AssertionError("the subclass method must not run")


class LoudList(list[int]):
    def count(self, value: Any) -> int:
        raise AssertionError("the subclass method must not run")


@pytest.mark.parametrize(
    ("source", "receiver", "expected"),
    [
        ("data.lower()", LoudStr("ABC"), "abc"),
        ("data.startswith('A')", LoudStr("ABC"), True),
        ("data.get('a')", LoudDict(a=1), 1),
        ("data.count(1)", LoudList([1, 1]), 2),
    ],
)
def test_subclass_receiver_uses_the_builtin_method(
    source: str, receiver: Any, expected: Any
) -> None:
    result = compile_expression(source).evaluate({"data": receiver})
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("source", "receiver"),
    [
        ("data.get('a')", [1]),
        ("data.lower()", {"a": 1}),
        ("data.index(1)", "a1"),
        ("data.keys()", ("a",)),
        ("data.replace('a', 'b')", ["a"]),
        ("data.count(1)", {1: 1}),
        ("data.get('a')", type("Lookalike", (), {"get": lambda self, key: 1})()),
    ],
)
def test_method_not_allowed_for_receiver_type(source: str, receiver: Any) -> None:
    with pytest.raises(ExpressionEvaluationError, match="not allowed on") as caught:
        compile_expression(source).evaluate({"data": receiver})
    assert isinstance(caught.value.__cause__, TypeError)


def test_name_missing_from_environment() -> None:
    expression = compile_expression("data['value'] > config['threshold']")
    with pytest.raises(
        ExpressionEvaluationError, match="'config' is not in the environment"
    ) as caught:
        expression.evaluate({"data": DATA})
    assert isinstance(caught.value.__cause__, NameError)


@pytest.mark.parametrize(
    ("source", "cause"),
    [
        ("data['missing']", KeyError),
        ("data['items'][10]", IndexError),
        ("data['value'] + 'a'", TypeError),
        ("data['value'] / (data['value'] - 15)", ZeroDivisionError),
        ("data['value'] % 0", ZeroDivisionError),
        ("int(data['name'])", ValueError),
        ("max(data['items'][:0])", ValueError),
        ("data['none'][0]", TypeError),
        ("(data['ratio'] + 1.5) ** 100000", OverflowError),
        ("float(10 ** 400 + data['value'])", OverflowError),
        ("sorted([data['value'], 'a'])", TypeError),
    ],
)
def test_runtime_failures_become_evaluation_errors(source: str, cause: type[Exception]) -> None:
    with pytest.raises(ExpressionEvaluationError) as caught:
        evaluate(source)
    assert isinstance(caught.value.__cause__, cause)
    assert source[:20] in str(caught.value)
    assert cause.__name__ in str(caught.value)


def test_environment_that_is_not_a_mapping_fails_cleanly() -> None:
    with pytest.raises(ExpressionEvaluationError):
        compile_expression("data").evaluate(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("source", "data", "pattern"),
    [
        ("data['a'] ** data['b']", {"a": 2, "b": 10**6}, r"power 2 \*\* 1000000 exceeds"),
        ("data['a'] ** data['b']", {"a": 3, "b": 10**100}, "power 3 .* exceeds"),
        ("data['a'] ** data['b']", {"a": Fraction(3, 2), "b": -(10**6)}, "power .* exceeds"),
        ("data['s'] * data['n']", {"s": "ab", "n": 10**9}, "repetition would have"),
        ("data['n'] * data['s']", {"s": [0], "n": 10**6}, "repetition would have"),
        ("data['s'] * data['n']", {"s": b"x", "n": 10**6}, "repetition would have"),
        ("data['s'] * data['n']", {"s": [[0] * 1000], "n": 1000}, "would have at least"),
        ("data['s'] * data['n']", {"s": ("x" * 1000,), "n": 1000}, "would have at least"),
        ("str(data['s'])", {"s": [[0] * 50_000] * 3}, r"str\(\) would have at least"),
        ("data['a'] * data['b']", {"a": 2**3000, "b": 2**3000}, "product .* exceeds"),
        ("data['a'] << data['b']", {"a": 1, "b": 10**9}, "shift 1 << 1000000000 exceeds"),
        ("data['a'] << data['b']", {"a": 1, "b": 10**300}, "shift 1 << .* exceeds"),
        ("data['s'] + data['s']", {"s": "x" * 60_000}, "concatenation would have"),
        ("data['a'] + 1", {"a": 2**5000}, "the result, an int of 5001 bits"),
        ("str(data['a'])", {"a": 2**5000}, r"str\(\) of <an int of 5001 bits>"),
        ("int(data['s'])", {"s": "9" * 5000}, r"int\(\) of a text of 5000 characters"),
        ("round(data['a'], data['n'])", {"a": 7, "n": -(10**9)}, r"round\(\) to -1000000000"),
        ("round(data['a'], data['n'])", {"a": Fraction(1, 3), "n": 10**9}, r"round\(\) to"),
        ("data['s'].replace('a', 'aaaa')", {"s": "a" * 50_000}, r"replace\(\) would have"),
        ("data['s'].replace('', 'aaa')", {"s": "b" * 30_000}, r"replace\(\) would have"),
        ("list(data['s'])", {"s": "x" * 100_001}, "the result would have 100001 items"),
        ("data['s'].split('x')", {"s": "x" * 100_000}, "the result would have 100001 items"),
        ("data['s'] % data['n']", {"s": "%*d", "n": (10**9, 1)}, "formatting with % is not"),
    ],
)
def test_runtime_limits_are_checked_before_computing(
    source: str, data: dict[str, Any], pattern: str
) -> None:
    with pytest.raises(ExpressionEvaluationError, match=pattern) as caught:
        compile_expression(source).evaluate({"data": data})
    assert isinstance(caught.value.__cause__, OperationRefusedError)


@pytest.mark.parametrize(
    ("source", "data", "expected"),
    [
        ("data['a'] ** data['b']", {"a": 1, "b": 10**100}, 1),
        ("data['a'] ** data['b']", {"a": -1, "b": 10**100 + 1}, -1),
        ("data['a'] ** data['b']", {"a": 0, "b": 10**100}, 0),
        ("data['a'] ** data['b']", {"a": 2, "b": -(10**4)}, 0.0),
        ("data['a'] ** data['b']", {"a": 2, "b": 4095}, 2**4095),
        ("data['a'] ** data['b']", {"a": 2.0, "b": 0.5}, 2.0**0.5),
        ("data['a'] << data['b']", {"a": 0, "b": 10**9}, 0),
        ("data['a'] >> data['b']", {"a": 5, "b": 10**100}, 0),
        ("data['s'] * data['n']", {"s": "ab", "n": -(10**9)}, ""),
        ("round(data['a'], data['n'])", {"a": 1.25, "n": 10**9}, 1.25),
        ("round(data['a'], data['n'])", {"a": 12345, "n": -2}, 12300),
        ("data['a'] * data['b']", {"a": 2**2000, "b": 2**2000}, 2**4000),
    ],
)
def test_runtime_limits_allow_what_stays_small(
    source: str, data: dict[str, Any], expected: Any
) -> None:
    assert compile_expression(source).evaluate({"data": data}) == expected


def test_evaluation_error_message_names_expression_and_failure() -> None:
    with pytest.raises(ExpressionEvaluationError) as caught:
        evaluate("data['value'] // 0")
    message = str(caught.value)
    assert "data['value'] // 0" in message
    assert "ZeroDivisionError: integer division or modulo by zero" in message


def test_long_expression_is_shortened_in_messages() -> None:
    source = "data['missing'] + [" + ", ".join(["1"] * 60) + "]"
    with pytest.raises(ExpressionEvaluationError) as caught:
        evaluate(source)
    assert "..." in str(caught.value)
    assert len(str(caught.value)) < 200


def test_fresh_values_are_not_shared_between_evaluations() -> None:
    expression = compile_expression("[1, 2]")
    first = expression.evaluate(ENV)
    first.append(3)
    assert expression.evaluate(ENV) == [1, 2]
    nested = compile_expression("(1, [2])")
    nested.evaluate(ENV)[1].append(3)
    assert nested.evaluate(ENV) == (1, [2])
    sort = compile_expression("sorted((3, 1))")
    sort.evaluate(ENV).append(0)
    assert sort.evaluate(ENV) == [1, 3]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (field, value)
        for field in (
            "max_length",
            "max_nodes",
            "max_depth",
            "max_int_bits",
            "max_sequence_length",
            "max_steps",
        )
        for value in (0, -1, True, 1.5, "10", None)
    ],
)
def test_limits_must_be_positive_ints(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=f"ExpressionLimits.{field} must be a positive int"):
        ExpressionLimits(**{field: value})


def test_limits_defaults_and_immutability() -> None:
    assert ExpressionLimits() == DEFAULT_LIMITS
    assert DEFAULT_LIMITS.max_length == 2000
    assert DEFAULT_LIMITS.max_nodes == 500
    assert DEFAULT_LIMITS.max_depth == 32
    assert DEFAULT_LIMITS.max_int_bits == 4096
    assert DEFAULT_LIMITS.max_sequence_length == 100_000
    assert DEFAULT_LIMITS.max_steps == 1_000_000
    with pytest.raises(AttributeError):
        DEFAULT_LIMITS.max_length = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("limits", "allowed", "refused", "pattern"),
    [
        (ExpressionLimits(max_length=10), "1 + 2", "1 + 2 + 3 + 4", "characters long"),
        (ExpressionLimits(max_nodes=3), "1 + 2", "1 + 2 + 3", "syntax nodes"),
        (ExpressionLimits(max_depth=2), "-(1)", "-(-(1))", "nests 3 levels"),
        (ExpressionLimits(max_depth=2), "[1]", "[[1]]", "nests 3 levels"),
        (ExpressionLimits(max_int_bits=64), "2 ** 63", "2 ** 64", "limit of 64 bits"),
        (ExpressionLimits(max_int_bits=64), "2 ** 31 * 2 ** 31", "2 ** 32 * 2 ** 31", "64 bits"),
        (ExpressionLimits(max_int_bits=64), "18446744073709551615", "18446744073709551616", "64"),
        (ExpressionLimits(max_sequence_length=4), "'ab' * 2", "'ab' * 3", "limit of 4"),
        (ExpressionLimits(max_sequence_length=4), "'ab' + 'cd'", "'ab' + 'cde'", "limit of 4"),
    ],
)
def test_custom_limits_apply(
    limits: ExpressionLimits, allowed: str, refused: str, pattern: str
) -> None:
    compile_expression(allowed, limits=limits)
    with pytest.raises(ExpressionRejectedError, match=pattern):
        compile_expression(refused, limits=limits)


def test_custom_limits_apply_at_run_time() -> None:
    limits = ExpressionLimits(max_int_bits=64, max_sequence_length=4)
    expression = compile_expression("data['a'] ** data['b']", limits=limits)
    assert expression.evaluate({"data": {"a": 2, "b": 63}}) == 2**63
    with pytest.raises(ExpressionEvaluationError, match="limit of 64 bits"):
        expression.evaluate({"data": {"a": 2, "b": 64}})
    upper = compile_expression("data.upper()", limits=limits)
    assert upper.evaluate({"data": "abcd"}) == "ABCD"
    with pytest.raises(ExpressionEvaluationError, match="limit of 4"):
        upper.evaluate({"data": "abcde"})


def test_limits_must_be_expression_limits() -> None:
    with pytest.raises(TypeError, match="ExpressionLimits"):
        compile_expression("1", limits={"max_length": 5})  # type: ignore[arg-type]


def test_custom_names() -> None:
    expression = compile_expression("event['kind'] == 'click' and user", names=["event", "user"])
    assert expression.names == frozenset({"event", "user"})
    assert expression.evaluate({"event": {"kind": "click"}, "user": "ann"}) == "ann"
    with pytest.raises(ExpressionRejectedError, match="the name 'data' is not allowed"):
        compile_expression("data", names=["event"])
    with pytest.raises(ExpressionRejectedError, match="allowed names are event and the builtins"):
        compile_expression("data", names=("event",))
    with pytest.raises(ExpressionRejectedError, match="allowed names are the builtins"):
        compile_expression("data", names=())
    assert compile_expression("len('ab')", names=()).evaluate({}) == 2


@pytest.mark.parametrize(
    ("names", "error", "pattern"),
    [
        ("data", TypeError, "not a single str"),
        (["_secret"], ValueError, "underscore"),
        (["__builtins__"], ValueError, "underscore"),
        (["not valid"], ValueError, "identifiers"),
        (["lambda"], ValueError, "identifiers"),
        ([1], ValueError, "identifiers"),
        (["len"], ValueError, "builtin"),
    ],
)
def test_bad_names_are_refused(names: Any, error: type[Exception], pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        compile_expression("1", names=names)


def test_compiled_expression_value_behaviour() -> None:
    expression = compile_expression("data['value'] > 10")
    assert repr(expression) == "CompiledExpression(\"data['value'] > 10\")"
    assert expression.source == "data['value'] > 10"
    assert expression.names == frozenset({"data", "config"})
    assert expression.limits is DEFAULT_LIMITS
    assert expression == compile_expression("data['value'] > 10")
    assert hash(expression) == hash(compile_expression("data['value'] > 10"))
    assert expression != compile_expression("data['value'] > 10", names=["data"])
    assert expression != "data['value'] > 10"
    assert copy.copy(expression) is expression
    assert copy.deepcopy(expression) is expression
    restored = pickle.loads(pickle.dumps(expression))
    assert restored == expression
    assert restored.evaluate(ENV) is True
    assert CompiledExpression("1 + 1").evaluate({}) == 2


def test_compiled_expression_is_immutable() -> None:
    expression = compile_expression("1")
    with pytest.raises(AttributeError, match="immutable"):
        expression.source = "2"
    with pytest.raises(AttributeError, match="immutable"):
        del expression.source
    with pytest.raises(AttributeError):
        expression.extra = 1
    assert not hasattr(expression, "__dict__")


def test_surrounding_whitespace_is_ignored_like_eval() -> None:
    assert evaluate("  data['value'] > 10\n") is True
    assert evaluate("\tdata['value']") == 15
    assert evaluate("(data['value']\n  + 1)") == 16


@pytest.mark.parametrize(
    ("source", "where"),
    [
        ("  1 + )", "unmatched '\\)' at column 7"),
        ("1 + )", "at column 5"),
        ("1 2", "at column 3"),
        ("1 +", r"\(invalid syntax\)"),
        ("(1 +\n 2))", "at line 2, column 4"),
    ],
)
def test_syntax_errors_say_where(source: str, where: str) -> None:
    with pytest.raises(ExpressionRejectedError, match=f"not a single valid expression .*{where}"):
        compile_expression(source)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("2 ** 10", 1024),
        ("len('abc') + 1", 4),
        ("isinstance(1, (int, float))", True),
        ("'a,b'.split(',')", ["a", "b"]),
        ("(1, (2, 'x'))[1][1].upper()", "X"),
        ("'x' * 3 if 2 > 1 else 1 / 0", "xxx"),
        ("{'a': 1}.get('a')", 1),
    ],
)
def test_constant_expressions_fold(source: str, expected: Any) -> None:
    assert compile_expression(source).evaluate({}) == expected


@pytest.mark.parametrize(
    ("source", "pattern"),
    [
        ("1 / 0", r"the constant part 1 / 0 raises ZeroDivisionError"),
        ("'a' + 1", "raises TypeError"),
        ("[1, 2][5]", "raises IndexError"),
        ("{'a': 1}['b']", "raises KeyError"),
        ("int('x')", "raises ValueError"),
        ("data['value'] + 1 / 0", "1 / 0 raises ZeroDivisionError"),
        ("data['x'] if data['ok'] else 1 // 0", "1 // 0 raises ZeroDivisionError"),
        ("{[]: 1}", "raises TypeError"),
        ("9 ** 9 ** 9", r"the power 9 \*\* 387420489 exceeds the limit of 4096 bits\."),
        ("'a' * 10 ** 9", r"the repetition would have 1000000000 items"),
        ("1 << 10 ** 6", r"the shift 1 << 1000000 exceeds"),
        ("2.0 ** 10000", "raises OverflowError"),
        ("'%s' % 1", "string formatting with % is not allowed"),
        ("'abc'.index('b')", r"the method index\(\) is not allowed on a str"),
        ("r'\\d' + '\\d'", "invalid escape sequence"),
    ],
)
def test_failing_constant_parts_are_rejected(source: str, pattern: str) -> None:
    with pytest.raises(ExpressionRejectedError, match=pattern) as caught:
        compile_expression(source)
    assert caught.value.expression == source
    assert caught.value.reason.endswith(".")


# --- comprehensions -----------------------------------------------------------

LINES: list[dict[str, Any]] = [
    {"sku": "a", "qty": 2, "ok": True},
    {"sku": "b", "qty": 5, "ok": False},
    {"sku": "c", "qty": 7, "ok": True},
]
COMPREHENSION_ENV: dict[str, Any] = {
    "data": {**DATA, "lines": LINES, "pairs": [(1, "x"), (2, "y")], "grid": [[1, 2], [3]]},
    "config": CONFIG,
}

# (source, expected): each is what Python itself gives for the same text.
COMPREHENSIONS: list[tuple[str, Any]] = [
    ("any(x > 2 for x in data['items'])", True),
    ("any(x > 3 for x in data['items'])", False),
    ("all(x > 0 for x in data['items'])", True),
    ("sum(i['qty'] for i in data['lines'] if i['ok'])", 9),
    ("sum((i['qty'] for i in data['lines']), 100)", 114),
    ("sum(x / 2 for x in data['items'])", 3.0),
    ("min(i['qty'] for i in data['lines'])", 2),
    ("max(len(w) for w in data['name'].split())", 5),
    ("sorted(i['sku'] for i in data['lines'] if i['qty'] > 3)", ["b", "c"]),
    ("list(x for x in data['text'].split(','))", ["a", "b", "c"]),
    ("tuple(x * 2 for x in data['pair'])", (2, 4, 4)),
    ("set(x % 2 for x in data['items'])", {0, 1}),
    ("dict((i['sku'], i['qty']) for i in data['lines'])", {"a": 2, "b": 5, "c": 7}),
    ("[x * 2 for x in data['items']]", [6, 2, 4]),
    ("[x for x in data['items'] if x > 1 if x < 3]", [2]),
    ("{x % 2 for x in data['items']}", {0, 1}),
    ("{i['sku']: i['qty'] for i in data['lines'] if i['ok']}", {"a": 2, "c": 7}),
    ("{k: v for k, v in data['nested'].items()}", {"a": {"b": 7}}),
    ("[k for k, v in data['pairs'] if v == 'y']", [2]),
    ("[(n, s) for (n, s) in data['pairs']]", [(1, "x"), (2, "y")]),
    ("[a + b for a, [b] in [(1, [2]), (3, [4])]]", [3, 7]),
    ("[a + b for a, b in ['xy', 'zw']]", ["xy", "zw"]),
    ("[(a, b) for a in data['items'] for b in data['items'] if a < b]", [(1, 3), (1, 2), (2, 3)]),
    ("[y for row in data['grid'] for y in row]", [1, 2, 3]),
    ("[[y * x for y in data['items']] for x in (1, 10)]", [[3, 1, 2], [30, 10, 20]]),
    ("[[x for x in row] for row in data['grid']]", [[1, 2], [3]]),
    ("[(x, [x for x in 'ab'], x) for x in 'cd']", [("c", ["a", "b"], "c"), ("d", ["a", "b"], "d")]),
    ("len([o for o in data['lines'] if o['sku'] in ('a', 'c')])", 2),
    ("[x for x in data['items'] if x in config.values()]", []),
    ("[c.upper() for c in data['text'] if c.isalpha()]", ["A", "B", "C"]),
    ("[x for x in data if x.startswith('n')]", ["name", "nested", "none"]),
    ("[data for data in data['items']]", [3, 1, 2]),
    ("([data for data in data['items']], data['value'])", ([3, 1, 2], 15)),
    ("[config['mode'] for x in data['items'][:1]]", ["fast"]),
    ("[x for x in []]", []),
    ("any(x for x in ())", False),
    ("[x * 2 for x in (1, 2)]", [2, 4]),
    ("sum(1 for a in 'abc' for b in 'ab')", 6),
]


@pytest.mark.parametrize(("source", "expected"), COMPREHENSIONS)
def test_comprehensions_evaluate_like_python(source: str, expected: Any) -> None:
    result = evaluate(source, COMPREHENSION_ENV)
    assert result == expected
    assert type(result) is type(expected)


def test_comprehension_variables_stay_inside_the_comprehension() -> None:
    env = {"data": [1, 2], "config": {"x": "outer"}}
    before = {"data": [1, 2], "config": {"x": "outer"}}
    source = "([config for config in data], config['x'], [[x, [x for x in 'ab'], x] for x in 'c'])"
    assert evaluate(source, env) == ([1, 2], "outer", [["c", ["a", "b"], "c"]])
    assert env == before


def test_a_comprehension_variable_is_not_a_name_outside_it() -> None:
    with pytest.raises(ExpressionRejectedError, match="the name 'x' is not allowed"):
        compile_expression("[x for x in data] + [x]")
    with pytest.raises(ExpressionRejectedError, match="the name 'x' is not allowed"):
        compile_expression("[x for x in x]")


def test_a_variable_of_a_later_clause_has_no_value_yet() -> None:
    expression = compile_expression("[1 for a in data for b in c for c in data]")
    with pytest.raises(
        ExpressionEvaluationError, match="'c' is used before it has a value"
    ) as caught:
        expression.evaluate({"data": [1]})
    assert isinstance(caught.value.__cause__, NameError)


def test_comprehension_reads_the_environment_lazily_like_python() -> None:
    env = RecordingEnv({"data": [1, 2], "config": 0})
    assert compile_expression("[config for x in data]").evaluate(env) == [0, 0]
    assert env.looked_up == ["data", "config", "config"]
    empty = RecordingEnv({"data": [], "config": 0})
    assert compile_expression("[config['missing'] for x in data]").evaluate(empty) == []
    assert empty.looked_up == ["data"]


@pytest.mark.parametrize(
    ("source", "data", "cause", "message"),
    [
        (
            "[a for a, b in data]",
            [(1, 2, 3)],
            ValueError,
            r"too many values to unpack \(expected 2\)",
        ),
        (
            "[a for a, b in data]",
            [(1,)],
            ValueError,
            r"not enough values to unpack \(expected 2, got 1\)",
        ),
        ("[a for a, b in data]", [1], TypeError, "cannot unpack non-iterable int object"),
        ("[x for x in data]", 5, TypeError, "'int' object is not iterable"),
        ("min(x for x in data)", [], ValueError, "empty"),
        ("sum(x for x in data)", ["a"], TypeError, "unsupported operand"),
        ("[x['k'] for x in data]", [{}], KeyError, "KeyError"),
        ("{x: 1 for x in data}", [[1]], TypeError, "unhashable type"),
        ("dict(x for x in data)", [(1, 2, 3)], ValueError, "too many values to unpack"),
    ],
)
def test_comprehension_failures_are_evaluation_errors(
    source: str, data: Any, cause: type[Exception], message: str
) -> None:
    with pytest.raises(ExpressionEvaluationError, match=message) as caught:
        compile_expression(source).evaluate({"data": data})
    assert isinstance(caught.value.__cause__, cause)


def test_any_and_all_stop_at_the_first_decisive_element() -> None:
    assert evaluate("any(10 // x > 1 for x in data)", {"data": [1, 0]}) is True
    assert evaluate("all(10 // x > 10 for x in data)", {"data": [1, 0]}) is False
    with pytest.raises(ExpressionEvaluationError, match="ZeroDivisionError"):
        evaluate("any(10 // x > 10 for x in data)", {"data": [1, 0]})


def test_comprehension_results_are_built_anew_each_time() -> None:
    for source in ("[x for x in (1, 2)]", "{x: [x] for x in (1, 2)}", "[[x] for x in data]"):
        expression = compile_expression(source)
        first = expression.evaluate({"data": [1, 2]})
        assert expression.evaluate({"data": [1, 2]}) is not first
    nested = compile_expression("[[y for y in (1, 2)] for x in data]").evaluate({"data": "ab"})
    nested[0].append(3)
    assert nested == [[1, 2, 3], [1, 2]]


@pytest.mark.parametrize(
    ("source", "pattern"),
    [
        ("[x for x in data] [", "not a single valid expression"),
        ("(x for x in data)", "a generator expression is allowed only as the argument of all"),
        ("len(x for x in data)", "a generator expression is allowed only as the argument of"),
        ("sorted((x for x in data), 1)", "a generator expression is allowed only as"),
        ("[_ for _ in data]", "comprehension variables starting with an underscore, such as '_'"),
        ("[x for x, _y in data]", "such as '_y', are not allowed"),
        ("[str for str in data]", r"'str' would hide the builtin str\(\); choose another name"),
        ("[1 for data['k'] in data]", "must be a name or a tuple of names"),
        ("[1 for data.k in data]", "must be a name or a tuple of names"),
        ("[1 for a, *b in data]", "starred targets"),
        ("[x async for x in data]", "asynchronous comprehensions"),
        ("[x for x in data if (y := x)]", "assignment expressions"),
        ("[x for x in data for y in x.__dict__]", "starting with an underscore"),
        ("[x(0) for x in data]", "calling 'x' is not allowed"),
        ("[x for x in data if 1 // 0]", r"the constant part 1 // 0 raises ZeroDivisionError"),
        ("[x for x in data if data] + [1 / 0 for y in data]", r"1 / 0 raises ZeroDivisionError"),
        ("[1 / 0 for x in (1, 2)]", r"1 / 0 raises ZeroDivisionError"),
        ("min(x for x in ())", r"raises ValueError: min\(\) arg is an empty sequence"),
        ("[x for x in 5]", "raises TypeError: 'int' object is not iterable"),
        ("sum(1 for a in 'x' * 99999 for b in 'x' * 99999)", "limit of 1000000 steps"),
        ("sum(x for x in [[1]])", "raises TypeError"),
    ],
)
def test_refused_comprehensions(source: str, pattern: str) -> None:
    with pytest.raises(ExpressionRejectedError, match=pattern) as caught:
        compile_expression(source)
    assert caught.value.reason.endswith(".")


def test_constant_comprehensions_fold_like_python() -> None:
    assert evaluate("[1 / 0 for x in ()]", {}) == []
    assert evaluate("sum(x * x for x in (1, 2, 3))", {}) == 14
    assert evaluate("False and [1 // 0 for x in (1,)]", {}) is False


@pytest.mark.parametrize(
    ("source", "ok", "too_many"),
    [
        # One step for each item taken, plus one for each name read and each
        # operation run for it, plus one for each item or character an
        # operation reads or builds; a constant element costs nothing more.
        ("sum(1 for x in data)", 10, 11),  # 1 a item
        ("sum(1 for a in data for b in data)", 2, 3),  # 2 an item of a (1 + data), 1 of b
        ("any(x < 0 for x in data)", 2, 3),  # 1 + x, <, reading x and 0: 5 an item
        ("[x for x in data]", 3, 4),  # 1 + x, keeping x: 3 an item
        ("any(x in config for x in data)", 1, 2),  # 1 + x, in, config, reading both: 6
    ],
)
def test_comprehensions_spend_steps(source: str, ok: int, too_many: int) -> None:
    limits = ExpressionLimits(max_steps=10)
    expression = compile_expression(source, limits=limits)
    expression.evaluate({"data": list(range(ok)), "config": {"k": 1}})
    with pytest.raises(ExpressionEvaluationError, match="limit of 10 steps") as caught:
        expression.evaluate({"data": list(range(too_many)), "config": {"k": 1}})
    assert isinstance(caught.value.__cause__, OperationRefusedError)


@pytest.mark.parametrize(
    ("source", "data"),
    [
        # Reading a value item by item costs its size...
        ("any(x in config for x in data)", {"data": [1], "config": list(range(100))}),
        ("any(x == config for x in data)", {"data": [1], "config": "a" * 100}),
        ("any(config.lower() for x in data)", {"data": [1], "config": "a" * 100}),
        ("any(sorted(config) for x in data)", {"data": [1], "config": [[0]] * 50}),
        # ... and so does building one...
        ("any(x * 100 for x in data)", {"data": ["a"], "config": 0}),
        ("any(config[1:] for x in data)", {"data": [1], "config": "a" * 101}),
        # ... and keeping one in a list, a set or a dict.
        ("[config for x in data]", {"data": [1], "config": "a" * 100}),
        ("{x: config for x in data}", {"data": [1], "config": list(range(100))}),
    ],
)
def test_steps_count_what_an_operation_reads_and_builds(source: str, data: dict[str, Any]) -> None:
    expression = compile_expression(source, limits=ExpressionLimits(max_steps=99))
    with pytest.raises(ExpressionEvaluationError, match="limit of 99 steps"):
        expression.evaluate(data)


@pytest.mark.parametrize(
    "source",
    [
        # Looking an item up in a dict or a set, taking an item, asking a
        # length or reading a dict's item cost one step, whatever the size.
        "any(x in config for x in data)",
        "any(len(config) > 1000 for x in data)",
        "any(config.get('k') for x in data)",
        "sum(config[x] for x in data)",
        "[x for x in data if config]",
    ],
)
def test_quick_operations_cost_a_step_whatever_the_size(source: str) -> None:
    config = dict.fromkeys(range(10_000), 0)
    expression = compile_expression(source, limits=ExpressionLimits(max_steps=20))
    expression.evaluate({"data": [1, 2], "config": config})


def test_steps_are_shared_by_every_comprehension_of_an_evaluation() -> None:
    limits = ExpressionLimits(max_steps=10)
    single = compile_expression("sum(1 for x in data)", limits=limits)
    double = compile_expression("sum(1 for x in data) + sum(1 for x in data)", limits=limits)
    assert single.evaluate({"data": "abcdef"}) == 6
    with pytest.raises(ExpressionEvaluationError, match="limit of 10 steps"):
        double.evaluate({"data": "abcdef"})
    # Each evaluation starts with all its steps again.
    assert single.evaluate({"data": "abcdef"}) == 6


@pytest.mark.parametrize(
    ("source", "what"),
    [
        ("[x for x in data]", "the list comprehension"),
        ("{x for x in data}", "the set comprehension"),
        ("{x: 1 for x in data}", "the dict comprehension"),
        ("list(x for x in data)", r"list\(\) of the elements"),
        ("tuple(x for x in data)", r"tuple\(\) of the elements"),
        ("sorted(x for x in data)", r"sorted\(\) of the elements"),
        ("set(x for x in data)", r"set\(\) of the elements"),
        ("dict((x, x) for x in data)", r"dict\(\) of the elements"),
    ],
)
def test_what_a_comprehension_builds_is_limited_in_length(source: str, what: str) -> None:
    expression = compile_expression(source, limits=ExpressionLimits(max_sequence_length=5))
    assert len(expression.evaluate({"data": "abcde"})) == 5
    with pytest.raises(ExpressionEvaluationError, match=f"{what} would have at least 6 items"):
        expression.evaluate({"data": "abcdef"})


def test_a_set_or_dict_comprehension_counts_distinct_items() -> None:
    limits = ExpressionLimits(max_sequence_length=5)
    expression = compile_expression("{x % 2 for x in data}", limits=limits)
    assert expression.evaluate({"data": list(range(100))}) == {0, 1}
    elements = compile_expression("max(x for x in data)", limits=limits)
    assert elements.evaluate({"data": list(range(100))}) == 99


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("sum(data['items'])", 6),
        ("sum(data['items'], 10)", 16),
        ("sum([data['ratio'], 1])", 1.5),
        ("sum([])", 0),
    ],
)
def test_sum_adds_numbers(source: str, expected: Any) -> None:
    assert evaluate(source) == expected


def test_sum_refuses_to_join_sequences() -> None:
    with pytest.raises(ExpressionRejectedError, match=r"sum\(\) adds numbers only"):
        compile_expression("sum([[1], [2]], [])")
    with pytest.raises(ExpressionEvaluationError, match=r"not a list") as caught:
        compile_expression("sum(data, [])").evaluate({"data": [[1]] * 10})
    assert isinstance(caught.value.__cause__, OperationRefusedError)
    with pytest.raises(ExpressionEvaluationError, match="limit of 4096 bits"):
        compile_expression("sum(data)").evaluate({"data": [2**4095] * 4})
