"""Everything about Oura API v2: the data-type catalogue, document models, the HTTP client, auth."""
