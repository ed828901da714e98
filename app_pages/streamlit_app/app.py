"""The dashboard's main script in an installed package (what `bpo-kpi serve` runs); a clone's
`app.py` is the same. The app itself: `app_pages.entry`."""

from app_pages.entry import main

main()
