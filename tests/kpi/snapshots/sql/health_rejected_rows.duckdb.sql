-- query 1
SELECT run_id, file, source_line, reason, raw FROM rejected_rows WHERE resolved_run IS NULL ORDER BY run_id DESC, source_line LIMIT $v0;
