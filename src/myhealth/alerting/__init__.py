"""Alert delivery: renders the project's Alertmanager template (observability/alertmanager/)
into a configuration for the owner's receivers (docs/monitoring.md#alert-delivery)."""
