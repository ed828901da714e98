-- query 1
SELECT vendor, MAX(decided_at) AS last_decided_at, MAX(enqueued_at) AS last_enqueued_at, COUNT(*) FILTER(WHERE decided_at IS NULL) AS pending FROM decisions GROUP BY 1 ORDER BY 1 NULLS LAST;

-- query 2
SELECT vendor AS vendor, workflow AS workflow, CAST(NULL AS DATE) AS period_start, COUNT(*) AS decisions FROM decisions WHERE NOT decided_at IS NULL AND decided_at >= :t1 AND decided_at < :t2 AND enqueued_at < :t2 GROUP BY 1, 2, 3;

-- query 3
SELECT vendor AS vendor, workflow AS workflow, CAST(NULL AS DATE) AS period_start, COUNT(*) AS audits, COUNT(*) FILTER(WHERE is_error) AS errors FROM audit_facts WHERE NOT decided_at IS NULL AND NOT is_orphan AND decided_at >= :t2 AND decided_at < :t3 AND enqueued_at < :t3 GROUP BY 1, 2, 3;

-- query 4
SELECT vendor AS vendor, workflow AS workflow, market AS market, CAST(NULL AS DATE) AS period_start, COUNT(*) AS decisions FROM decisions WHERE NOT decided_at IS NULL AND decided_at >= :t1 AND decided_at < :t2 AND enqueued_at < :t2 GROUP BY 1, 2, 3, 4;

-- query 5
SELECT vendor AS vendor, workflow AS workflow, market AS market, CAST(NULL AS DATE) AS period_start, COUNT(*) AS audits, COUNT(*) FILTER(WHERE is_error) AS errors FROM audit_facts WHERE NOT decided_at IS NULL AND NOT is_orphan AND decided_at >= :t2 AND decided_at < :t3 AND enqueued_at < :t3 GROUP BY 1, 2, 3, 4;

-- query 6
SELECT vendor AS vendor, workflow AS workflow, site AS site, CAST(NULL AS DATE) AS period_start, COUNT(*) AS decisions FROM decisions WHERE NOT decided_at IS NULL AND decided_at >= :t1 AND decided_at < :t2 AND enqueued_at < :t2 GROUP BY 1, 2, 3, 4;

-- query 7
SELECT vendor AS vendor, workflow AS workflow, site AS site, CAST(NULL AS DATE) AS period_start, COUNT(*) AS audits, COUNT(*) FILTER(WHERE is_error) AS errors FROM audit_facts WHERE NOT decided_at IS NULL AND NOT is_orphan AND decided_at >= :t2 AND decided_at < :t3 AND enqueued_at < :t3 GROUP BY 1, 2, 3, 4;

-- query 8
SELECT vendor AS vendor, workflow AS workflow, policy AS policy, CAST(NULL AS DATE) AS period_start, COUNT(*) AS decisions FROM decisions WHERE NOT decided_at IS NULL AND decided_at >= :t1 AND decided_at < :t2 AND enqueued_at < :t2 GROUP BY 1, 2, 3, 4;

-- query 9
SELECT vendor AS vendor, workflow AS workflow, policy AS policy, CAST(NULL AS DATE) AS period_start, COUNT(*) AS audits, COUNT(*) FILTER(WHERE is_error) AS errors FROM audit_facts WHERE NOT decided_at IS NULL AND NOT is_orphan AND decided_at >= :t2 AND decided_at < :t3 AND enqueued_at < :t3 GROUP BY 1, 2, 3, 4;

-- query 10
SELECT vendor AS vendor, workflow AS workflow, CAST(NULL AS DATE) AS period_start, COUNT(*) AS decisions FROM decisions WHERE NOT decided_at IS NULL AND decided_at >= :t1 AND decided_at < :t2 AND enqueued_at < :t2 GROUP BY 1, 2, 3;

-- query 11
SELECT vendor AS vendor, workflow AS workflow, CAST(NULL AS DATE) AS period_start, COUNT(*) AS audits, COUNT(*) FILTER(WHERE is_error) AS errors FROM audit_facts WHERE NOT decided_at IS NULL AND NOT is_orphan AND decided_at >= :t2 AND decided_at < :t3 AND enqueued_at < :t3 GROUP BY 1, 2, 3;

