-- query 1
SELECT vendor AS vendor, workflow AS workflow, CAST(NULL AS DATE) AS period_start, COUNT(*) AS decisions FROM decisions WHERE NOT decided_at IS NULL AND decided_at >= :t1 AND decided_at < :t2 AND enqueued_at < :t2 GROUP BY 1, 2, 3;

-- query 2
SELECT vendor AS vendor, workflow AS workflow, CAST(NULL AS DATE) AS period_start, COUNT(*) AS audits, COUNT(*) FILTER(WHERE is_error) AS errors FROM audit_facts WHERE NOT decided_at IS NULL AND NOT is_orphan AND decided_at >= :t2 AND decided_at < :t3 AND enqueued_at < :t3 GROUP BY 1, 2, 3;
