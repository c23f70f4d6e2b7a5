"""Alembic migrations, shipped inside the package so an installed govhub can migrate itself."""
