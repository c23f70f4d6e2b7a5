"""Digital registries hosted on govhub (GovStack Digital Registries): schemas, records, history."""
