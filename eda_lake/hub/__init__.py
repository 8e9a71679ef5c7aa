"""Event hub: the interface shaped like Event Hubs, and its adapters (the embedded one,
Azure Event Hubs, Kafka)."""
