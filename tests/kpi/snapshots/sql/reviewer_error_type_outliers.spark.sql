-- query 1
SELECT reviewer_id, vendor, site, COUNT(*) AS audits, COUNT(*) FILTER(WHERE is_error AND error_type = :v4) AS errors FROM audit_facts WHERE NOT decided_at IS NULL AND NOT is_orphan AND decided_at >= :t0 AND decided_at < :t1 AND enqueued_at < :t1 AND vendor = :v2 AND workflow = :v3 GROUP BY ALL;
