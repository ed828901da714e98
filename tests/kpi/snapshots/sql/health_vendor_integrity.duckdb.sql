-- query 1
WITH d AS (SELECT vendor, count(*) FILTER (WHERE decided_at IS NOT NULL) AS decided
                   FROM decisions GROUP BY ALL),
             c AS (SELECT vendor, count(DISTINCT decision_id) AS corrected
                   FROM decisions_history WHERE decided_at IS NOT NULL GROUP BY ALL),
             e AS (SELECT vendor, count(*) AS edits, count(DISTINCT decision_id) AS edited,
                          max(recorded_at) AS last_edit
                   FROM edits_after_audit GROUP BY ALL)
        SELECT d.vendor, d.decided, coalesce(c.corrected, 0) AS corrected,
               coalesce(c.corrected, 0) / nullif(d.decided, 0) AS correction_rate,
               coalesce(e.edited, 0) AS edited_after_audit, coalesce(e.edits, 0) AS edits,
               e.last_edit
        FROM d LEFT JOIN c USING (vendor) LEFT JOIN e USING (vendor)
        ORDER BY d.vendor;
