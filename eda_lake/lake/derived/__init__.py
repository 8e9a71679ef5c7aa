"""Tables declared as data and built from others: silver's entities and gold."""
