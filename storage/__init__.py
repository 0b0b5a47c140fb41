"""SQLAlchemy 2 (async) storage: models, migrations, and the core's ``Store`` implemented on them."""
