"""Seeded generator of realistic BPO review data with known, injected quality gaps.

>>> from sample_data import generate
>>> data = generate(seed=42, decisions=200_000)   # canonical frames + manifest of the gaps
"""

import warnings

# `python -m sample_data.generate` runs the module a second time as __main__ after this package
# imported it; harmless here (the CLI only calls into the package), so do not warn about it.
warnings.filterwarnings(
    "ignore",
    message="'sample_data.generate' found in sys.modules",
    category=RuntimeWarning,
)

from sample_data.generate import (  # noqa: E402
    DEFAULT_END,
    Improvement,
    generate,
    write_parquet_chunks,
    write_vendor_samples,
)
from sample_data.schema import SampleData  # noqa: E402
from sample_data.writers import (  # noqa: E402
    load_canonical,
    load_raw_samples,
    write_canonical,
    write_vendor_exports,
)

__all__ = [
    "DEFAULT_END",
    "Improvement",
    "SampleData",
    "generate",
    "load_canonical",
    "load_raw_samples",
    "write_canonical",
    "write_parquet_chunks",
    "write_vendor_exports",
    "write_vendor_samples",
]
