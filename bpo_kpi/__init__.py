"""bpo-kpi core: configuration, the database and the command line shared by ingest and kpi."""
