-- query 1
SELECT weekday, hour, period_start, q_tat_p50[1] AS tat_p50, q_tat_p50[2] AS tat_p90, decisions, sla_met, sla_known FROM (
SELECT CAST((((epoch_us(timezone($tz, enqueued_at)) // 86400000000) + 3) % 7) + 1 AS INTEGER) AS weekday, CAST((epoch_us(timezone($tz, enqueued_at)) // 3600000000) % 24 AS INTEGER) AS hour, CAST(NULL AS DATE) AS period_start, quantile_cont(((epoch(decided_at) - epoch(enqueued_at)) / 60.0), [0.5, 0.9]) AS q_tat_p50, count(*) AS decisions, count(*) FILTER (WHERE due_at IS NOT NULL AND decided_at <= due_at) AS sla_met, count(*) FILTER (WHERE due_at IS NOT NULL) AS sla_known
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3
);
