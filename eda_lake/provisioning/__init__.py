"""Desired state from the catalogue; plan and apply it to a namespace and a registry."""
