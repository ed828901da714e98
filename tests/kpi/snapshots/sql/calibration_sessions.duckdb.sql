-- query 1
SELECT session_id, session_date, workflow, count(DISTINCT item_id) AS items, count(DISTINCT rater_id) FILTER (WHERE NOT coalesce(is_golden, false)) AS raters, list(DISTINCT vendor ORDER BY vendor) FILTER (WHERE vendor IS NOT NULL) AS vendors FROM calibration_ratings  GROUP BY ALL ORDER BY session_date DESC, session_id;
