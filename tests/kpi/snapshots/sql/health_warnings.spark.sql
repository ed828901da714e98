-- query 1
SELECT run_id, file, source_line, column_name, value, reason FROM ingest_warnings ORDER BY run_id DESC, source_line NULLS LAST, column_name NULLS LAST LIMIT :v0;
