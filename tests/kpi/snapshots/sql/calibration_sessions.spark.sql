-- query 1
SELECT session_id, session_date, workflow, COUNT(DISTINCT item_id) AS items, COUNT(DISTINCT rater_id) FILTER(WHERE NOT COALESCE(is_golden, FALSE)) AS raters, ARRAY_SORT(COLLECT_LIST(DISTINCT vendor) FILTER(WHERE NOT vendor IS NULL)) AS vendors FROM calibration_ratings GROUP BY ALL ORDER BY session_date DESC, session_id NULLS LAST;
