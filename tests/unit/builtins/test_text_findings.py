"""ResultExtractor's own finders: JSON in prose, fenced code, key-value and list lines."""

from __future__ import annotations

from typing import Any

import pytest

from routilux.builtin_routines._text_findings import find


def best(text: str, kind: str, *, strict: bool = False) -> tuple[Any, float]:
    """The best finding's result and confidence."""
    findings = find(text, kind, strict=strict)
    assert findings, f"no {kind} found"
    return findings[0].result, findings[0].confidence


def others(text: str, kind: str) -> list[tuple[Any, float]]:
    """The findings after the best one, best first."""
    return [(f.result, f.confidence) for f in find(text, kind, strict=False)[1:]]


ANSWER = """Sure! Here is the profile you asked for:

```json
{
  "name": "Ada Lovelace",
  "born": 1815,
  "interests": ["mathematics", "poetry"]
}
```

Let me know if you need anything else."""

PROFILE = {"name": "Ada Lovelace", "born": 1815, "interests": ["mathematics", "poetry"]}


# -- JSON -------------------------------------------------------------------------------------


def test_a_fenced_json_block_in_prose_is_found_with_full_confidence() -> None:
    assert best(ANSWER, "json") == (PROFILE, 1.0)


def test_the_fenced_block_is_also_code() -> None:
    code, confidence = best(ANSWER, "code")
    assert code["language"] == "json"
    assert confidence == 1.0


def test_trailing_commas_are_repaired_with_lower_confidence() -> None:
    text = '```json\n{"a": [1, 2,], "b": "x,]",}\n```'
    assert best(text, "json") == ({"a": [1, 2], "b": "x,]"}, 0.85)


def test_strict_mode_does_not_repair() -> None:
    assert find('```json\n{"a": [1, 2,],}\n```', "json", strict=True) == []


def test_a_whole_text_that_is_json_has_high_confidence() -> None:
    assert best('  {"status": "ok", "items": [1, 2]}\n', "json") == (
        {"status": "ok", "items": [1, 2]},
        0.95,
    )


def test_json_embedded_in_prose_is_found_whole_not_its_parts() -> None:
    text = 'The answer is {"a": {"b": [1, 2]}, "c": "}"} as requested.'
    assert best(text, "json") == ({"a": {"b": [1, 2]}, "c": "}"}, 0.7)
    assert others(text, "json") == []


def test_an_array_in_prose_has_less_confidence_than_an_object() -> None:
    text = 'The primes are [2, 3, 5] and the map is {"a": 1}.'
    assert best(text, "json") == ({"a": 1}, 0.7)
    assert others(text, "json") == [([2, 3, 5], 0.6)]


def test_embedded_json_is_not_found_in_strict_mode() -> None:
    assert find('The answer is {"a": 1}.', "json", strict=True) == []


def test_of_two_fenced_blocks_the_larger_is_first() -> None:
    text = 'Example:\n```json\n{"a": 1}\n```\nAnswer:\n```json\n{"a": 1, "b": 2}\n```'
    assert best(text, "json") == ({"a": 1, "b": 2}, 1.0)
    assert others(text, "json") == [({"a": 1}, 1.0)]


def test_a_json_fence_inside_a_markdown_fence_is_found() -> None:
    text = '````markdown\nUse this:\n```json\n{"x": 1}\n```\n````\n'
    assert best(text, "json") == ({"x": 1}, 1.0)


def test_a_fence_without_language_holding_json_is_json() -> None:
    assert best('Result:\n```\n[{"id": 1}]\n```', "json") == ([{"id": 1}], 0.9)


def test_a_json_fence_may_hold_a_scalar() -> None:
    assert best("```json\n42\n```", "json")[0] == 42


def test_json_inside_another_languages_fence_is_not_json() -> None:
    assert find('```python\nconfig = {"a": 1}\n```', "json", strict=False) == []


def test_a_broken_json_fence_is_searched_for_embedded_values() -> None:
    assert best('```json\n// the result\n{"a": 1}\n```', "json") == ({"a": 1}, 0.7)


def test_nan_and_infinity_are_not_json() -> None:
    assert find('```json\n{"a": NaN}\n```\n{"b": Infinity}', "json", strict=False) == []


