"""Fuzzy search over flags: `FlagIndex` (index.py) and its parts — the query grammar (query.py), the score
scale and precise rerank (score.py), whole-vocabulary scoring at C speed (vocab.py), and the incrementally
kept derived tables (tables.py)."""

from flagops.search.index import FlagIndex
from flagops.search.query import parse_query

__all__ = ["FlagIndex", "parse_query"]
