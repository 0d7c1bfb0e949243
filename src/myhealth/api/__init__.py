"""The public API (`myhealth api`): JWT-protected, read-only REST over the daily relations."""
