"""`myhealth collect`: one sync run from Oura to the processor.

`command` (the CLI glue) → `planning` (which days each type needs) → `runner` (fetch with the
Oura client, stream bounded batches to the processor, advance checkpoints after the
processor acknowledged everything) with `state` (advisory lock, checkpoints, run records),
`ingest` (the processor's HTTP API) and `progress` (bars on a terminal, log lines otherwise).
"""
