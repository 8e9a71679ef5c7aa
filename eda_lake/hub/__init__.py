"""Event hub: the interface shaped like Event Hubs, and its adapters (local, later Azure, Kafka)."""
