-- query 1
SELECT max(finished_at) AS as_of FROM ingest_runs WHERE status IN ('ok', 'ok_with_rejects');

-- query 2
SELECT period_start, q_tat_p50[1] AS tat_p50, q_tat_p50[2] AS tat_p90, q_tat_p50[3] AS tat_p95, q_tat_p50[4] AS tat_p99, q_handle_minutes_p90[1] AS handle_minutes_p90, decisions, tat_mean, sla_met, sla_known, handle_minutes_mean FROM (
SELECT CAST(NULL AS DATE) AS period_start, quantile_cont(((epoch(decided_at) - epoch(enqueued_at)) / 60.0), [0.5, 0.9, 0.95, 0.99]) AS q_tat_p50, quantile_cont(((epoch(decided_at) - epoch(claimed_at)) / 60.0), [0.9]) AS q_handle_minutes_p90, count(*) AS decisions, avg(((epoch(decided_at) - epoch(enqueued_at)) / 60.0)) AS tat_mean, count(*) FILTER (WHERE due_at IS NOT NULL AND decided_at <= due_at) AS sla_met, count(*) FILTER (WHERE due_at IS NOT NULL) AS sla_known, avg(((epoch(decided_at) - epoch(claimed_at)) / 60.0)) AS handle_minutes_mean
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1
);

-- query 3
WITH open_items AS (SELECT enqueued_at, due_at FROM decisions WHERE decided_at IS NULL)
SELECT * FROM (
SELECT CAST(NULL AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t0) AS backlog_over_sla FROM (
    SELECT enqueued_at, due_at FROM decisions WHERE enqueued_at < $t0 AND decided_at >= $t0
    UNION ALL SELECT enqueued_at, due_at FROM open_items WHERE enqueued_at < $t0
)
) ORDER BY 1;

-- query 4
SELECT period_start, q_dispute_resolve_p50[1] AS dispute_resolve_p50, audits, audited_decisions, errors, critical_errors, quality_points, quality_points_sq, enforcement_true_positives, actioning_audits, truth_actioning_audits, agreements, over_enforcement_errors, under_enforcement_errors, qa_actioning_audits, disputed, error_typed, overturned, dispute_resolved, disputes_pending, dispute_timed FROM (
SELECT CAST(NULL AS DATE) AS period_start, quantile_cont((CASE WHEN dispute_status IN ('upheld', 'overturned') AND dispute_resolved_at >= disputed_at THEN (epoch(dispute_resolved_at) - epoch(disputed_at)) / 60.0 END), [0.5]) AS q_dispute_resolve_p50, count(*) AS audits, count(DISTINCT decision_id) AS audited_decisions, count(*) FILTER (WHERE is_error) AS errors, count(*) FILTER (WHERE is_error AND severity = 'critical') AS critical_errors, sum((1.0 - CASE WHEN is_error THEN CASE severity WHEN 'critical' THEN $penalty_critical WHEN 'major' THEN $penalty_major WHEN 'minor' THEN $penalty_minor ELSE $penalty_default END ELSE 0.0 END)) AS quality_points, sum((1.0 - CASE WHEN is_error THEN CASE severity WHEN 'critical' THEN $penalty_critical WHEN 'major' THEN $penalty_major WHEN 'minor' THEN $penalty_minor ELSE $penalty_default END ELSE 0.0 END) * (1.0 - CASE WHEN is_error THEN CASE severity WHEN 'critical' THEN $penalty_critical WHEN 'major' THEN $penalty_major WHEN 'minor' THEN $penalty_minor ELSE $penalty_default END ELSE 0.0 END)) AS quality_points_sq, count(*) FILTER (WHERE (list_contains($actioning, decision)) AND (CASE WHEN dispute_status = 'overturned' THEN list_contains($actioning, decision) ELSE list_contains($actioning, qa_decision) END)) AS enforcement_true_positives, count(*) FILTER (WHERE (list_contains($actioning, decision))) AS actioning_audits, count(*) FILTER (WHERE (CASE WHEN dispute_status = 'overturned' THEN list_contains($actioning, decision) ELSE list_contains($actioning, qa_decision) END)) AS truth_actioning_audits, count(*) FILTER (WHERE decision = qa_decision) AS agreements, count(*) FILTER (WHERE is_error AND error_category = 'over_enforcement' AND (list_contains($actioning, decision))) AS over_enforcement_errors, count(*) FILTER (WHERE is_error AND error_category = 'under_enforcement' AND (list_contains($actioning, qa_decision))) AS under_enforcement_errors, count(*) FILTER (WHERE (list_contains($actioning, qa_decision))) AS qa_actioning_audits, count(*) FILTER (WHERE error_counts AND dispute_status IN ('pending', 'upheld', 'overturned')) AS disputed, count(*) FILTER (WHERE error_counts) AS error_typed, count(*) FILTER (WHERE dispute_status = 'overturned') AS overturned, count(*) FILTER (WHERE dispute_status IN ('upheld', 'overturned')) AS dispute_resolved, count(*) FILTER (WHERE dispute_status = 'pending') AS disputes_pending, count(*) FILTER (WHERE (CASE WHEN dispute_status IN ('upheld', 'overturned') AND dispute_resolved_at >= disputed_at THEN (epoch(dispute_resolved_at) - epoch(disputed_at)) / 60.0 END) IS NOT NULL) AS dispute_timed
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1
);

