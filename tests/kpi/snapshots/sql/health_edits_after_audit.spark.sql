-- query 1
SELECT recorded_at, run_id, vendor, workflow, market, decision_id, audits, old_decision, new_decision, old_policy, new_policy FROM edits_after_audit ORDER BY recorded_at DESC, decision_id NULLS LAST LIMIT :limit;
