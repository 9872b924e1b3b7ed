"""The v1 Flag API contract in code: its JSON shapes and their conversion to and from the domain model
(wire.py), and the streaming parse of the big `GET /v1/flags` body (flag_list.py). Shared by the reference
service (flagops/server) and the flagapi adapter, so both sides agree on one contract."""