-- query 5
WITH a AS (SELECT CAST(NULL AS DATE) AS period_start, decision, qa_decision FROM audit_facts
                   WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2),
             v AS (SELECT period_start, decision AS label, count(*) AS c FROM a GROUP BY ALL),
             q AS (SELECT period_start, qa_decision AS label, count(*) AS c FROM a
                   GROUP BY ALL),
             cells AS (SELECT period_start, decision AS vl, qa_decision AS ql, count(*) AS c
                       FROM a GROUP BY ALL),
             pe AS (SELECT v.period_start, sum(v.c * q.c) AS kappa_pe_num
                    FROM v JOIN q ON v.period_start IS NOT DISTINCT FROM q.period_start AND v.label = q.label
                    GROUP BY 1),
             se AS (SELECT cells.period_start,
                           sum(CASE WHEN cells.vl = cells.ql THEN cells.c * (coalesce(qi.c, 0) + coalesce(vj.c, 0))
                               ELSE 0 END) AS kappa_s1_num,
                           sum(cells.c * power(CAST(coalesce(qi.c, 0) + coalesce(vj.c, 0) AS DOUBLE), 2)) AS kappa_s2_num
                    FROM cells
                    LEFT JOIN q AS qi ON qi.period_start IS NOT DISTINCT FROM cells.period_start AND qi.label = cells.vl
                    LEFT JOIN v AS vj ON vj.period_start IS NOT DISTINCT FROM cells.period_start AND vj.label = cells.ql
                    GROUP BY 1)
        SELECT se.period_start, coalesce(pe.kappa_pe_num, 0) AS kappa_pe_num,
               se.kappa_s1_num, se.kappa_s2_num
        FROM se LEFT JOIN pe ON se.period_start IS NOT DISTINCT FROM pe.period_start;

-- query 6
SELECT vendor, period_start, q_tat_p50[1] AS tat_p50, q_tat_p50[2] AS tat_p90, q_tat_p50[3] AS tat_p95, q_tat_p50[4] AS tat_p99, q_handle_minutes_p90[1] AS handle_minutes_p90, decisions, tat_mean, sla_met, sla_known, handle_minutes_mean FROM (
SELECT vendor AS vendor, CAST(NULL AS DATE) AS period_start, quantile_cont(((epoch(decided_at) - epoch(enqueued_at)) / 60.0), [0.5, 0.9, 0.95, 0.99]) AS q_tat_p50, quantile_cont(((epoch(decided_at) - epoch(claimed_at)) / 60.0), [0.9]) AS q_handle_minutes_p90, count(*) AS decisions, avg(((epoch(decided_at) - epoch(enqueued_at)) / 60.0)) AS tat_mean, count(*) FILTER (WHERE due_at IS NOT NULL AND decided_at <= due_at) AS sla_met, count(*) FILTER (WHERE due_at IS NOT NULL) AS sla_known, avg(((epoch(decided_at) - epoch(claimed_at)) / 60.0)) AS handle_minutes_mean
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2
);

