-- query 1
SELECT w.run_id, r.vendor, w.file, w.column_name, REGEXP_REPLACE(w.reason, ' [^ ]*[0-9][^ ]* ', ' … ') AS warning, COUNT(*) AS rows FROM ingest_warnings AS w JOIN ingest_runs AS r USING (run_id) GROUP BY ALL ORDER BY w.run_id DESC, rows DESC;
