# One root per corpus. The demo synthesises its corpus (stage 1 with --synth true) into these.
COMMONVOICE=${COMMONVOICE:-${PWD}/downloads/synth/commonvoice}
FLEURS=${FLEURS:-${PWD}/downloads/synth/fleurs}
