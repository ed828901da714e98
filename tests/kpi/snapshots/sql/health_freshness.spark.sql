-- query 1
SELECT vendor, MAX(decided_at) AS last_decided_at, MAX(enqueued_at) AS last_enqueued_at, COUNT(*) FILTER(WHERE decided_at IS NULL) AS pending FROM decisions GROUP BY 1 ORDER BY 1 NULLS LAST;
