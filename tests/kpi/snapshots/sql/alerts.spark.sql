-- query 1
SELECT vendor, MAX(decided_at) AS last_decided_at, MAX(enqueued_at) AS last_enqueued_at, COUNT(*) FILTER(WHERE decided_at IS NULL) AS pending FROM decisions GROUP BY 1 ORDER BY 1 NULLS LAST;

-- query 2
SELECT vendor AS vendor, workflow AS workflow, market AS market, site AS site, policy AS policy, CAST(NULL AS DATE) AS period_start, COUNT(*) AS decisions FROM decisions WHERE NOT decided_at IS NULL AND decided_at >= :t1 AND decided_at < :t2 AND enqueued_at < :t2 GROUP BY 1, 2, 3, 4, 5, 6;

-- query 3
SELECT vendor AS vendor, workflow AS workflow, market AS market, site AS site, policy AS policy, CAST(NULL AS DATE) AS period_start, COUNT(*) AS audits, COUNT(*) FILTER(WHERE is_error) AS errors, COUNT(*) FILTER(WHERE is_error AND severity = 'critical') AS critical_errors FROM audit_facts WHERE NOT decided_at IS NULL AND NOT is_orphan AND decided_at >= :t2 AND decided_at < :t3 AND enqueued_at < :t3 GROUP BY 1, 2, 3, 4, 5, 6;

-- query 4
SELECT vendor AS vendor, workflow AS workflow, market AS market, site AS site, policy AS policy, CAST(NULL AS DATE) AS period_start, COUNT(*) AS decisions FROM decisions WHERE NOT decided_at IS NULL AND decided_at >= :t1 AND decided_at < :t2 AND enqueued_at < :t2 GROUP BY 1, 2, 3, 4, 5, 6;

-- query 5
SELECT vendor AS vendor, workflow AS workflow, market AS market, site AS site, policy AS policy, CAST(NULL AS DATE) AS period_start, COUNT(*) AS audits, COUNT(*) FILTER(WHERE is_error) AS errors, COUNT(*) FILTER(WHERE is_error AND severity = 'critical') AS critical_errors FROM audit_facts WHERE NOT decided_at IS NULL AND NOT is_orphan AND decided_at >= :t2 AND decided_at < :t3 AND enqueued_at < :t3 GROUP BY 1, 2, 3, 4, 5, 6;

-- query 6
SELECT vendor AS vendor, CAST(DATE_TRUNC('DAY', FROM_UTC_TIMESTAMP(decided_at, :tz)) AS DATE) AS period_start, COUNT(*) FILTER(WHERE is_error) AS errors, COUNT(*) AS audits FROM audit_facts WHERE NOT decided_at IS NULL AND NOT is_orphan AND decided_at >= :t2 AND decided_at < :t3 AND enqueued_at < :t3 GROUP BY 1, 2;

-- query 7
SELECT vendor AS vendor, workflow AS workflow, CAST(NULL AS DATE) AS period_start, COUNT(*) FILTER(WHERE NOT due_at IS NULL AND decided_at <= due_at) AS sla_met, COUNT(*) FILTER(WHERE NOT due_at IS NULL) AS sla_known FROM decisions WHERE NOT decided_at IS NULL AND decided_at >= :t1 AND decided_at < :t2 AND enqueued_at < :t2 GROUP BY 1, 2, 3;

-- query 8
WITH open_items AS (SELECT vendor, workflow, enqueued_at, due_at FROM decisions WHERE decided_at IS NULL) SELECT * FROM (SELECT vendor, workflow, CAST(NULL AS DATE) AS period_start, COUNT(*) AS backlog, COUNT(*) FILTER(WHERE due_at < :t0) AS backlog_over_sla FROM (SELECT vendor, workflow, enqueued_at, due_at FROM decisions WHERE enqueued_at < :t0 AND decided_at >= :t0 UNION ALL SELECT vendor, workflow, enqueued_at, due_at FROM open_items WHERE enqueued_at < :t0) GROUP BY 1, 2) ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST;

-- query 9
SELECT MAX(audited_at) AS newest FROM audit_facts;

-- query 10
SELECT vendor AS vendor, workflow AS workflow, CAST(NULL AS DATE) AS period_start, COUNT(DISTINCT decision_id) AS audited_decisions FROM audit_facts WHERE NOT decided_at IS NULL AND NOT is_orphan AND decided_at >= :t2 AND decided_at < :t3 AND enqueued_at < :t3 GROUP BY 1, 2, 3;

-- query 11
SELECT vendor AS vendor, workflow AS workflow, CAST(NULL AS DATE) AS period_start, COUNT(*) AS decisions FROM decisions WHERE NOT decided_at IS NULL AND decided_at >= :t1 AND decided_at < :t2 AND enqueued_at < :t2 GROUP BY 1, 2, 3;

-- query 12
SELECT vendor, workflow, COUNT(*) AS edits, COUNT(DISTINCT decision_id) AS decisions, SUM(audits) AS audits, COUNT(*) FILTER(WHERE old_decision IS DISTINCT FROM new_decision) AS label_changes, ARRAY_SORT(COLLECT_LIST(DISTINCT run_id)) AS runs FROM edits_after_audit WHERE TRUE AND recorded_at >= :v0 AND recorded_at < :v1 GROUP BY ALL;

-- query 13
SELECT audit_id, decision_id, vendor, workflow, market, reviewer_id, auditor_id, error_type, severity, audited_at, COALESCE(disputed_at, audited_at) AS raised_at, disputed_at IS NULL AS raised_at_from_audit FROM audit_facts WHERE NOT is_orphan AND COALESCE(disputed_at, audited_at) < :t0 AND (dispute_status = 'pending' OR (dispute_status IN ('upheld', 'overturned') AND dispute_resolved_at >= :t0)) AND COALESCE(disputed_at, audited_at) < :t1 ORDER BY raised_at NULLS LAST, audit_id NULLS LAST;
