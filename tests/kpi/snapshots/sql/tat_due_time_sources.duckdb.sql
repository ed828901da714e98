-- query 1
SELECT CASE WHEN due_at IS NULL THEN 'none' WHEN due_at_source = 'queue' THEN 'queue' ELSE 'config' END AS due_source, count(*) AS decisions
FROM decisions WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1;
