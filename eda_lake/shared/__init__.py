"""What every room shares: the user-facing error base, environment faults, name validation,
progress and closing."""
