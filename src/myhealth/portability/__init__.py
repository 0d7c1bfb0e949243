"""Your data out and back in: `myhealth export` and `myhealth import` (docs/backup.md)."""
