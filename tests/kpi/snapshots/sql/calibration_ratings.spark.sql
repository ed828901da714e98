-- query 1
SELECT session_id, session_date, workflow, item_id, rater_id, vendor, label, policy, COALESCE(is_golden, FALSE) AS is_golden FROM calibration_ratings WHERE TRUE AND workflow = :v0 ORDER BY session_date NULLS LAST, session_id NULLS LAST, item_id NULLS LAST, rater_id NULLS LAST;
