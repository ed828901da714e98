-- query 1
SELECT count(*) AS n FROM decisions;

-- query 2
SELECT count(*) AS n FROM qa_audits;

-- query 3
SELECT count(vendor) AS n FROM calibration_ratings;

-- query 4
SELECT count(*) AS n FROM ingest_runs;

-- query 5
SELECT DISTINCT vendor AS v FROM decisions WHERE vendor IS NOT NULL ORDER BY 1;

-- query 6
SELECT DISTINCT site AS v FROM decisions WHERE site IS NOT NULL ORDER BY 1;

-- query 7
SELECT DISTINCT workflow AS v FROM decisions WHERE workflow IS NOT NULL ORDER BY 1;

-- query 8
SELECT DISTINCT market AS v FROM decisions WHERE market IS NOT NULL ORDER BY 1;

-- query 9
SELECT min(t) AS first, max(t) AS last FROM (SELECT coalesce(decided_at, enqueued_at) AS t FROM decisions) WHERE t BETWEEN $lo AND $hi;