def test_unicode_json_is_decoded() -> None:
    text = 'Voilà : {"ville": "Zürich", "emoji": "\\ud83d\\ude42"}'
    assert best(text, "json")[0] == {"ville": "Zürich", "emoji": "🙂"}


def test_quotes_in_prose_do_not_hide_json() -> None:
    assert best('He said "here it is": {"ok": true} — "done".', "json")[0] == {"ok": True}


def test_many_values_are_all_found() -> None:
    text = " ".join(f'{{"n": {n}}}' for n in range(50))
    assert len(find(text, "json", strict=False)) == 20


# -- code -------------------------------------------------------------------------------------


def test_a_fenced_code_block_is_found_with_its_language() -> None:
    text = "Try this:\n\n```python\ndef f():\n    return 1\n```\n"
    assert best(text, "code") == ({"language": "python", "code": "def f():\n    return 1"}, 1.0)


def test_a_code_block_without_language_has_less_confidence() -> None:
    assert best("```\nls -la\n```", "code") == ({"language": None, "code": "ls -la"}, 0.9)


def test_an_unclosed_fence_runs_to_the_end_with_less_confidence() -> None:
    assert best("Here:\n```bash\necho hi\necho bye", "code") == (
        {"language": "bash", "code": "echo hi\necho bye"},
        0.8,
    )


def test_strict_mode_ignores_unclosed_fences() -> None:
    assert find("```bash\necho hi", "code", strict=True) == []


def test_a_tilde_fence_and_a_longer_closing_fence_are_understood() -> None:
    assert best("~~~sql\nSELECT 1;\n~~~~\n", "code")[0] == {"language": "sql", "code": "SELECT 1;"}


# -- key-value and list lines -----------------------------------------------------------------


def test_key_value_lines_become_a_dict_of_strings() -> None:
    assert best("Name: Ada\n**Role:** admin\n- Team: core\n", "key_value") == (
        {"Name": "Ada", "Role": "admin", "Team": "core"},
        0.9,
    )


def test_key_value_confidence_falls_with_the_share_of_prose() -> None:
    text = "Here is what I found.\nName: Ada\nRole: admin\nHope this helps."
    assert best(text, "key_value") == ({"Name": "Ada", "Role": "admin"}, 0.7)


def test_a_later_key_value_line_overrides_an_earlier_one() -> None:
    assert best("status: draft\nstatus: final", "key_value")[0] == {"status": "final"}


def test_times_and_urls_are_not_key_value_lines() -> None:
    assert find("12:30\nhttps://example.com\nSee: //relative", "key_value", strict=False) == []


def test_strict_key_value_needs_the_whole_text() -> None:
    assert find("Intro.\nName: Ada", "key_value", strict=True) == []


def test_bullets_and_numbers_become_a_list() -> None:
    text = "Steps:\n1. install\n2) configure\n   with care\n- run\n\n* check\nThanks!"
    assert best(text, "list") == (["install", "configure", "run", "check"], 0.79)


def test_separate_lists_are_separate_findings() -> None:
    text = "- a\n- b\n- c\nand\n- d"
    assert best(text, "list")[0] == ["a", "b", "c"]
    assert others(text, "list") == [(["d"], 0.58)]


def test_lines_inside_fences_are_not_list_items() -> None:
    assert find("```\n- not an item\n```", "list", strict=False) == []


# -- bounds -----------------------------------------------------------------------------------


def test_a_huge_text_is_scanned() -> None:
    text = "word [1] " * 100_000 + '```json\n{"found": 1}\n```'
    assert best(text, "json")[0] == {"found": 1}


@pytest.mark.parametrize(
    "text",
    [
        "[" * 200_000,
        "{" * 100_000 + "}" * 100_000,
        '["' * 50_000,
        "```json\n" + "[" * 5000 + "]" * 5000,
    ],
)
def test_pathological_brackets_end_quickly_without_error(text: str) -> None:
    assert isinstance(find(text, "json", strict=False), list)


def test_json_nested_deeper_than_the_scanner_allows_yields_its_inner_part() -> None:
    value, _ = best("[" * 300 + "1" + "]" * 300, "json")
    depth = 0
    while isinstance(value, list):
        depth, value = depth + 1, value[0]
    assert depth <= 256
