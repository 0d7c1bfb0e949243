"""PostgreSQL storage: connections, versioned migrations, the schema every service shares."""
