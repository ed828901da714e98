-- query 1
SELECT run_id, file, reason, COUNT(*) AS rows FROM rejected_rows WHERE resolved_run IS NULL GROUP BY ALL ORDER BY run_id DESC, rows DESC;
