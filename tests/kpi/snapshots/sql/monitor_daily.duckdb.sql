-- query 1
SELECT count(*) AS n, min(decided_at) AS first_at, max(decided_at) AS last_at FROM decisions WHERE decided_at IS NOT NULL AND decided_at >= $t0 AND decided_at < $t1 AND enqueued_at < $t1;

-- query 2
SELECT vendor, period_start, q_tat_p90[1] AS tat_p90, decisions, sla_met, sla_known FROM (
SELECT vendor AS vendor, CAST(date_trunc('day', timezone($tz, decided_at)) AS DATE) AS period_start, quantile_cont(((epoch(decided_at) - epoch(enqueued_at)) / 60.0), [0.9]) AS q_tat_p90, count(*) AS decisions, count(*) FILTER (WHERE due_at IS NOT NULL AND decided_at <= due_at) AS sla_met, count(*) FILTER (WHERE due_at IS NOT NULL) AS sla_known
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2
);

-- query 3
SELECT vendor AS vendor, CAST(date_trunc('day', timezone($tz, decided_at)) AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors, count(*) FILTER (WHERE is_error AND severity = 'critical') AS critical_errors, count(DISTINCT decision_id) AS audited_decisions, count(*) FILTER (WHERE decision = qa_decision) AS agreements
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2;

-- query 4
WITH combos AS (
SELECT vendor, CAST(date_trunc('day', timezone($tz, greatest(enqueued_at, $t2))) AS DATE) AS p_enq, CAST(date_trunc('day', timezone($tz, greatest(decided_at, $t2))) AS DATE) AS p_dec, CAST(date_trunc('day', timezone($tz, greatest(due_at, $t2))) AS DATE) AS p_due, enqueued_at < $t1 AS f_enq, decided_at < $t1 AS f_dec, due_at < $t1 AS f_due, (decided_at IS NOT NULL AND due_at IS NOT NULL AND greatest(due_at, decided_at) < $t1) AS f_gd, due_at >= decided_at AS due_last, count(*) AS n FROM decisions WHERE true AND (decided_at IS NULL OR decided_at >= $t3)
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
)
SELECT vendor, period_start, sum(backlog) AS backlog, sum(backlog_over_sla) AS backlog_over_sla
FROM (
SELECT vendor, p_enq AS period_start, n AS backlog, 0 AS backlog_over_sla FROM combos WHERE f_enq
UNION ALL
SELECT vendor, p_dec AS period_start, -n AS backlog, 0 AS backlog_over_sla FROM combos WHERE f_dec
UNION ALL
SELECT vendor, p_due AS period_start, 0 AS backlog, n AS backlog_over_sla FROM combos WHERE f_due
UNION ALL
SELECT vendor, CASE WHEN due_last THEN p_due ELSE p_dec END AS period_start, 0 AS backlog, -n AS backlog_over_sla FROM combos WHERE f_gd
)
GROUP BY 1, 2;

-- query 5
WITH a AS (SELECT vendor AS vendor, CAST(date_trunc('day', timezone($tz, decided_at)) AS DATE) AS period_start, decision, qa_decision FROM audit_facts
                   WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2),
             v AS (SELECT vendor, period_start, decision AS label, count(*) AS c FROM a GROUP BY ALL),
             q AS (SELECT vendor, period_start, qa_decision AS label, count(*) AS c FROM a
                   GROUP BY ALL),
             cells AS (SELECT vendor, period_start, decision AS vl, qa_decision AS ql, count(*) AS c
                       FROM a GROUP BY ALL),
             pe AS (SELECT v.vendor, v.period_start, sum(v.c * q.c) AS kappa_pe_num
                    FROM v JOIN q ON v.vendor IS NOT DISTINCT FROM q.vendor AND v.period_start IS NOT DISTINCT FROM q.period_start AND v.label = q.label
                    GROUP BY 1, 2),
             se AS (SELECT cells.vendor, cells.period_start,
                           sum(CASE WHEN cells.vl = cells.ql THEN cells.c * (coalesce(qi.c, 0) + coalesce(vj.c, 0))
                               ELSE 0 END) AS kappa_s1_num,
                           sum(cells.c * power(CAST(coalesce(qi.c, 0) + coalesce(vj.c, 0) AS DOUBLE), 2)) AS kappa_s2_num
                    FROM cells
                    LEFT JOIN q AS qi ON qi.vendor IS NOT DISTINCT FROM cells.vendor AND qi.period_start IS NOT DISTINCT FROM cells.period_start AND qi.label = cells.vl
                    LEFT JOIN v AS vj ON vj.vendor IS NOT DISTINCT FROM cells.vendor AND vj.period_start IS NOT DISTINCT FROM cells.period_start AND vj.label = cells.ql
                    GROUP BY 1, 2)
        SELECT se.vendor, se.period_start, coalesce(pe.kappa_pe_num, 0) AS kappa_pe_num,
               se.kappa_s1_num, se.kappa_s2_num
        FROM se LEFT JOIN pe ON se.vendor IS NOT DISTINCT FROM pe.vendor AND se.period_start IS NOT DISTINCT FROM pe.period_start;
