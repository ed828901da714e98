-- query 1
SELECT error_type, count(*) AS errors, count(*) FILTER (WHERE severity = 'critical') AS critical FROM audit_facts WHERE is_error AND decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t0 AND decided_at < $t1 AND enqueued_at < $t1 AND vendor = $v2 AND workflow = $v3 GROUP BY 1 ORDER BY 2 DESC, 1;
