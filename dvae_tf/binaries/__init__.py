"""The command-line programs: `dvae-train`, `dvae-evaluate`, `dvae-sample`,
`dvae-export` and `dvae-benchmark` (console scripts), also run as
`python bin/<name>.py`. Each module defines its flags, a `main(argv)` that
turns them into a config and calls one library function, and `run()`.
"""
