"""One string object for each name and each md5 a deploy holds.

A deploy keeps every name until its end three times over (the walk's path,
the listing's key, the deploy record's entry) and the md5 of each unchanged
file three times (hashed, the listing's tag, the record's tag): about 80
bytes each, 500 bytes a file. Interned where each is made, equal strings are
one object, and the interpreter's table costs about 40 bytes a string.
"""

from __future__ import annotations

import sys

#: The one object equal to a string (``sys.intern``).
shared = sys.intern