-- query 7
WITH open_items AS (SELECT vendor, enqueued_at, due_at FROM decisions WHERE decided_at IS NULL)
SELECT * FROM (
SELECT vendor, CAST(NULL AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t0) AS backlog_over_sla FROM (
    SELECT vendor, enqueued_at, due_at FROM decisions WHERE enqueued_at < $t0 AND decided_at >= $t0
    UNION ALL SELECT vendor, enqueued_at, due_at FROM open_items WHERE enqueued_at < $t0
) GROUP BY 1
) ORDER BY 1, 2;

-- query 8
SELECT vendor, period_start, q_dispute_resolve_p50[1] AS dispute_resolve_p50, audits, audited_decisions, errors, critical_errors, quality_points, quality_points_sq, enforcement_true_positives, actioning_audits, truth_actioning_audits, agreements, over_enforcement_errors, under_enforcement_errors, qa_actioning_audits, disputed, error_typed, overturned, dispute_resolved, disputes_pending, dispute_timed FROM (
SELECT vendor AS vendor, CAST(NULL AS DATE) AS period_start, quantile_cont((CASE WHEN dispute_status IN ('upheld', 'overturned') AND dispute_resolved_at >= disputed_at THEN (epoch(dispute_resolved_at) - epoch(disputed_at)) / 60.0 END), [0.5]) AS q_dispute_resolve_p50, count(*) AS audits, count(DISTINCT decision_id) AS audited_decisions, count(*) FILTER (WHERE is_error) AS errors, count(*) FILTER (WHERE is_error AND severity = 'critical') AS critical_errors, sum((1.0 - CASE WHEN is_error THEN CASE severity WHEN 'critical' THEN $penalty_critical WHEN 'major' THEN $penalty_major WHEN 'minor' THEN $penalty_minor ELSE $penalty_default END ELSE 0.0 END)) AS quality_points, sum((1.0 - CASE WHEN is_error THEN CASE severity WHEN 'critical' THEN $penalty_critical WHEN 'major' THEN $penalty_major WHEN 'minor' THEN $penalty_minor ELSE $penalty_default END ELSE 0.0 END) * (1.0 - CASE WHEN is_error THEN CASE severity WHEN 'critical' THEN $penalty_critical WHEN 'major' THEN $penalty_major WHEN 'minor' THEN $penalty_minor ELSE $penalty_default END ELSE 0.0 END)) AS quality_points_sq, count(*) FILTER (WHERE (list_contains($actioning, decision)) AND (CASE WHEN dispute_status = 'overturned' THEN list_contains($actioning, decision) ELSE list_contains($actioning, qa_decision) END)) AS enforcement_true_positives, count(*) FILTER (WHERE (list_contains($actioning, decision))) AS actioning_audits, count(*) FILTER (WHERE (CASE WHEN dispute_status = 'overturned' THEN list_contains($actioning, decision) ELSE list_contains($actioning, qa_decision) END)) AS truth_actioning_audits, count(*) FILTER (WHERE decision = qa_decision) AS agreements, count(*) FILTER (WHERE is_error AND error_category = 'over_enforcement' AND (list_contains($actioning, decision))) AS over_enforcement_errors, count(*) FILTER (WHERE is_error AND error_category = 'under_enforcement' AND (list_contains($actioning, qa_decision))) AS under_enforcement_errors, count(*) FILTER (WHERE (list_contains($actioning, qa_decision))) AS qa_actioning_audits, count(*) FILTER (WHERE error_counts AND dispute_status IN ('pending', 'upheld', 'overturned')) AS disputed, count(*) FILTER (WHERE error_counts) AS error_typed, count(*) FILTER (WHERE dispute_status = 'overturned') AS overturned, count(*) FILTER (WHERE dispute_status IN ('upheld', 'overturned')) AS dispute_resolved, count(*) FILTER (WHERE dispute_status = 'pending') AS disputes_pending, count(*) FILTER (WHERE (CASE WHEN dispute_status IN ('upheld', 'overturned') AND dispute_resolved_at >= disputed_at THEN (epoch(dispute_resolved_at) - epoch(disputed_at)) / 60.0 END) IS NOT NULL) AS dispute_timed
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2
);

