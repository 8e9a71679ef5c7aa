"""Infrastructure commands: provisioning of the configured target, helpers for test servers."""
