# Root of a Common Voice release: the folder holding one folder per locale (clips/, *.tsv).
COMMONVOICE=${COMMONVOICE:-/path/to/cv-corpus-17.0-2024-03-15}
