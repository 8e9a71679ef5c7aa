"""The four teams' synthetic domain: generators, subscribers, partners' files, dead letters."""
