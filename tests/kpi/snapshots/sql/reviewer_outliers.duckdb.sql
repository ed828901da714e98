-- query 1
SELECT reviewer_id, vendor, site, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors FROM audit_facts WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t0 AND decided_at < $t1 AND enqueued_at < $t1 AND vendor = $v2 AND workflow = $v3 GROUP BY ALL;
