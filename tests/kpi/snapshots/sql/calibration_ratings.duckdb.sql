-- query 1
SELECT session_id, session_date, workflow, item_id, rater_id, vendor, label, policy, coalesce(is_golden, false) AS is_golden FROM calibration_ratings WHERE true AND workflow = $v0 ORDER BY session_date, session_id, item_id, rater_id;
