"""Words as the search index sees them: letter-and-digit runs, compared without diacritics."""
from __future__ import annotations

import re
import unicodedata

TERM = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Without diacritics, as FTS5's unicode61 tokenizer sees it."""
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