-- query 12
SELECT vendor AS vendor, workflow AS workflow, market AS market, CAST(NULL AS DATE) AS period_start, COUNT(*) AS decisions FROM decisions WHERE NOT decided_at IS NULL AND decided_at >= :t1 AND decided_at < :t2 AND enqueued_at < :t2 GROUP BY 1, 2, 3, 4;

-- query 13
SELECT vendor AS vendor, workflow AS workflow, market AS market, CAST(NULL AS DATE) AS period_start, COUNT(*) AS audits, COUNT(*) FILTER(WHERE is_error) AS errors FROM audit_facts WHERE NOT decided_at IS NULL AND NOT is_orphan AND decided_at >= :t2 AND decided_at < :t3 AND enqueued_at < :t3 GROUP BY 1, 2, 3, 4;

-- query 14
SELECT vendor AS vendor, workflow AS workflow, site AS site, CAST(NULL AS DATE) AS period_start, COUNT(*) AS decisions FROM decisions WHERE NOT decided_at IS NULL AND decided_at >= :t1 AND decided_at < :t2 AND enqueued_at < :t2 GROUP BY 1, 2, 3, 4;

-- query 15
SELECT vendor AS vendor, workflow AS workflow, site AS site, CAST(NULL AS DATE) AS period_start, COUNT(*) AS audits, COUNT(*) FILTER(WHERE is_error) AS errors FROM audit_facts WHERE NOT decided_at IS NULL AND NOT is_orphan AND decided_at >= :t2 AND decided_at < :t3 AND enqueued_at < :t3 GROUP BY 1, 2, 3, 4;

-- query 16
SELECT vendor AS vendor, workflow AS workflow, policy AS policy, CAST(NULL AS DATE) AS period_start, COUNT(*) AS decisions FROM decisions WHERE NOT decided_at IS NULL AND decided_at >= :t1 AND decided_at < :t2 AND enqueued_at < :t2 GROUP BY 1, 2, 3, 4;

-- query 17
SELECT vendor AS vendor, workflow AS workflow, policy AS policy, CAST(NULL AS DATE) AS period_start, COUNT(*) AS audits, COUNT(*) FILTER(WHERE is_error) AS errors FROM audit_facts WHERE NOT decided_at IS NULL AND NOT is_orphan AND decided_at >= :t2 AND decided_at < :t3 AND enqueued_at < :t3 GROUP BY 1, 2, 3, 4;

-- query 18
SELECT vendor AS vendor, workflow AS workflow, CAST(NULL AS DATE) AS period_start, COUNT(*) AS decisions FROM decisions WHERE NOT decided_at IS NULL AND decided_at >= :t1 AND decided_at < :t2 AND enqueued_at < :t2 GROUP BY 1, 2, 3;

-- query 19
SELECT vendor AS vendor, workflow AS workflow, CAST(NULL AS DATE) AS period_start, COUNT(*) AS audits, COUNT(*) FILTER(WHERE is_error AND severity = 'critical') AS critical_errors FROM audit_facts WHERE NOT decided_at IS NULL AND NOT is_orphan AND decided_at >= :t2 AND decided_at < :t3 AND enqueued_at < :t3 GROUP BY 1, 2, 3;

-- query 20
SELECT vendor AS vendor, workflow AS workflow, CAST(NULL AS DATE) AS period_start, COUNT(*) AS decisions FROM decisions WHERE NOT decided_at IS NULL AND decided_at >= :t1 AND decided_at < :t2 AND enqueued_at < :t2 GROUP BY 1, 2, 3;

-- query 21
SELECT vendor AS vendor, workflow AS workflow, CAST(NULL AS DATE) AS period_start, COUNT(*) AS audits, COUNT(*) FILTER(WHERE is_error AND severity = 'critical') AS critical_errors FROM audit_facts WHERE NOT decided_at IS NULL AND NOT is_orphan AND decided_at >= :t2 AND decided_at < :t3 AND enqueued_at < :t3 GROUP BY 1, 2, 3;

