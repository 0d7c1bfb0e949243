"""The Grafana dashboards as code (docs/monitoring.md#changing-a-dashboard).

Built with Grafana's Foundation SDK, a development dependency: `make dashboards` writes the JSON
files Grafana provisions (observability/grafana/dashboards/); no service imports this package.
"""
