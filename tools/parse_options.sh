#!/usr/bin/env bash
# Kaldi-style option parsing for recipe scripts: source it after setting defaults.
# Every `--some-name VALUE` (or --some_name) sets the shell variable some_name, which must
# already exist (a default was set), so a typo is an error rather than silently ignored.
# `--config FILE` sources FILE first (name=value lines). Positional arguments stay in "$@".
while [[ $# -gt 0 && $1 == --* ]]; do
    if [[ $1 == --help || $1 == -h ]]; then
        [[ -n ${help_message:-} ]] && printf '%s\n' "${help_message}" >&2
        exit 0
    fi
    _name=${1#--}; _name=${_name//-/_}
    if [[ $# -lt 2 ]]; then
        echo "$0: option $1 needs a value" >&2; exit 1
    fi
    if [[ ${_name} == config ]]; then
        # shellcheck disable=SC1090
        . "$2"
    elif ! declare -p "${_name}" >/dev/null 2>&1; then
        echo "$0: unknown option $1" >&2; exit 1
    else
        printf -v "${_name}" '%s' "$2"
    fi
    shift 2
done
unset _name
