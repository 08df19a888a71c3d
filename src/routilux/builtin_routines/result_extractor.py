"""ResultExtractor: pull structured results out of text and interpreter output."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from routilux import DefinitionError, Routine
from routilux.builtin_routines._callables import refuse_async
from routilux.builtin_routines._extractors import (
    DEFAULT_ORDER,
    PUBLISHED,
    Extraction,
    Extractor,
    confidence,
)
from routilux.builtin_routines._text_findings import KINDS, find

__all__ = ["ResultExtractor"]

logger = logging.getLogger("routilux")

#: ``first_match``, ``auto`` and ``priority`` take the first success; ``all``
#: gathers every success; ``best`` the one with the highest confidence.
STRATEGIES = ("auto", "first_match", "priority", "all", "best")
DEFAULT_MAX_TEXT_LENGTH = 100_000
#: Our kinds, as extractors: kind -> extractor name.
OWN = {
    "json": "json_in_text",
    "code": "code_in_text",
    "key_value": "key_value_in_text",
    "list": "list_in_text",
}
_FLAGS = (
    ("extract_json_blocks", True),
    ("extract_code_blocks", True),
    ("extract_yaml_blocks", False),
    ("extract_xml_blocks", False),
    ("format_interpreter_output", True),
    ("parse_json_strings", True),
    ("parse_yaml_strings", False),
    ("detect_nested_structures", True),
    ("continue_on_error", True),
    ("return_original_on_failure", True),
    ("log_errors", True),
)


class ResultExtractor(Routine):
    """Extract a structured result from text, interpreter output, dicts or lists.

    Slot ``input`` takes the message's data as the published routines do
    (:meth:`Routine._extract_input_data`; an empty message gives ``""``).
    Extractors are tried in order, each ``extractor(data, config) ->
    (result, format, metadata)`` or ``None``: the published ones
    (``interpreter_output``, ``json_code_block``, ``json_string``,
    ``yaml_code_block``, ``yaml_string``, ``xml_code_block``,
    ``code_block``, ``dict_extractor``, ``list_extractor``), then ours for
    text (``json_in_text``, ``code_in_text``, ``key_value_in_text``,
    ``list_in_text``, as ``extract`` lists them), then those added with
    :meth:`register_extractor`. ``extractor_priority`` puts the extractors
    it names first, in its order.

    Event ``output``: ``extracted_result``, ``format`` (``"json"``,
    ``"python"``, ``"dict"``...), ``metadata`` (the extractor's, plus
    ``extractor`` and ``strategy``), ``confidence`` (0 to 1) and
    ``extraction_path`` (the extractor's name, in a list). When no
    extractor succeeds, the data itself with ``metadata["extraction_method"]
    == "none"``, confidence ``0.0`` and an empty path; or, with
    ``return_original_on_failure=False``, the delivery fails with
    ``ValueError``. ``docs/builtins/result-extractor.md`` has the details.

    Config keys (the published ones first):
        strategy: ``"auto"`` (default), ``"first_match"`` or ``"priority"``
            (the first success), ``"all"`` (every success, as one result of
            format ``"multi"``) or ``"best"`` (the highest confidence).
        extractor_priority: Extractor names to try first, in order.
        extract_json_blocks, extract_code_blocks, extract_yaml_blocks,
        extract_xml_blocks, format_interpreter_output, parse_json_strings,
        parse_yaml_strings: Turn the published extractors on or off.
        code_block_languages: The languages ``code_block`` looks for.
        detect_nested_structures: Accepted; the published routine never reads it.
        continue_on_error: Go on after an extractor raises (default ``True``).
        return_original_on_failure: Emit the data itself when nothing is
            found (default ``True``).
        log_errors: Log a raising extractor as a warning (default ``True``).
        extract: Our kinds to look for in text after the published
            extractors: ``"json"`` (JSON embedded in prose), ``"code"``
            (any fenced block, as ``{"language", "code"}``), ``"key_value"``
            and ``"list"`` (default: all four, in that order; ``[]``: none).
        strict: Our kinds accept only what needs no guessing (default ``False``).
        max_text_length: Only this many leading characters of a text are
            examined (100000); the ``truncated`` stat counts longer texts.

    Raises:
        DefinitionError: From ``set_config``, for a bad key value.
        ValueError: Nothing was found and ``return_original_on_failure`` is off.
    """

    config_keys = (
        "strategy",
        "extractor_priority",
        *(flag for flag, _ in _FLAGS[:4]),
        "code_block_languages",
        *(flag for flag, _ in _FLAGS[4:]),
        "extract",
        "strict",
        "max_text_length",
    )

    def __init__(self) -> None:
        super().__init__()
        self._custom: dict[str, Extractor] = {}
        self.input_slot = self.define_slot("input", handler=self.extract)
        self.define_event(
            "output", ["extracted_result", "format", "metadata", "confidence", "extraction_path"]
        )
        defaults: dict[str, Any] = {"strategy": "auto", "extractor_priority": []}
        defaults.update(_FLAGS[:4])
        defaults["code_block_languages"] = ["json", "python", "output", "yaml", "xml"]
        defaults.update(_FLAGS[4:])
        defaults.update(extract=list(KINDS), strict=False, max_text_length=DEFAULT_MAX_TEXT_LENGTH)
        self.set_config(**defaults)

    def validate_config(self, config: Mapping[str, Any]) -> None:
        """Check every key; see the class docstring."""
        strategy = config.get("strategy")
        if strategy not in STRATEGIES:
            raise DefinitionError(
                f"ResultExtractor strategy must be one of {', '.join(map(repr, STRATEGIES))}, "
                f"not {strategy!r}."
            )
        for key, default in (*_FLAGS, ("strict", False)):
            if not isinstance(config.get(key, default), bool):
                raise DefinitionError(
                    f"ResultExtractor {key} must be True or False, not {config.get(key)!r}."
                )
        _check_names(config.get("extractor_priority"), "extractor_priority")
        _check_names(config.get("code_block_languages"), "code_block_languages")
        kinds = config.get("extract")
        if (
            not isinstance(kinds, (list, tuple))
            or any(kind not in KINDS for kind in kinds)
            or len(set(kinds)) != len(kinds)
        ):
            raise DefinitionError(
                "ResultExtractor extract must be a list of distinct kinds among 'json', 'code', "
                f"'key_value' and 'list', not {kinds!r}."
            )
        limit = config.get("max_text_length")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise DefinitionError(
                f"ResultExtractor max_text_length must be a positive integer, not {limit!r}."
            )

    def register_extractor(self, name: str, extractor: Extractor) -> None:
        """Add ``extractor(data, config)`` under ``name``, after the built-in extractors.

        Raises:
            DefinitionError: ``name`` is not a non-empty str, or the
                extractor is not a plain function.
        """
        if not isinstance(name, str) or not name:
            raise DefinitionError(f"ResultExtractor extractor names are strings, not {name!r}.")
        if not callable(extractor):
            raise DefinitionError(
                f"ResultExtractor extractor {name!r} must be a function, "
                f"not {type(extractor).__name__}."
            )
        refuse_async(extractor, f"ResultExtractor extractor {name!r}")
        self._custom[name] = extractor

    def extract(self, data: Any = None, **kwargs: Any) -> None:
        """Extract a result from the data and emit ``output``.

        Raises:
            ValueError: Nothing was found and ``return_original_on_failure`` is off.
        """
        value = self._extract_input_data(data, **kwargs)
        if isinstance(value, dict) and not value:
            value = ""  # An empty message, as published.
        limit: int = self.get_config("max_text_length")
        examined = value
        if isinstance(value, str) and len(value) > limit:
            self.increment_stat("truncated")
            examined = value[:limit]
        self.emit("output", **self._run(value, examined))

    def _run(self, value: Any, examined: Any) -> dict[str, Any]:
        config = self.config()
        strategy = config["strategy"]
        results: list[dict[str, Any]] = []
        errors: list[dict[str, str]] = []
        for name, extractor in self._order(config):
            try:
                found = extractor(examined, config)
                result = None if found is None else _result(name, found, strategy)
            except Exception as exc:  # An extractor, maybe the user's: record it, go on.
                message = f"Extractor {name!r} failed: {exc}"
                errors.append({"extractor": name, "error": message})
                if config["log_errors"]:
                    logger.warning("ResultExtractor: %s", message)
                if not config["continue_on_error"]:
                    break
                continue
            if result is not None:
                if strategy not in ("all", "best"):
                    return result
                results.append(result)
        if results:
            return _combined(results, errors) if strategy == "all" else _best(results)
        if not config["return_original_on_failure"]:
            raise ValueError(f"All extractors failed. Errors: {errors}")
        metadata = {
            "extraction_method": "none",
            "errors": errors,
            "original_type": type(value).__name__,
        }
        return {
            "extracted_result": value,
            "format": type(value).__name__.lower(),
            "metadata": metadata,
            "confidence": 0.0,
            "extraction_path": [],
        }

    def _order(self, config: Mapping[str, Any]) -> list[tuple[str, Extractor]]:
        """The extractors in the order they run (see the class docstring)."""
        strict = config["strict"]
        own: dict[str, Extractor] = {
            OWN[kind]: _own_extractor(OWN[kind], kind, strict) for kind in config["extract"]
        }
        registered = {**PUBLISHED, **own, **self._custom}
        priority: Sequence[str] = config["extractor_priority"]
        if priority:
            rank = {name: index for index, name in enumerate(priority)}
            names = sorted(registered, key=lambda name: rank.get(name, len(rank)))
        else:
            names = [*DEFAULT_ORDER, *own, *self._custom]
        return [(name, registered[name]) for name in names]


def _result(name: str, found: Extraction, strategy: str) -> dict[str, Any]:
    result, form, metadata = found
    metadata["extractor"] = name
    metadata["strategy"] = strategy
    return {
        "extracted_result": result,
        "format": form,
        "metadata": metadata,
        "confidence": confidence(result, form, metadata),
        "extraction_path": [name],
    }


def _combined(results: list[dict[str, Any]], errors: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "extracted_result": [r["extracted_result"] for r in results],
        "format": "multi",
        "metadata": {"extractions": results, "count": len(results), "errors": errors},
        "confidence": max(r["confidence"] for r in results),
        "extraction_path": [r["extraction_path"][0] for r in results],
    }


def _best(results: list[dict[str, Any]]) -> dict[str, Any]:
    return max(results, key=lambda r: r["confidence"])


def _own_extractor(name: str, kind: str, strict: bool) -> Extractor:
    """One of our kinds as an extractor: the best finding in a text, if any."""

    def extractor(data: Any, config: Mapping[str, Any]) -> Extraction | None:
        if not isinstance(data, str):
            return None
        findings = find(data, kind, strict=strict)
        if not findings:
            return None
        metadata = {"extraction_method": name, "match_count": len(findings)}
        return findings[0].result, kind, metadata

    return extractor


def _check_names(names: Any, key: str) -> None:
    if (
        isinstance(names, (str, bytes))
        or not isinstance(names, (list, tuple))
        or not all(isinstance(name, str) and name for name in names)
    ):
        raise DefinitionError(
            f"ResultExtractor {key} must be a list of non-empty strings, not {names!r}."
        )
