"""Gelombang's dashboards: one panel definition (panels.py), rendered as Grafana JSON
(grafana.py) and as Prometheus console pages (consoles.py); generate.py knows the files and
`python -m deploy.dashboards write` regenerates them (`check` says which differ)."""
