"""The extractors of ResultExtractor, as the published routine has them.

An extractor is ``extractor(data, config) -> (result, format, metadata)``,
or ``None`` when it does not apply. Nothing here evaluates text: JSON is
read by :func:`json.loads`, YAML by ``yaml.safe_load`` (only when PyYAML is
installed), and code blocks by regular expressions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "DEFAULT_ORDER",
    "PUBLISHED",
    "Extraction",
    "Extractor",
    "code_blocks",
    "confidence",
]

Extraction = tuple[Any, str, dict[str, Any]]
Extractor = Callable[[Any, Mapping[str, Any]], Extraction | None]


def code_blocks(text: str, language: str) -> list[str]:
    """The bodies of the ```` ```<language> ```` and ```` ```{<language>} ```` blocks, in order.

    The language matches in any case; a body keeps its trailing line break.
    Blocks of the first form come before those of the second.
    """
    name = re.escape(language)
    found: list[str] = []
    for pattern in (rf"```{name}\s*\n(.*?)```", rf"```\{{{name}\}}\s*\n(.*?)```"):
        found.extend(re.findall(pattern, text, re.DOTALL | re.IGNORECASE))
    return found


def _interpreter_output(data: Any, config: Mapping[str, Any]) -> Extraction | None:
    if not isinstance(data, list) or not config.get("format_interpreter_output", True):
        return None
    structured = False
    lines: list[str] = []
    for output in data:
        if isinstance(output, dict) and ("format" in output or "content" in output):
            structured = True
            content = output.get("content")
            if output.get("format") == "output" and content and str(content).strip():
                lines.append(str(content))
        elif isinstance(output, str) and output.strip():
            lines.append(output)
    if not structured or not lines:
        return None
    metadata = {
        "extraction_method": "interpreter_output",
        "output_count": len(lines),
        "line_count": len(lines),
    }
    return "\n".join(lines), "interpreter_output", metadata


def _json_code_block(data: Any, config: Mapping[str, Any]) -> Extraction | None:
    if not isinstance(data, str) or not config.get("extract_json_blocks", True):
        return None
    blocks = code_blocks(data, "json")
    for block in reversed(blocks):  # The last block that parses.
        try:
            result = json.loads(block.strip())
        except json.JSONDecodeError:
            continue
        metadata = {
            "extraction_method": "json_code_block",
            "block_count": len(blocks),
            "block_index": blocks.index(block),
        }
        return result, "json", metadata
    return None


def _json_string(data: Any, config: Mapping[str, Any]) -> Extraction | None:
    if not isinstance(data, str) or not config.get("parse_json_strings", True):
        return None
    stripped = data.strip()
    if stripped.startswith(("{", "[")) and len(stripped) > 2:
        try:
            return json.loads(stripped), "json", {"extraction_method": "json_string"}
        except json.JSONDecodeError:
            return None
    return None


def _code_block(data: Any, config: Mapping[str, Any]) -> Extraction | None:
    if not isinstance(data, str) or not config.get("extract_code_blocks", True):
        return None
    for language in config.get("code_block_languages", ()):
        if language == "json":  # The JSON extractors read those.
            continue
        blocks = code_blocks(data, language)
        if blocks:
            metadata = {"extraction_method": f"{language}_code_block", "block_count": len(blocks)}
            return blocks[-1], language, metadata
    return None


def _yaml() -> Any:
    try:
        import yaml  # An optional dependency (the cli extra).
    except ImportError:
        return None
    return yaml


def _yaml_code_block(data: Any, config: Mapping[str, Any]) -> Extraction | None:
    yaml = _yaml()
    if yaml is None or not isinstance(data, str) or not config.get("extract_yaml_blocks", False):
        return None
    blocks = code_blocks(data, "yaml") or code_blocks(data, "yml")
    for block in reversed(blocks):
        try:
            result = yaml.safe_load(block.strip())
        except Exception:  # Not YAML (yaml.YAMLError, or worse): try the block before.
            continue
        return result, "yaml", {"extraction_method": "yaml_code_block", "block_count": len(blocks)}
    return None


def _yaml_string(data: Any, config: Mapping[str, Any]) -> Extraction | None:
    yaml = _yaml()
    if yaml is None or not isinstance(data, str) or not config.get("parse_yaml_strings", False):
        return None
    try:
        result = yaml.safe_load(data.strip())
    except Exception:  # Not YAML.
        return None
    return None if result is None else (result, "yaml", {"extraction_method": "yaml_string"})


def _xml_code_block(data: Any, config: Mapping[str, Any]) -> Extraction | None:
    if not isinstance(data, str) or not config.get("extract_xml_blocks", False):
        return None
    blocks = code_blocks(data, "xml")
    if not blocks:
        return None
    return blocks[-1], "xml", {"extraction_method": "xml_code_block", "block_count": len(blocks)}


def _dict_extractor(data: Any, config: Mapping[str, Any]) -> Extraction | None:
    if isinstance(data, dict):
        return data, "dict", {"extraction_method": "direct", "key_count": len(data)}
    return None


def _list_extractor(data: Any, config: Mapping[str, Any]) -> Extraction | None:
    if isinstance(data, list):
        return data, "list", {"extraction_method": "direct", "item_count": len(data)}
    return None


#: The published extractors, in the order the published routine registers them.
PUBLISHED: dict[str, Extractor] = {
    "interpreter_output": _interpreter_output,
    "json_code_block": _json_code_block,
    "json_string": _json_string,
    "code_block": _code_block,
    "yaml_code_block": _yaml_code_block,
    "yaml_string": _yaml_string,
    "xml_code_block": _xml_code_block,
    "dict_extractor": _dict_extractor,
    "list_extractor": _list_extractor,
}

#: The order they run in when ``extractor_priority`` is empty.
DEFAULT_ORDER = (
    "interpreter_output",
    "json_code_block",
    "json_string",
    "yaml_code_block",
    "yaml_string",
    "xml_code_block",
    "code_block",
    "dict_extractor",
    "list_extractor",
)


def confidence(result: Any, form: str, metadata: Mapping[str, Any]) -> float:
    """The published confidence of an extraction, from 0 to 1 (not rounded)."""
    score = 0.5
    if isinstance(result, (dict, list)):
        score += 0.2
    if "code_block" in metadata.get("extraction_method", ""):
        score += 0.1
    if form in ("json", "yaml"):
        score += 0.1
    if not result or (isinstance(result, str) and not result.strip()):
        score -= 0.3
    return max(0.0, min(1.0, score))
