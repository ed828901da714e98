-- query 1
SELECT CASE WHEN tat < $e3 THEN 0 WHEN tat < $e4 THEN 1 WHEN tat < $e5 THEN 2 WHEN tat < $e6 THEN 3 WHEN tat < $e7 THEN 4 WHEN tat < $e8 THEN 5 WHEN tat < $e9 THEN 6 WHEN tat < $e10 THEN 7 WHEN tat < $e11 THEN 8 WHEN tat < $e12 THEN 9 WHEN tat < $e13 THEN 10 WHEN tat < $e14 THEN 11 WHEN tat < $e15 THEN 12 WHEN tat < $e16 THEN 13 WHEN tat < $e17 THEN 14 WHEN tat < $e18 THEN 15 WHEN tat < $e19 THEN 16 WHEN tat < $e20 THEN 17 WHEN tat < $e21 THEN 18 ELSE 19 END AS bin, count(*) AS decisions
FROM (
SELECT (epoch(decided_at) - epoch(enqueued_at)) / 60.0 AS tat FROM decisions WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
)
GROUP BY 1;
