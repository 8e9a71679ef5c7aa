"""eda-lake: an event-driven architecture on Azure Event Hubs and the lake behind it."""

__version__ = "0.1.0"