-- query 9
WITH a AS (SELECT vendor AS vendor, CAST(NULL AS DATE) AS period_start, decision, qa_decision FROM audit_facts
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

-- query 10
SELECT vendor, workflow, period_start, q_tat_p50[1] AS tat_p50, q_tat_p50[2] AS tat_p90, q_tat_p50[3] AS tat_p95, q_tat_p50[4] AS tat_p99, q_handle_minutes_p90[1] AS handle_minutes_p90, decisions, tat_mean, sla_met, sla_known, handle_minutes_mean FROM (
SELECT vendor AS vendor, workflow AS workflow, CAST(NULL AS DATE) AS period_start, quantile_cont(((epoch(decided_at) - epoch(enqueued_at)) / 60.0), [0.5, 0.9, 0.95, 0.99]) AS q_tat_p50, quantile_cont(((epoch(decided_at) - epoch(claimed_at)) / 60.0), [0.9]) AS q_handle_minutes_p90, count(*) AS decisions, avg(((epoch(decided_at) - epoch(enqueued_at)) / 60.0)) AS tat_mean, count(*) FILTER (WHERE due_at IS NOT NULL AND decided_at <= due_at) AS sla_met, count(*) FILTER (WHERE due_at IS NOT NULL) AS sla_known, avg(((epoch(decided_at) - epoch(claimed_at)) / 60.0)) AS handle_minutes_mean
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3
);

-- query 11
WITH open_items AS (SELECT vendor, workflow, enqueued_at, due_at FROM decisions WHERE decided_at IS NULL)
SELECT * FROM (
SELECT vendor, workflow, CAST(NULL AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t0) AS backlog_over_sla FROM (
    SELECT vendor, workflow, enqueued_at, due_at FROM decisions WHERE enqueued_at < $t0 AND decided_at >= $t0
    UNION ALL SELECT vendor, workflow, enqueued_at, due_at FROM open_items WHERE enqueued_at < $t0
) GROUP BY 1, 2
) ORDER BY 1, 2, 3;

-- query 12
SELECT vendor, workflow, period_start, q_dispute_resolve_p50[1] AS dispute_resolve_p50, audits, audited_decisions, errors, critical_errors, quality_points, quality_points_sq, enforcement_true_positives, actioning_audits, truth_actioning_audits, agreements, over_enforcement_errors, under_enforcement_errors, qa_actioning_audits, disputed, error_typed, overturned, dispute_resolved, disputes_pending, dispute_timed FROM (
SELECT vendor AS vendor, workflow AS workflow, CAST(NULL AS DATE) AS period_start, quantile_cont((CASE WHEN dispute_status IN ('upheld', 'overturned') AND dispute_resolved_at >= disputed_at THEN (epoch(dispute_resolved_at) - epoch(disputed_at)) / 60.0 END), [0.5]) AS q_dispute_resolve_p50, count(*) AS audits, count(DISTINCT decision_id) AS audited_decisions, count(*) FILTER (WHERE is_error) AS errors, count(*) FILTER (WHERE is_error AND severity = 'critical') AS critical_errors, sum((1.0 - CASE WHEN is_error THEN CASE severity WHEN 'critical' THEN $penalty_critical WHEN 'major' THEN $penalty_major WHEN 'minor' THEN $penalty_minor ELSE $penalty_default END ELSE 0.0 END)) AS quality_points, sum((1.0 - CASE WHEN is_error THEN CASE severity WHEN 'critical' THEN $penalty_critical WHEN 'major' THEN $penalty_major WHEN 'minor' THEN $penalty_minor ELSE $penalty_default END ELSE 0.0 END) * (1.0 - CASE WHEN is_error THEN CASE severity WHEN 'critical' THEN $penalty_critical WHEN 'major' THEN $penalty_major WHEN 'minor' THEN $penalty_minor ELSE $penalty_default END ELSE 0.0 END)) AS quality_points_sq, count(*) FILTER (WHERE (list_contains($actioning, decision)) AND (CASE WHEN dispute_status = 'overturned' THEN list_contains($actioning, decision) ELSE list_contains($actioning, qa_decision) END)) AS enforcement_true_positives, count(*) FILTER (WHERE (list_contains($actioning, decision))) AS actioning_audits, count(*) FILTER (WHERE (CASE WHEN dispute_status = 'overturned' THEN list_contains($actioning, decision) ELSE list_contains($actioning, qa_decision) END)) AS truth_actioning_audits, count(*) FILTER (WHERE decision = qa_decision) AS agreements, count(*) FILTER (WHERE is_error AND error_category = 'over_enforcement' AND (list_contains($actioning, decision))) AS over_enforcement_errors, count(*) FILTER (WHERE is_error AND error_category = 'under_enforcement' AND (list_contains($actioning, qa_decision))) AS under_enforcement_errors, count(*) FILTER (WHERE (list_contains($actioning, qa_decision))) AS qa_actioning_audits, count(*) FILTER (WHERE error_counts AND dispute_status IN ('pending', 'upheld', 'overturned')) AS disputed, count(*) FILTER (WHERE error_counts) AS error_typed, count(*) FILTER (WHERE dispute_status = 'overturned') AS overturned, count(*) FILTER (WHERE dispute_status IN ('upheld', 'overturned')) AS dispute_resolved, count(*) FILTER (WHERE dispute_status = 'pending') AS disputes_pending, count(*) FILTER (WHERE (CASE WHEN dispute_status IN ('upheld', 'overturned') AND dispute_resolved_at >= disputed_at THEN (epoch(dispute_resolved_at) - epoch(disputed_at)) / 60.0 END) IS NOT NULL) AS dispute_timed
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2, 3
);

-- query 13
WITH a AS (SELECT vendor AS vendor, workflow AS workflow, CAST(NULL AS DATE) AS period_start, decision, qa_decision FROM audit_facts
                   WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2),
             v AS (SELECT vendor, workflow, period_start, decision AS label, count(*) AS c FROM a GROUP BY ALL),
             q AS (SELECT vendor, workflow, period_start, qa_decision AS label, count(*) AS c FROM a
                   GROUP BY ALL),
             cells AS (SELECT vendor, workflow, period_start, decision AS vl, qa_decision AS ql, count(*) AS c
                       FROM a GROUP BY ALL),
             pe AS (SELECT v.vendor, v.workflow, v.period_start, sum(v.c * q.c) AS kappa_pe_num
                    FROM v JOIN q ON v.vendor IS NOT DISTINCT FROM q.vendor AND v.workflow IS NOT DISTINCT FROM q.workflow AND v.period_start IS NOT DISTINCT FROM q.period_start AND v.label = q.label
                    GROUP BY 1, 2, 3),
             se AS (SELECT cells.vendor, cells.workflow, cells.period_start,
                           sum(CASE WHEN cells.vl = cells.ql THEN cells.c * (coalesce(qi.c, 0) + coalesce(vj.c, 0))
                               ELSE 0 END) AS kappa_s1_num,
                           sum(cells.c * power(CAST(coalesce(qi.c, 0) + coalesce(vj.c, 0) AS DOUBLE), 2)) AS kappa_s2_num
                    FROM cells
                    LEFT JOIN q AS qi ON qi.vendor IS NOT DISTINCT FROM cells.vendor AND qi.workflow IS NOT DISTINCT FROM cells.workflow AND qi.period_start IS NOT DISTINCT FROM cells.period_start AND qi.label = cells.vl
                    LEFT JOIN v AS vj ON vj.vendor IS NOT DISTINCT FROM cells.vendor AND vj.workflow IS NOT DISTINCT FROM cells.workflow AND vj.period_start IS NOT DISTINCT FROM cells.period_start AND vj.label = cells.ql
                    GROUP BY 1, 2, 3)
        SELECT se.vendor, se.workflow, se.period_start, coalesce(pe.kappa_pe_num, 0) AS kappa_pe_num,
               se.kappa_s1_num, se.kappa_s2_num
        FROM se LEFT JOIN pe ON se.vendor IS NOT DISTINCT FROM pe.vendor AND se.workflow IS NOT DISTINCT FROM pe.workflow AND se.period_start IS NOT DISTINCT FROM pe.period_start;

-- query 14
SELECT count(*) AS n, min(decided_at) AS first_at, max(decided_at) AS last_at FROM decisions WHERE decided_at IS NOT NULL AND decided_at >= $t0 AND decided_at < $t1 AND enqueued_at < $t1;

-- query 15
SELECT vendor, period_start, q_tat_p50[1] AS tat_p50, q_tat_p50[2] AS tat_p90, q_tat_p50[3] AS tat_p95, q_tat_p50[4] AS tat_p99, q_handle_minutes_p90[1] AS handle_minutes_p90, decisions, tat_mean, sla_met, sla_known, handle_minutes_mean FROM (
SELECT vendor AS vendor, CAST(date_trunc('week', timezone($tz, decided_at)) AS DATE) AS period_start, quantile_cont(((epoch(decided_at) - epoch(enqueued_at)) / 60.0), [0.5, 0.9, 0.95, 0.99]) AS q_tat_p50, quantile_cont(((epoch(decided_at) - epoch(claimed_at)) / 60.0), [0.9]) AS q_handle_minutes_p90, count(*) AS decisions, avg(((epoch(decided_at) - epoch(enqueued_at)) / 60.0)) AS tat_mean, count(*) FILTER (WHERE due_at IS NOT NULL AND decided_at <= due_at) AS sla_met, count(*) FILTER (WHERE due_at IS NOT NULL) AS sla_known, avg(((epoch(decided_at) - epoch(claimed_at)) / 60.0)) AS handle_minutes_mean
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2
);

-- query 16
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
) ORDER BY 1, 2;

