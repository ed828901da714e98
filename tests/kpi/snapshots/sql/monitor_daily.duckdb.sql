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
WITH open_items AS (SELECT vendor, enqueued_at, due_at FROM decisions WHERE decided_at IS NULL)
SELECT * FROM (
SELECT vendor, CAST($d1 AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t0) AS backlog_over_sla FROM (
    SELECT vendor, enqueued_at, due_at FROM decisions WHERE enqueued_at < $t0 AND decided_at >= $t0
    UNION ALL SELECT vendor, enqueued_at, due_at FROM open_items WHERE enqueued_at < $t0
) GROUP BY 1
UNION ALL
SELECT vendor, CAST($d3 AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t2) AS backlog_over_sla FROM (
    SELECT vendor, enqueued_at, due_at FROM decisions WHERE enqueued_at < $t2 AND decided_at >= $t2
    UNION ALL SELECT vendor, enqueued_at, due_at FROM open_items WHERE enqueued_at < $t2
) GROUP BY 1
UNION ALL
SELECT vendor, CAST($d5 AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t4) AS backlog_over_sla FROM (
    SELECT vendor, enqueued_at, due_at FROM decisions WHERE enqueued_at < $t4 AND decided_at >= $t4
    UNION ALL SELECT vendor, enqueued_at, due_at FROM open_items WHERE enqueued_at < $t4
) GROUP BY 1
UNION ALL
SELECT vendor, CAST($d7 AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t6) AS backlog_over_sla FROM (
    SELECT vendor, enqueued_at, due_at FROM decisions WHERE enqueued_at < $t6 AND decided_at >= $t6
    UNION ALL SELECT vendor, enqueued_at, due_at FROM open_items WHERE enqueued_at < $t6
) GROUP BY 1
UNION ALL
SELECT vendor, CAST($d9 AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t8) AS backlog_over_sla FROM (
    SELECT vendor, enqueued_at, due_at FROM decisions WHERE enqueued_at < $t8 AND decided_at >= $t8
    UNION ALL SELECT vendor, enqueued_at, due_at FROM open_items WHERE enqueued_at < $t8
) GROUP BY 1
UNION ALL
SELECT vendor, CAST($d11 AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t10) AS backlog_over_sla FROM (
    SELECT vendor, enqueued_at, due_at FROM decisions WHERE enqueued_at < $t10 AND decided_at >= $t10
    UNION ALL SELECT vendor, enqueued_at, due_at FROM open_items WHERE enqueued_at < $t10
) GROUP BY 1
UNION ALL
SELECT vendor, CAST($d13 AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t12) AS backlog_over_sla FROM (
    SELECT vendor, enqueued_at, due_at FROM decisions WHERE enqueued_at < $t12 AND decided_at >= $t12
    UNION ALL SELECT vendor, enqueued_at, due_at FROM open_items WHERE enqueued_at < $t12
) GROUP BY 1
UNION ALL
SELECT vendor, CAST($d15 AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t14) AS backlog_over_sla FROM (
    SELECT vendor, enqueued_at, due_at FROM decisions WHERE enqueued_at < $t14 AND decided_at >= $t14
    UNION ALL SELECT vendor, enqueued_at, due_at FROM open_items WHERE enqueued_at < $t14
) GROUP BY 1
UNION ALL
SELECT vendor, CAST($d17 AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t16) AS backlog_over_sla FROM (
    SELECT vendor, enqueued_at, due_at FROM decisions WHERE enqueued_at < $t16 AND decided_at >= $t16
    UNION ALL SELECT vendor, enqueued_at, due_at FROM open_items WHERE enqueued_at < $t16
) GROUP BY 1
UNION ALL
SELECT vendor, CAST($d19 AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t18) AS backlog_over_sla FROM (
    SELECT vendor, enqueued_at, due_at FROM decisions WHERE enqueued_at < $t18 AND decided_at >= $t18
    UNION ALL SELECT vendor, enqueued_at, due_at FROM open_items WHERE enqueued_at < $t18
) GROUP BY 1
UNION ALL
SELECT vendor, CAST($d21 AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t20) AS backlog_over_sla FROM (
    SELECT vendor, enqueued_at, due_at FROM decisions WHERE enqueued_at < $t20 AND decided_at >= $t20
    UNION ALL SELECT vendor, enqueued_at, due_at FROM open_items WHERE enqueued_at < $t20
) GROUP BY 1
UNION ALL
SELECT vendor, CAST($d23 AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t22) AS backlog_over_sla FROM (
    SELECT vendor, enqueued_at, due_at FROM decisions WHERE enqueued_at < $t22 AND decided_at >= $t22
    UNION ALL SELECT vendor, enqueued_at, due_at FROM open_items WHERE enqueued_at < $t22
) GROUP BY 1
UNION ALL
SELECT vendor, CAST($d25 AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t24) AS backlog_over_sla FROM (
    SELECT vendor, enqueued_at, due_at FROM decisions WHERE enqueued_at < $t24 AND decided_at >= $t24
    UNION ALL SELECT vendor, enqueued_at, due_at FROM open_items WHERE enqueued_at < $t24
) GROUP BY 1
UNION ALL
SELECT vendor, CAST($d27 AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t26) AS backlog_over_sla FROM (
    SELECT vendor, enqueued_at, due_at FROM decisions WHERE enqueued_at < $t26 AND decided_at >= $t26
    UNION ALL SELECT vendor, enqueued_at, due_at FROM open_items WHERE enqueued_at < $t26
) GROUP BY 1
UNION ALL
SELECT vendor, CAST($d29 AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t28) AS backlog_over_sla FROM (
    SELECT vendor, enqueued_at, due_at FROM decisions WHERE enqueued_at < $t28 AND decided_at >= $t28
    UNION ALL SELECT vendor, enqueued_at, due_at FROM open_items WHERE enqueued_at < $t28
) GROUP BY 1
UNION ALL
SELECT vendor, CAST($d31 AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t30) AS backlog_over_sla FROM (
    SELECT vendor, enqueued_at, due_at FROM decisions WHERE enqueued_at < $t30 AND decided_at >= $t30
    UNION ALL SELECT vendor, enqueued_at, due_at FROM open_items WHERE enqueued_at < $t30
) GROUP BY 1
UNION ALL
SELECT vendor, CAST($d33 AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t32) AS backlog_over_sla FROM (
    SELECT vendor, enqueued_at, due_at FROM decisions WHERE enqueued_at < $t32 AND decided_at >= $t32
    UNION ALL SELECT vendor, enqueued_at, due_at FROM open_items WHERE enqueued_at < $t32
) GROUP BY 1
UNION ALL
SELECT vendor, CAST($d35 AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t34) AS backlog_over_sla FROM (
    SELECT vendor, enqueued_at, due_at FROM decisions WHERE enqueued_at < $t34 AND decided_at >= $t34
    UNION ALL SELECT vendor, enqueued_at, due_at FROM open_items WHERE enqueued_at < $t34
) GROUP BY 1
UNION ALL
SELECT vendor, CAST($d37 AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t36) AS backlog_over_sla FROM (
    SELECT vendor, enqueued_at, due_at FROM decisions WHERE enqueued_at < $t36 AND decided_at >= $t36
    UNION ALL SELECT vendor, enqueued_at, due_at FROM open_items WHERE enqueued_at < $t36
) GROUP BY 1
UNION ALL
SELECT vendor, CAST($d39 AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t38) AS backlog_over_sla FROM (
    SELECT vendor, enqueued_at, due_at FROM decisions WHERE enqueued_at < $t38 AND decided_at >= $t38
    UNION ALL SELECT vendor, enqueued_at, due_at FROM open_items WHERE enqueued_at < $t38
) GROUP BY 1
UNION ALL
SELECT vendor, CAST($d41 AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t40) AS backlog_over_sla FROM (
    SELECT vendor, enqueued_at, due_at FROM decisions WHERE enqueued_at < $t40 AND decided_at >= $t40
    UNION ALL SELECT vendor, enqueued_at, due_at FROM open_items WHERE enqueued_at < $t40
) GROUP BY 1
UNION ALL
SELECT vendor, CAST($d43 AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t42) AS backlog_over_sla FROM (
    SELECT vendor, enqueued_at, due_at FROM decisions WHERE enqueued_at < $t42 AND decided_at >= $t42
    UNION ALL SELECT vendor, enqueued_at, due_at FROM open_items WHERE enqueued_at < $t42
) GROUP BY 1
UNION ALL
SELECT vendor, CAST($d45 AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t44) AS backlog_over_sla FROM (
    SELECT vendor, enqueued_at, due_at FROM decisions WHERE enqueued_at < $t44 AND decided_at >= $t44
    UNION ALL SELECT vendor, enqueued_at, due_at FROM open_items WHERE enqueued_at < $t44
) GROUP BY 1
UNION ALL
SELECT vendor, CAST($d47 AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t46) AS backlog_over_sla FROM (
    SELECT vendor, enqueued_at, due_at FROM decisions WHERE enqueued_at < $t46 AND decided_at >= $t46
    UNION ALL SELECT vendor, enqueued_at, due_at FROM open_items WHERE enqueued_at < $t46
) GROUP BY 1
UNION ALL
SELECT vendor, CAST($d49 AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t48) AS backlog_over_sla FROM (
    SELECT vendor, enqueued_at, due_at FROM decisions WHERE enqueued_at < $t48 AND decided_at >= $t48
    UNION ALL SELECT vendor, enqueued_at, due_at FROM open_items WHERE enqueued_at < $t48
) GROUP BY 1
UNION ALL
SELECT vendor, CAST($d51 AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t50) AS backlog_over_sla FROM (
    SELECT vendor, enqueued_at, due_at FROM decisions WHERE enqueued_at < $t50 AND decided_at >= $t50
    UNION ALL SELECT vendor, enqueued_at, due_at FROM open_items WHERE enqueued_at < $t50
) GROUP BY 1
) ORDER BY 1, 2;

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
