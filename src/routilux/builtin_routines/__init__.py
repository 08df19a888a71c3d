"""Ready-made routines. Each uses only the public API, so each is also an example."""

from routilux.builtin_routines.aggregator import Aggregator
from routilux.builtin_routines.batcher import Batcher
from routilux.builtin_routines.conditional_router import ConditionalRouter
from routilux.builtin_routines.data_flattener import DataFlattener
from routilux.builtin_routines.data_transformer import DataTransformer
from routilux.builtin_routines.data_validator import DataValidator
from routilux.builtin_routines.debouncer import Debouncer
from routilux.builtin_routines.filter import Filter
from routilux.builtin_routines.mapper import Mapper
from routilux.builtin_routines.result_extractor import ResultExtractor
from routilux.builtin_routines.retry_handler import RetryHandler
from routilux.builtin_routines.schema_validator import SchemaValidator
from routilux.builtin_routines.splitter import Splitter
from routilux.builtin_routines.text_clipper import TextClipper
from routilux.builtin_routines.text_renderer import TextRenderer
from routilux.builtin_routines.time_provider import TimeProvider

__all__ = [
    "Aggregator",
    "Batcher",
    "ConditionalRouter",
    "DataFlattener",
    "DataTransformer",
    "DataValidator",
    "Debouncer",
    "Filter",
    "Mapper",
    "ResultExtractor",
    "RetryHandler",
    "SchemaValidator",
    "Splitter",
    "TextClipper",
    "TextRenderer",
    "TimeProvider",
]
