"""bpo-kpi's base: configuration (`config`), the database file, schema and locks (`db`) and the
published read replica (`replica`). It imports no other package of the project: `ingest`,
`kpi`, the dashboard and the command line (`bpo_kpi_cli`) import it."""
