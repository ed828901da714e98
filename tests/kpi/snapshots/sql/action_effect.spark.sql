-- query 1
SELECT MAX(audited_at) AS newest FROM audit_facts;

-- query 2
SELECT vendor AS vendor, reviewer_id AS reviewer_id, CAST(DATE_TRUNC('DAY', FROM_UTC_TIMESTAMP(decided_at, :tz)) AS DATE) AS period_start, COUNT(*) FILTER(WHERE is_error) AS errors, COUNT(*) AS audits FROM audit_facts WHERE NOT decided_at IS NULL AND NOT is_orphan AND decided_at >= :t2 AND decided_at < :t3 AND enqueued_at < :t3 AND workflow = :v4 GROUP BY 1, 2, 3;
