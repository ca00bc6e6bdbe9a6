"""The embedded stack: the synthesised CloudFormation template deployed into an in-process moto
server, Lambdas run in-process by their Handler strings, the HTTP API served on 127.0.0.1, table
streams and schedules driven locally. `python -m infra.local serve|demo`."""
