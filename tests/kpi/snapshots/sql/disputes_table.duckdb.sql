-- query 1
SELECT vendor, period_start, q_dispute_resolve_p50[1] AS dispute_resolve_p50, disputed, error_typed, overturned, dispute_resolved, audits, errors, disputes_pending, dispute_timed FROM (
SELECT vendor AS vendor, CAST(NULL AS DATE) AS period_start, quantile_cont((CASE WHEN dispute_status IN ('upheld', 'overturned') AND dispute_resolved_at >= disputed_at THEN (epoch(dispute_resolved_at) - epoch(disputed_at)) / 60.0 END), [0.5]) AS q_dispute_resolve_p50, count(*) FILTER (WHERE error_counts AND dispute_status IN ('pending', 'upheld', 'overturned')) AS disputed, count(*) FILTER (WHERE error_counts) AS error_typed, count(*) FILTER (WHERE dispute_status = 'overturned') AS overturned, count(*) FILTER (WHERE dispute_status IN ('upheld', 'overturned')) AS dispute_resolved, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors, count(*) FILTER (WHERE dispute_status = 'pending') AS disputes_pending, count(*) FILTER (WHERE (CASE WHEN dispute_status IN ('upheld', 'overturned') AND dispute_resolved_at >= disputed_at THEN (epoch(dispute_resolved_at) - epoch(disputed_at)) / 60.0 END) IS NOT NULL) AS dispute_timed
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2
);
