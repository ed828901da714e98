-- query 1
SELECT COUNT(*) AS n FROM decisions;

-- query 2
SELECT COUNT(*) AS n FROM qa_audits;

-- query 3
SELECT COUNT(vendor) AS n FROM calibration_ratings;

-- query 4
SELECT COUNT(*) AS n FROM ingest_runs;

-- query 5
SELECT DISTINCT vendor AS v FROM decisions WHERE NOT vendor IS NULL ORDER BY 1 NULLS LAST;

-- query 6
SELECT DISTINCT site AS v FROM decisions WHERE NOT site IS NULL ORDER BY 1 NULLS LAST;

-- query 7
SELECT DISTINCT workflow AS v FROM decisions WHERE NOT workflow IS NULL ORDER BY 1 NULLS LAST;

-- query 8
SELECT DISTINCT market AS v FROM decisions WHERE NOT market IS NULL ORDER BY 1 NULLS LAST;

-- query 9
SELECT MIN(t) AS first, MAX(t) AS last FROM (SELECT COALESCE(decided_at, enqueued_at) AS t FROM decisions) WHERE t BETWEEN :lo AND :hi;
