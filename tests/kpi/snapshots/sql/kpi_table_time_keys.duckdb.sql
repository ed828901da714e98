-- query 1
SELECT weekday, hour, period_start, q_tat_p90[1] AS tat_p90, decisions FROM (
SELECT CAST((((epoch_us(timezone($tz, enqueued_at)) // 86400000000) + 3) % 7) + 1 AS INTEGER) AS weekday, CAST((epoch_us(timezone($tz, enqueued_at)) // 3600000000) % 24 AS INTEGER) AS hour, CAST(NULL AS DATE) AS period_start, quantile_cont(((epoch(decided_at) - epoch(enqueued_at)) / 60.0), [0.9]) AS q_tat_p90, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3
);

-- query 2
SELECT CAST((((epoch_us(timezone($tz, enqueued_at)) // 86400000000) + 3) % 7) + 1 AS INTEGER) AS weekday, CAST((epoch_us(timezone($tz, enqueued_at)) // 3600000000) % 24 AS INTEGER) AS hour, CAST(NULL AS DATE) AS period_start, count(*) FILTER (WHERE is_error) AS errors, count(*) AS audits, count(*) FILTER (WHERE decision = qa_decision) AS agreements
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2, 3;

-- query 3
WITH a AS (SELECT CAST((((epoch_us(timezone($tz, enqueued_at)) // 86400000000) + 3) % 7) + 1 AS INTEGER) AS weekday, CAST((epoch_us(timezone($tz, enqueued_at)) // 3600000000) % 24 AS INTEGER) AS hour, CAST(NULL AS DATE) AS period_start, decision, qa_decision FROM audit_facts
                   WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2),
             v AS (SELECT weekday, hour, period_start, decision AS label, count(*) AS c FROM a GROUP BY ALL),
             q AS (SELECT weekday, hour, period_start, qa_decision AS label, count(*) AS c FROM a
                   GROUP BY ALL)
        SELECT v.weekday, v.hour, v.period_start, sum(v.c * q.c) AS kappa_pe_num
        FROM v JOIN q ON v.weekday IS NOT DISTINCT FROM q.weekday AND v.hour IS NOT DISTINCT FROM q.hour AND v.period_start IS NOT DISTINCT FROM q.period_start AND v.label = q.label
        GROUP BY 1, 2, 3;
