# Root of a FLEURS download (google/fleurs data/): one folder per language config.
FLEURS=${FLEURS:-/path/to/fleurs/data}
