-- query 1
SELECT CASE WHEN enqueued_at > $t1 THEN 0 WHEN enqueued_at > $t2 THEN 1 WHEN enqueued_at > $t3 THEN 2 WHEN enqueued_at > $t4 THEN 3 WHEN enqueued_at > $t5 THEN 4 ELSE 5 END AS bucket, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t0) AS backlog_over_sla, min(enqueued_at) AS oldest_enqueued_at
FROM decisions WHERE enqueued_at < $t0 AND (decided_at IS NULL OR decided_at >= $t0)
GROUP BY 1;
