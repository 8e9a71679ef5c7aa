"""Following events through the lake: `eda-lake trace`.

An event's causal tree (its trace: the events that share its trace id, each under the cause
whose span is its parent) and, for each event, every place it is: its deliveries in bronze
(from the lake's event index), its silver row or quarantine row, the teams' dead letters of
it, the entity rows it reached and the gold days that count it, and how long each hop took.
This room reads the lake and the teams' stores; nothing else reads it but the CLI.
"""