-- query 22
SELECT vendor AS vendor, CAST(DATE_TRUNC('DAY', FROM_UTC_TIMESTAMP(decided_at, :tz)) AS DATE) AS period_start, COUNT(*) FILTER(WHERE is_error) AS errors, COUNT(*) AS audits FROM audit_facts WHERE NOT decided_at IS NULL AND NOT is_orphan AND decided_at >= :t2 AND decided_at < :t3 AND enqueued_at < :t3 GROUP BY 1, 2;

-- query 23
SELECT vendor AS vendor, workflow AS workflow, CAST(NULL AS DATE) AS period_start, COUNT(*) FILTER(WHERE NOT due_at IS NULL AND decided_at <= due_at) AS sla_met, COUNT(*) FILTER(WHERE NOT due_at IS NULL) AS sla_known FROM decisions WHERE NOT decided_at IS NULL AND decided_at >= :t1 AND decided_at < :t2 AND enqueued_at < :t2 GROUP BY 1, 2, 3;

-- query 24
WITH combos AS (SELECT vendor, workflow, CAST(NULL AS DATE) AS p_enq, CAST(NULL AS DATE) AS p_dec, CAST(NULL AS DATE) AS p_due, enqueued_at < :t1 AS f_enq, decided_at < :t1 AS f_dec, due_at < :t1 AS f_due, (NOT decided_at IS NULL AND NOT due_at IS NULL AND GREATEST(due_at, decided_at) < :t1) AS f_gd, due_at >= decided_at AS due_last, COUNT(*) AS n FROM decisions WHERE TRUE AND (decided_at IS NULL OR decided_at >= :t3) GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10) SELECT vendor, workflow, period_start, SUM(backlog) AS backlog, SUM(backlog_over_sla) AS backlog_over_sla FROM (SELECT vendor, workflow, p_enq AS period_start, n AS backlog, 0 AS backlog_over_sla FROM combos WHERE f_enq UNION ALL SELECT vendor, workflow, p_dec AS period_start, -n AS backlog, 0 AS backlog_over_sla FROM combos WHERE f_dec UNION ALL SELECT vendor, workflow, p_due AS period_start, 0 AS backlog, n AS backlog_over_sla FROM combos WHERE f_due UNION ALL SELECT vendor, workflow, CASE WHEN due_last THEN p_due ELSE p_dec END AS period_start, 0 AS backlog, -n AS backlog_over_sla FROM combos WHERE f_gd) GROUP BY 1, 2, 3;

-- query 25
SELECT MAX(audited_at) AS newest FROM audit_facts;

-- query 26
SELECT vendor AS vendor, workflow AS workflow, CAST(NULL AS DATE) AS period_start, COUNT(DISTINCT decision_id) AS audited_decisions FROM audit_facts WHERE NOT decided_at IS NULL AND NOT is_orphan AND decided_at >= :t2 AND decided_at < :t3 AND enqueued_at < :t3 GROUP BY 1, 2, 3;

-- query 27
SELECT vendor AS vendor, workflow AS workflow, CAST(NULL AS DATE) AS period_start, COUNT(*) AS decisions FROM decisions WHERE NOT decided_at IS NULL AND decided_at >= :t1 AND decided_at < :t2 AND enqueued_at < :t2 GROUP BY 1, 2, 3;

-- query 28
SELECT vendor, workflow, COUNT(*) AS edits, COUNT(DISTINCT decision_id) AS decisions, SUM(audits) AS audits, COUNT(*) FILTER(WHERE old_decision IS DISTINCT FROM new_decision) AS label_changes, ARRAY_SORT(COLLECT_LIST(DISTINCT run_id)) AS runs FROM edits_after_audit WHERE TRUE AND recorded_at >= :v0 AND recorded_at < :v1 GROUP BY ALL;

-- query 29
SELECT audit_id, decision_id, vendor, workflow, market, reviewer_id, auditor_id, error_type, severity, audited_at, COALESCE(disputed_at, audited_at) AS raised_at, disputed_at IS NULL AS raised_at_from_audit FROM audit_facts WHERE NOT is_orphan AND COALESCE(disputed_at, audited_at) < :t0 AND (dispute_status = 'pending' OR (dispute_status IN ('upheld', 'overturned') AND dispute_resolved_at >= :t0)) AND COALESCE(disputed_at, audited_at) < :t1 ORDER BY raised_at NULLS LAST, audit_id NULLS LAST;