-- query 17
SELECT count(*) AS n, min(decided_at) AS first_at, max(decided_at) AS last_at FROM audit_facts WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t0 AND decided_at < $t1 AND enqueued_at < $t1;

-- query 18
SELECT vendor, period_start, q_dispute_resolve_p50[1] AS dispute_resolve_p50, audits, audited_decisions, errors, critical_errors, quality_points, quality_points_sq, enforcement_true_positives, actioning_audits, truth_actioning_audits, agreements, over_enforcement_errors, under_enforcement_errors, qa_actioning_audits, disputed, error_typed, overturned, dispute_resolved, disputes_pending, dispute_timed FROM (
SELECT vendor AS vendor, CAST(date_trunc('week', timezone($tz, decided_at)) AS DATE) AS period_start, quantile_cont((CASE WHEN dispute_status IN ('upheld', 'overturned') AND dispute_resolved_at >= disputed_at THEN (epoch(dispute_resolved_at) - epoch(disputed_at)) / 60.0 END), [0.5]) AS q_dispute_resolve_p50, count(*) AS audits, count(DISTINCT decision_id) AS audited_decisions, count(*) FILTER (WHERE is_error) AS errors, count(*) FILTER (WHERE is_error AND severity = 'critical') AS critical_errors, sum((1.0 - CASE WHEN is_error THEN CASE severity WHEN 'critical' THEN $penalty_critical WHEN 'major' THEN $penalty_major WHEN 'minor' THEN $penalty_minor ELSE $penalty_default END ELSE 0.0 END)) AS quality_points, sum((1.0 - CASE WHEN is_error THEN CASE severity WHEN 'critical' THEN $penalty_critical WHEN 'major' THEN $penalty_major WHEN 'minor' THEN $penalty_minor ELSE $penalty_default END ELSE 0.0 END) * (1.0 - CASE WHEN is_error THEN CASE severity WHEN 'critical' THEN $penalty_critical WHEN 'major' THEN $penalty_major WHEN 'minor' THEN $penalty_minor ELSE $penalty_default END ELSE 0.0 END)) AS quality_points_sq, count(*) FILTER (WHERE (list_contains($actioning, decision)) AND (CASE WHEN dispute_status = 'overturned' THEN list_contains($actioning, decision) ELSE list_contains($actioning, qa_decision) END)) AS enforcement_true_positives, count(*) FILTER (WHERE (list_contains($actioning, decision))) AS actioning_audits, count(*) FILTER (WHERE (CASE WHEN dispute_status = 'overturned' THEN list_contains($actioning, decision) ELSE list_contains($actioning, qa_decision) END)) AS truth_actioning_audits, count(*) FILTER (WHERE decision = qa_decision) AS agreements, count(*) FILTER (WHERE is_error AND error_category = 'over_enforcement' AND (list_contains($actioning, decision))) AS over_enforcement_errors, count(*) FILTER (WHERE is_error AND error_category = 'under_enforcement' AND (list_contains($actioning, qa_decision))) AS under_enforcement_errors, count(*) FILTER (WHERE (list_contains($actioning, qa_decision))) AS qa_actioning_audits, count(*) FILTER (WHERE error_counts AND dispute_status IN ('pending', 'upheld', 'overturned')) AS disputed, count(*) FILTER (WHERE error_counts) AS error_typed, count(*) FILTER (WHERE dispute_status = 'overturned') AS overturned, count(*) FILTER (WHERE dispute_status IN ('upheld', 'overturned')) AS dispute_resolved, count(*) FILTER (WHERE dispute_status = 'pending') AS disputes_pending, count(*) FILTER (WHERE (CASE WHEN dispute_status IN ('upheld', 'overturned') AND dispute_resolved_at >= disputed_at THEN (epoch(dispute_resolved_at) - epoch(disputed_at)) / 60.0 END) IS NOT NULL) AS dispute_timed
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2
);

