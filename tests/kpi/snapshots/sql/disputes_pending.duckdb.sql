-- query 1
SELECT audit_id, decision_id, vendor, workflow, market, reviewer_id, auditor_id, error_type, severity, audited_at, coalesce(disputed_at, audited_at) AS raised_at, disputed_at IS NULL AS raised_at_from_audit
FROM audit_facts WHERE NOT is_orphan AND coalesce(disputed_at, audited_at) < $t0 AND (dispute_status = 'pending' OR (dispute_status IN ('upheld', 'overturned') AND dispute_resolved_at >= $t0)) AND coalesce(disputed_at, audited_at) < $t1
ORDER BY raised_at, audit_id;
