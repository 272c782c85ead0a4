"""The Airbyte HTTP client: auth, retries, typed models, errors, pagination. Knows nothing of Luigi."""
