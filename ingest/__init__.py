"""Write path: vendor files -> validated, canonical rows in DuckDB."""

from ingest.load import FileResult, ingest_files, refresh_audit_facts
from ingest.mapping import MappingError, VendorMapping, load_mapping
from ingest.readers import IngestError

__all__ = [
    "FileResult",
    "IngestError",
    "MappingError",
    "VendorMapping",
    "ingest_files",
    "load_mapping",
    "refresh_audit_facts",
]
