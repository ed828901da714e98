"""`python -m bpo_kpi_cli`: the `bpo-kpi` command line."""

from bpo_kpi_cli.main import main

raise SystemExit(main())
