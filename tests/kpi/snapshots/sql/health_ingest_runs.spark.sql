-- query 1
SELECT run_id, kind, vendor, file, started_at, finished_at, rows_read, rows_inserted, rows_updated, rows_unchanged, rows_stale, rows_rejected, warnings, status, error, retry_of FROM ingest_runs ORDER BY run_id DESC LIMIT :v0;
