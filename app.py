"""Streamlit entry point in a clone (`streamlit run app.py`, the AppTest tests): the dashboard
is `app_pages.entry` (an installed package runs it as `app_pages/streamlit_app/app.py`)."""

from app_pages.entry import main

main()
