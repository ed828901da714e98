-- query 1 decisions
SELECT decision_id, vendor, workflow, market, 'r-' || LEFT(MD5((SELECT k FROM _pseudonym_key) || reviewer_id), 8) AS reviewer_id FROM _src_decisions WHERE vendor IN (SELECT v FROM _scope_vendor) AND market IN (SELECT v FROM _scope_market);

-- query 2 audit_facts
SELECT audit_id, vendor, market, 'r-' || LEFT(MD5((SELECT k FROM _pseudonym_key) || reviewer_id), 8) AS reviewer_id, CAST(NULL AS STRING) AS comment FROM _src_audit_facts WHERE vendor IN (SELECT v FROM _scope_vendor) AND market IN (SELECT v FROM _scope_market);

-- query 3 qa_audits
SELECT audit_id, CAST(NULL AS STRING) AS comment FROM _src_qa_audits WHERE audit_id IN (SELECT audit_id FROM audit_facts);

-- query 4 calibration_ratings
SELECT session_id, item_id, CASE WHEN COALESCE(is_golden, FALSE) THEN NULL ELSE vendor END AS vendor, workflow, CASE WHEN COALESCE(is_golden, FALSE) THEN NULL ELSE 'r-' || LEFT(MD5((SELECT k FROM _pseudonym_key) || rater_id), 8) END AS rater_id, label, is_golden FROM _src_calibration_ratings WHERE ((NOT COALESCE(is_golden, FALSE) AND vendor IN (SELECT v FROM _scope_vendor)) OR (COALESCE(is_golden, FALSE) AND (session_id, item_id) IN (SELECT session_id, item_id FROM _src_calibration_ratings WHERE NOT COALESCE(is_golden, FALSE) AND vendor IN (SELECT v FROM _scope_vendor))));

-- query 5 decisions_history
SELECT run_id, vendor FROM _src_decisions_history WHERE vendor IN (SELECT v FROM _scope_vendor) AND market IN (SELECT v FROM _scope_market);

-- query 6 qa_audits_history
SELECT run_id, vendor FROM _src_qa_audits_history WHERE audit_id IN (SELECT audit_id FROM audit_facts);

-- query 7 calibration_ratings_history
SELECT session_id, item_id, CASE WHEN COALESCE(is_golden, FALSE) THEN NULL ELSE vendor END AS vendor, CASE WHEN COALESCE(is_golden, FALSE) THEN NULL ELSE 'r-' || LEFT(MD5((SELECT k FROM _pseudonym_key) || rater_id), 8) END AS rater_id, is_golden FROM _src_calibration_ratings_history WHERE ((NOT COALESCE(is_golden, FALSE) AND vendor IN (SELECT v FROM _scope_vendor)) OR (COALESCE(is_golden, FALSE) AND (session_id, item_id) IN (SELECT session_id, item_id FROM calibration_ratings WHERE NOT COALESCE(is_golden, FALSE) AND vendor IN (SELECT v FROM _scope_vendor))));

-- query 8 edits_after_audit
SELECT run_id, vendor FROM _src_edits_after_audit WHERE vendor IN (SELECT v FROM _scope_vendor) AND market IN (SELECT v FROM _scope_market);

-- query 9 ingest_runs
SELECT run_id, REGEXP_REPLACE(file, '^.*[/\\\\]', '') AS file, vendor, REGEXP_REPLACE(mapping, '^.*[/\\\\]', '') AS mapping, REGEXP_REPLACE(error, '[^ \'"`(]*[/\\\\]', '') AS error FROM _src_ingest_runs WHERE vendor IN (SELECT v FROM _scope_vendor);

-- query 10 rejected_rows
SELECT run_id, REGEXP_REPLACE(file, '^.*[/\\\\]', '') AS file, CAST(NULL AS STRING) AS raw, reason FROM _src_rejected_rows WHERE run_id IN (SELECT run_id FROM ingest_runs);

-- query 11 ingest_warnings
SELECT run_id, REGEXP_REPLACE(file, '^.*[/\\\\]', '') AS file, CAST(NULL AS STRING) AS value, reason FROM _src_ingest_warnings WHERE run_id IN (SELECT run_id FROM ingest_runs);
