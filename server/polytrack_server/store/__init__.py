"""Storage of the tracking service: the contract (`interface`) and its SQL implementation
(`tracking.SqlTrackingStore`, `engine.create_engine_for`, `migrations.upgrade_database`)."""
