"""The data processor: validates Oura documents, archives them and upserts the typed tables."""
