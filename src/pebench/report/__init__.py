"""Reports from results.json: tables (and, later, plots and HTML)."""
