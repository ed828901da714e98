-- query 1
SELECT w.run_id, r.vendor, w.file, w.column_name, regexp_replace(w.reason, ' [^ ]*[0-9][^ ]* ', ' … ', 'g') AS warning, count(*) AS rows FROM ingest_warnings w JOIN ingest_runs r USING (run_id) GROUP BY ALL ORDER BY w.run_id DESC, rows DESC;
