-- query 1
SELECT vendor, max(decided_at) AS last_decided_at, max(enqueued_at) AS last_enqueued_at, count(*) FILTER (WHERE decided_at IS NULL) AS pending FROM decisions GROUP BY 1 ORDER BY 1;