-- query 19
WITH a AS (SELECT vendor AS vendor, CAST(date_trunc('week', timezone($tz, decided_at)) AS DATE) AS period_start, decision, qa_decision FROM audit_facts
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

-- query 20
SELECT vendor, priority, period_start, q_tat_p90[1] AS tat_p90, decisions, sla_met, sla_known FROM (
SELECT vendor AS vendor, priority AS priority, CAST(NULL AS DATE) AS period_start, quantile_cont(((epoch(decided_at) - epoch(enqueued_at)) / 60.0), [0.9]) AS q_tat_p90, count(*) AS decisions, count(*) FILTER (WHERE due_at IS NOT NULL AND decided_at <= due_at) AS sla_met, count(*) FILTER (WHERE due_at IS NOT NULL) AS sla_known
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3
);

-- query 21
SELECT vendor AS vendor, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2;

-- query 22
SELECT vendor AS vendor, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2;

-- query 23
SELECT site AS site, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2;

-- query 24
SELECT site AS site, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2;

-- query 25
SELECT workflow AS workflow, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2;

-- query 26
SELECT workflow AS workflow, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2;

-- query 27
SELECT market AS market, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2;

-- query 28
SELECT market AS market, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2;

-- query 29
SELECT vendor AS vendor, site AS site, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3;

-- query 30
SELECT vendor AS vendor, site AS site, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2, 3;

-- query 31
SELECT vendor AS vendor, workflow AS workflow, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3;

-- query 32
SELECT vendor AS vendor, workflow AS workflow, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2, 3;

-- query 33
SELECT vendor AS vendor, market AS market, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3;

-- query 34
SELECT vendor AS vendor, market AS market, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2, 3;

-- query 35
SELECT site AS site, workflow AS workflow, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3;

-- query 36
SELECT site AS site, workflow AS workflow, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2, 3;

-- query 37
SELECT site AS site, market AS market, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3;

-- query 38
SELECT site AS site, market AS market, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2, 3;

-- query 39
SELECT workflow AS workflow, market AS market, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3;

-- query 40
SELECT workflow AS workflow, market AS market, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2, 3;

-- query 41
SELECT vendor AS vendor, site AS site, workflow AS workflow, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3, 4;

-- query 42
SELECT vendor AS vendor, site AS site, workflow AS workflow, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2, 3, 4;

-- query 43
SELECT vendor AS vendor, site AS site, market AS market, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3, 4;

-- query 44
SELECT vendor AS vendor, site AS site, market AS market, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2, 3, 4;

-- query 45
SELECT vendor AS vendor, workflow AS workflow, market AS market, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3, 4;

-- query 46
SELECT vendor AS vendor, workflow AS workflow, market AS market, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2, 3, 4;

-- query 47
SELECT site AS site, workflow AS workflow, market AS market, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3, 4;

-- query 48
SELECT site AS site, workflow AS workflow, market AS market, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2, 3, 4;

-- query 49
SELECT session_id, session_date, workflow, count(DISTINCT item_id) AS items, count(DISTINCT rater_id) FILTER (WHERE NOT coalesce(is_golden, false)) AS raters, list(DISTINCT vendor ORDER BY vendor) FILTER (WHERE NOT coalesce(is_golden, false)) AS rater_vendors FROM calibration_ratings WHERE true AND session_date >= $v0 AND session_date <= $v1 GROUP BY ALL HAVING count(*) FILTER (WHERE NOT coalesce(is_golden, false)) > 0 ORDER BY session_date DESC, session_id;

-- query 50
SELECT vendor, max(decided_at) AS last_decided_at, max(enqueued_at) AS last_enqueued_at, count(*) FILTER (WHERE decided_at IS NULL) AS pending FROM decisions GROUP BY 1 ORDER BY 1;

-- query 51
SELECT vendor AS vendor, workflow AS workflow, market AS market, site AS site, policy AS policy, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3, 4, 5, 6;

-- query 52
SELECT vendor AS vendor, workflow AS workflow, market AS market, site AS site, policy AS policy, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors, count(*) FILTER (WHERE is_error AND severity = 'critical') AS critical_errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2, 3, 4, 5, 6;

-- query 53
SELECT vendor AS vendor, workflow AS workflow, market AS market, site AS site, policy AS policy, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3, 4, 5, 6;

-- query 54
SELECT vendor AS vendor, workflow AS workflow, market AS market, site AS site, policy AS policy, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors, count(*) FILTER (WHERE is_error AND severity = 'critical') AS critical_errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2, 3, 4, 5, 6;

-- query 55
SELECT vendor AS vendor, CAST(date_trunc('day', timezone($tz, decided_at)) AS DATE) AS period_start, count(*) FILTER (WHERE is_error) AS errors, count(*) AS audits
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2;

-- query 56
SELECT vendor AS vendor, workflow AS workflow, CAST(NULL AS DATE) AS period_start, count(*) FILTER (WHERE due_at IS NOT NULL AND decided_at <= due_at) AS sla_met, count(*) FILTER (WHERE due_at IS NOT NULL) AS sla_known
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3;

-- query 57
WITH open_items AS (SELECT vendor, workflow, enqueued_at, due_at FROM decisions WHERE decided_at IS NULL)
SELECT * FROM (
SELECT vendor, workflow, CAST(NULL AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t0) AS backlog_over_sla FROM (
    SELECT vendor, workflow, enqueued_at, due_at FROM decisions WHERE enqueued_at < $t0 AND decided_at >= $t0
    UNION ALL SELECT vendor, workflow, enqueued_at, due_at FROM open_items WHERE enqueued_at < $t0
) GROUP BY 1, 2
) ORDER BY 1, 2, 3;

-- query 58
SELECT max(audited_at) AS newest FROM audit_facts;

-- query 59
SELECT vendor AS vendor, workflow AS workflow, CAST(NULL AS DATE) AS period_start, count(DISTINCT decision_id) AS audited_decisions
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2, 3;

-- query 60
SELECT vendor AS vendor, workflow AS workflow, CAST(NULL AS DATE) AS period_start, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3;

-- query 61
SELECT vendor, workflow, count(*) AS edits, count(DISTINCT decision_id) AS decisions, sum(audits) AS audits, count(*) FILTER (WHERE old_decision IS DISTINCT FROM new_decision) AS label_changes, list(DISTINCT run_id ORDER BY run_id) AS runs FROM edits_after_audit WHERE true AND recorded_at >= $v0 AND recorded_at < $v1 GROUP BY ALL;

-- query 62
SELECT audit_id, decision_id, vendor, workflow, market, reviewer_id, auditor_id, error_type, severity, audited_at, coalesce(disputed_at, audited_at) AS raised_at, disputed_at IS NULL AS raised_at_from_audit
FROM audit_facts WHERE NOT is_orphan AND coalesce(disputed_at, audited_at) < $t0 AND (dispute_status = 'pending' OR (dispute_status IN ('upheld', 'overturned') AND dispute_resolved_at >= $t0)) AND coalesce(disputed_at, audited_at) < $t1
ORDER BY raised_at, audit_id;

-- query 63
SELECT error_type, count(*) AS errors, count(*) FILTER (WHERE severity = 'critical') AS critical FROM audit_facts WHERE is_error AND decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t0 AND decided_at < $t1 AND enqueued_at < $t1 AND workflow = $v2 GROUP BY 1 ORDER BY 2 DESC, 1;

-- query 64
SELECT policy AS policy, CAST(NULL AS DATE) AS period_start, count(*) AS audits, count(*) FILTER (WHERE is_error) AS errors
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3 AND workflow = $v4
GROUP BY 1, 2;

-- query 65
SELECT run_id, kind, vendor, file, sha256, finished_at, status FROM ingest_runs WHERE run_id IN (
SELECT run_id FROM decisions WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
UNION SELECT run_id FROM qa_audits WHERE audit_id IN (SELECT audit_id FROM audit_facts WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t3 AND decided_at < $t4 AND enqueued_at < $t4)
UNION SELECT run_id FROM calibration_ratings WHERE true AND session_date >= $v5 AND session_date <= $v6
) ORDER BY run_id;

-- query 66
SELECT vendor, max(decided_at) AS last_decided_at, max(enqueued_at) AS last_enqueued_at FROM decisions GROUP BY 1 ORDER BY 1;
