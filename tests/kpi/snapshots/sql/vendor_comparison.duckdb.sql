-- query 1
SELECT vendor, period_start, q_tat_p50[1] AS tat_p50, q_tat_p50[2] AS tat_p90, q_tat_p50[3] AS tat_p95, q_tat_p50[4] AS tat_p99, q_handle_minutes_p90[1] AS handle_minutes_p90, decisions, tat_mean, sla_met, sla_known, handle_minutes_mean FROM (
SELECT vendor AS vendor, CAST(NULL AS DATE) AS period_start, quantile_cont(((epoch(decided_at) - epoch(enqueued_at)) / 60.0), [0.5, 0.9, 0.95, 0.99]) AS q_tat_p50, quantile_cont(((epoch(decided_at) - epoch(claimed_at)) / 60.0), [0.9]) AS q_handle_minutes_p90, count(*) AS decisions, avg(((epoch(decided_at) - epoch(enqueued_at)) / 60.0)) AS tat_mean, count(*) FILTER (WHERE due_at IS NOT NULL AND decided_at <= due_at) AS sla_met, count(*) FILTER (WHERE due_at IS NOT NULL) AS sla_known, avg(((epoch(decided_at) - epoch(claimed_at)) / 60.0)) AS handle_minutes_mean
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2
);

-- query 2
WITH open_items AS (SELECT vendor, enqueued_at, due_at FROM decisions WHERE decided_at IS NULL)
SELECT * FROM (
SELECT vendor, CAST(NULL AS DATE) AS period_start, count(*) AS backlog, count(*) FILTER (WHERE due_at < $t0) AS backlog_over_sla FROM (
    SELECT vendor, enqueued_at, due_at FROM decisions WHERE enqueued_at < $t0 AND decided_at >= $t0
    UNION ALL SELECT vendor, enqueued_at, due_at FROM open_items WHERE enqueued_at < $t0
) GROUP BY 1
) ORDER BY 1, 2;

-- query 3
SELECT vendor, period_start, q_dispute_resolve_p50[1] AS dispute_resolve_p50, audits, audited_decisions, errors, critical_errors, quality_points, quality_points_sq, enforcement_true_positives, actioning_audits, truth_actioning_audits, agreements, over_enforcement_errors, under_enforcement_errors, qa_actioning_audits, disputed, error_typed, overturned, dispute_resolved, disputes_pending, dispute_timed FROM (
SELECT vendor AS vendor, CAST(NULL AS DATE) AS period_start, quantile_cont((CASE WHEN dispute_status IN ('upheld', 'overturned') AND dispute_resolved_at >= disputed_at THEN (epoch(dispute_resolved_at) - epoch(disputed_at)) / 60.0 END), [0.5]) AS q_dispute_resolve_p50, count(*) AS audits, count(DISTINCT decision_id) AS audited_decisions, count(*) FILTER (WHERE is_error) AS errors, count(*) FILTER (WHERE is_error AND severity = 'critical') AS critical_errors, sum((1.0 - CASE WHEN is_error THEN CASE severity WHEN 'critical' THEN $penalty_critical WHEN 'major' THEN $penalty_major WHEN 'minor' THEN $penalty_minor ELSE $penalty_default END ELSE 0.0 END)) AS quality_points, sum((1.0 - CASE WHEN is_error THEN CASE severity WHEN 'critical' THEN $penalty_critical WHEN 'major' THEN $penalty_major WHEN 'minor' THEN $penalty_minor ELSE $penalty_default END ELSE 0.0 END) * (1.0 - CASE WHEN is_error THEN CASE severity WHEN 'critical' THEN $penalty_critical WHEN 'major' THEN $penalty_major WHEN 'minor' THEN $penalty_minor ELSE $penalty_default END ELSE 0.0 END)) AS quality_points_sq, count(*) FILTER (WHERE (list_contains($actioning, decision)) AND (CASE WHEN dispute_status = 'overturned' THEN list_contains($actioning, decision) ELSE list_contains($actioning, qa_decision) END)) AS enforcement_true_positives, count(*) FILTER (WHERE (list_contains($actioning, decision))) AS actioning_audits, count(*) FILTER (WHERE (CASE WHEN dispute_status = 'overturned' THEN list_contains($actioning, decision) ELSE list_contains($actioning, qa_decision) END)) AS truth_actioning_audits, count(*) FILTER (WHERE decision = qa_decision) AS agreements, count(*) FILTER (WHERE is_error AND error_category = 'over_enforcement' AND (list_contains($actioning, decision))) AS over_enforcement_errors, count(*) FILTER (WHERE is_error AND error_category = 'under_enforcement' AND (list_contains($actioning, qa_decision))) AS under_enforcement_errors, count(*) FILTER (WHERE (list_contains($actioning, qa_decision))) AS qa_actioning_audits, count(*) FILTER (WHERE error_counts AND dispute_status IN ('pending', 'upheld', 'overturned')) AS disputed, count(*) FILTER (WHERE error_counts) AS error_typed, count(*) FILTER (WHERE dispute_status = 'overturned') AS overturned, count(*) FILTER (WHERE dispute_status IN ('upheld', 'overturned')) AS dispute_resolved, count(*) FILTER (WHERE dispute_status = 'pending') AS disputes_pending, count(*) FILTER (WHERE (CASE WHEN dispute_status IN ('upheld', 'overturned') AND dispute_resolved_at >= disputed_at THEN (epoch(dispute_resolved_at) - epoch(disputed_at)) / 60.0 END) IS NOT NULL) AS dispute_timed
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2
);

-- query 4
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

-- query 5
SELECT vendor AS vendor, workflow AS workflow, CAST(NULL AS DATE) AS period_start, count(*) FILTER (WHERE due_at IS NOT NULL AND decided_at <= due_at) AS sla_met, count(*) FILTER (WHERE due_at IS NOT NULL) AS sla_known, count(*) AS decisions
FROM decisions
WHERE decided_at IS NOT NULL AND decided_at >= $t1 AND decided_at < $t2 AND enqueued_at < $t2
GROUP BY 1, 2, 3;

-- query 6
SELECT vendor AS vendor, workflow AS workflow, CAST(NULL AS DATE) AS period_start, count(DISTINCT decision_id) AS audited_decisions, count(*) FILTER (WHERE is_error) AS errors, count(*) AS audits, count(*) FILTER (WHERE is_error AND severity = 'critical') AS critical_errors, count(*) FILTER (WHERE decision = qa_decision) AS agreements
FROM audit_facts
WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at >= $t2 AND decided_at < $t3 AND enqueued_at < $t3
GROUP BY 1, 2, 3;

-- query 7
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
