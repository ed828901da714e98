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
                   GROUP BY ALL),
             cells AS (SELECT weekday, hour, period_start, decision AS vl, qa_decision AS ql, count(*) AS c
                       FROM a GROUP BY ALL),
             pe AS (SELECT v.weekday, v.hour, v.period_start, sum(v.c * q.c) AS kappa_pe_num
                    FROM v JOIN q ON v.weekday IS NOT DISTINCT FROM q.weekday AND v.hour IS NOT DISTINCT FROM q.hour AND v.period_start IS NOT DISTINCT FROM q.period_start AND v.label = q.label
                    GROUP BY 1, 2, 3),
             se AS (SELECT cells.weekday, cells.hour, cells.period_start,
                           sum(CASE WHEN cells.vl = cells.ql THEN cells.c * (coalesce(qi.c, 0) + coalesce(vj.c, 0))
                               ELSE 0 END) AS kappa_s1_num,
                           sum(cells.c * power(CAST(coalesce(qi.c, 0) + coalesce(vj.c, 0) AS DOUBLE), 2)) AS kappa_s2_num
                    FROM cells
                    LEFT JOIN q AS qi ON qi.weekday IS NOT DISTINCT FROM cells.weekday AND qi.hour IS NOT DISTINCT FROM cells.hour AND qi.period_start IS NOT DISTINCT FROM cells.period_start AND qi.label = cells.vl
                    LEFT JOIN v AS vj ON vj.weekday IS NOT DISTINCT FROM cells.weekday AND vj.hour IS NOT DISTINCT FROM cells.hour AND vj.period_start IS NOT DISTINCT FROM cells.period_start AND vj.label = cells.ql
                    GROUP BY 1, 2, 3)
        SELECT se.weekday, se.hour, se.period_start, coalesce(pe.kappa_pe_num, 0) AS kappa_pe_num,
               se.kappa_s1_num, se.kappa_s2_num
        FROM se LEFT JOIN pe ON se.weekday IS NOT DISTINCT FROM pe.weekday AND se.hour IS NOT DISTINCT FROM pe.hour AND se.period_start IS NOT DISTINCT FROM pe.period_start;
