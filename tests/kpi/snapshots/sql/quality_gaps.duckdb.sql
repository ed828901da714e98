-- query 1
SELECT vendor AS vendor, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2;

-- query 2
SELECT vendor AS vendor, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2;

-- query 3
SELECT site AS site, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2;

-- query 4
SELECT site AS site, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2;

-- query 5
SELECT workflow AS workflow, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2;

-- query 6
SELECT workflow AS workflow, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2;

-- query 7
SELECT market AS market, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2;

-- query 8
SELECT market AS market, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2;

-- query 9
SELECT vendor AS vendor, site AS site, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3;

-- query 10
SELECT vendor AS vendor, site AS site, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2, 3;

-- query 11
SELECT vendor AS vendor, workflow AS workflow, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3;

-- query 12
SELECT vendor AS vendor, workflow AS workflow, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2, 3;

-- query 13
SELECT vendor AS vendor, market AS market, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3;

-- query 14
SELECT vendor AS vendor, market AS market, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2, 3;

-- query 15
SELECT site AS site, workflow AS workflow, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3;

-- query 16
SELECT site AS site, workflow AS workflow, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2, 3;

-- query 17
SELECT site AS site, market AS market, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3;

-- query 18
SELECT site AS site, market AS market, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2, 3;

-- query 19
SELECT workflow AS workflow, market AS market, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3;

-- query 20
SELECT workflow AS workflow, market AS market, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2, 3;

-- query 21
SELECT vendor AS vendor, site AS site, workflow AS workflow, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3, 4;

-- query 22
SELECT vendor AS vendor, site AS site, workflow AS workflow, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2, 3, 4;

-- query 23
SELECT vendor AS vendor, site AS site, market AS market, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3, 4;

-- query 24
SELECT vendor AS vendor, site AS site, market AS market, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2, 3, 4;

-- query 25
SELECT vendor AS vendor, workflow AS workflow, market AS market, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3, 4;

-- query 26
SELECT vendor AS vendor, workflow AS workflow, market AS market, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2, 3, 4;

-- query 27
SELECT site AS site, workflow AS workflow, market AS market, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3, 4;

-- query 28
SELECT site AS site, workflow AS workflow, market AS market, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2, 3, 4;
