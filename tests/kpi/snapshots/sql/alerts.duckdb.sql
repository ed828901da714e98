-- query 1
SELECT vendor, max(decided_at) AS last_decided_at, max(enqueued_at) AS last_enqueued_at, count(*) FILTER (WHERE decided_at IS NULL) AS pending FROM decisions GROUP BY 1 ORDER BY 1;

-- query 2
SELECT vendor AS vendor, workflow AS workflow, market AS market, site AS site, policy AS policy, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3, 4, 5, 6;

-- query 3
SELECT vendor AS vendor, workflow AS workflow, market AS market, site AS site, policy AS policy, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors, count(*) FILTER (WHERE is_error AND severity = 'critical') AS critical_errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2, 3, 4, 5, 6;

-- query 4
SELECT vendor AS vendor, workflow AS workflow, market AS market, site AS site, policy AS policy, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3, 4, 5, 6;

-- query 5
SELECT vendor AS vendor, workflow AS workflow, market AS market, site AS site, policy AS policy, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors, count(*) FILTER (WHERE is_error AND severity = 'critical') AS critical_errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2, 3, 4, 5, 6;

-- query 6
SELECT vendor AS vendor, CAST(date_trunc('day', timezone($tz, decided_at)) AS DATE) AS period_start, count(*) FILTER (WHERE is_error) AS errors, count(*) AS audits
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2;

-- query 7
SELECT vendor AS vendor, workflow AS workflow, CAST(NULL AS DATE) AS period_start, count(*) FILTER (WHERE due_at IS NOT NULL AND decided_at <= due_at) AS sla_met, count(*) FILTER (WHERE due_at IS NOT NULL) AS sla_known
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3;

-- query 8
WITH open_items AS (SELECT vendor, workflow, enqueued_at, due_at FROM decisions WHERE decided_at IS NULL)
SELECT * FROM (
SELECT vendor, workflow, CAST(NULL AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t0) AS backlog_over_sla FROM (
    SELECT vendor, workflow, enqueued_at, due_at FROM decisions WHERE enqueued_at < $t0 AND decided_at >= $t0
    UNION ALL SELECT vendor, workflow, enqueued_at, due_at FROM open_items WHERE enqueued_at < $t0
) GROUP BY 1, 2
) ORDER BY 1, 2, 3;

-- query 9
SELECT max(audited_at) AS newest FROM audit_facts;

-- query 10
SELECT vendor AS vendor, workflow AS workflow, CAST(NULL AS DATE) AS period_start, count(DISTINCT decision_id) AS audited_decisions
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2, 3;

-- query 11
SELECT vendor AS vendor, workflow AS workflow, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3;

-- query 12
SELECT vendor, workflow, count(*) AS edits, count(DISTINCT decision_id) AS decisions, sum(audits) AS audits, count(*) FILTER (WHERE old_decision IS DISTINCT FROM new_decision) AS label_changes, list(DISTINCT run_id ORDER BY run_id) AS runs FROM edits_after_audit WHERE true AND recorded_at >= $v0 AND recorded_at < $v1 GROUP BY ALL;

-- query 13
SELECT audit_id, decision_id, vendor, workflow, market, reviewer_id, auditor_id, error_type, severity, audited_at, coalesce(disputed_at, audited_at) AS raised_at, disputed_at IS NULL AS raised_at_from_audit
FROM audit_facts WHERE NOT is_orphan AND coalesce(disputed_at, audited_at) < $t0 AND (dispute_status = 'pending' OR (dispute_status IN ('upheld', 'overturned') AND dispute_resolved_at >= $t0)) AND coalesce(disputed_at, audited_at) < $t1
ORDER BY raised_at, audit_id;
