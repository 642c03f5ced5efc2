"""The command-line programs: `dvae-train`, `dvae-evaluate`, `dvae-sample`,
`dvae-export` and `dvae-benchmark` (console scripts), also run as
`python bin/<name>.py`. Each module defines its flags, a `main(argv)` that
turns them into a config and calls one library function, and `run()`.
"""

import os

# Before TensorFlow is imported: its C++ INFO and WARNING lines would land in
# the progress output (errors still show).
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
