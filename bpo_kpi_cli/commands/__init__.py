"""The commands, by area: `read` (the read path: KPI tables, gaps, alerts, calibration, data
health listings, publishing), `write` (ingest, retry, upgrade), `serve` (the dashboard and the
demo) and `bench`. `bpo_kpi_cli.main` imports a module when one of its commands runs.

A command function takes the parsed arguments, calls the library and prints what it returns
(`bpo_kpi_cli.output`); it is wrapped by `output.command`, and returns the exit code.
"""
