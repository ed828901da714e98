-- query 1
SELECT max(audited_at) AS newest FROM audit_facts;

-- query 2
SELECT vendor AS vendor, reviewer_id AS reviewer_id, CAST(date_trunc('day', timezone($tz, decided_at)) AS DATE) AS period_start, count(*) FILTER (WHERE is_error) AS errors, count(*) AS audits
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3 AND workflow = $v4
GROUP BY 1, 2, 3;
