#!/usr/bin/env bash
# Kaldi-style option parsing for recipe scripts (the rules of Kaldi's utils/parse_options.sh):
# source it after the script's defaults, which are written one per line at the start of a line
# as `name=default  # short description` (a description may go on over following comment-only
# lines). Then:
#   --some-name VALUE or --some_name VALUE sets the shell variable some_name, which must already
#     exist (a default was set), so a misspelt option is an error that names it;
#   --name=VALUE is refused with a message saying to write `--name VALUE` (as Kaldi does);
#   an option whose current value is true or false takes only true or false;
#   --config FILE sources FILE (name=value lines) before any other option is applied, whatever
#     its place on the command line, so the command line wins over the config; FILE is bash code,
#     run as it is, as Kaldi's script runs it (docs/SECURITY.md): give only a file you would run;
#   --help or -h prints $help_message, then every option with its default and description,
#     read from the calling script's default lines (so the list cannot drift from the defaults);
#   other names for an option (say asr.sh's) are an associative array declared before sourcing this
#     file, alias -> option: `declare -A option_aliases=([dumpdir]=dump)` makes --dumpdir set dump;
#     --help names the aliases beside their option;
#   the first argument that does not start with -- ends the options: the rest stays in "$@".

# _po_help SCRIPT: the options table of SCRIPT, from its default lines up to the line that
# sources this file; defaults are the variables' values now, before any config or option.
_po_help() {
    local line name rest i cur=-1 width=0 names=() descs=()
    local assign='^([A-Za-z_][A-Za-z0-9_]*)\+?=(.*)$' comment='[[:space:]]#[[:space:]]?(.*)$'
    local comment_only='^[[:space:]]+#[[:space:]]?(.*)$'
    while IFS= read -r line || [[ -n ${line} ]]; do
        [[ ${line} == *parse_options.sh* ]] && break
        if [[ ${line} =~ ${assign} ]]; then
            name=${BASH_REMATCH[1]} rest=${BASH_REMATCH[2]} cur=-1
            [[ ${name} == help_message ]] && continue
            for i in "${!names[@]}"; do  # `name+=...` adds to a default already listed
                [[ ${names[i]} == "${name}" ]] && cur=${i}
            done
            if (( cur < 0 )); then
                cur=${#names[@]} names+=("${name}") descs+=("")
                (( ${#name} > width )) && width=${#name}
            fi
            [[ ${rest} =~ ${comment} ]] && descs[cur]+=" ${BASH_REMATCH[1]}"
        elif (( cur >= 0 )) && [[ ${line} =~ ${comment_only} ]]; then
            descs[cur]+=" ${BASH_REMATCH[1]}"
        else
            cur=-1
        fi
    done <"$1"
    (( ${#names[@]} )) || return 0
    echo
    echo "Options (default in brackets):"
    for i in "${!names[@]}"; do
        printf '  --%-*s %s%s [%s]\n' "${width}" "${names[i]}" "${descs[i]# }" "$(_po_aliases_of "${names[i]}")" \
            "${!names[i]-}"
    done
}

# _po_alias NAME: the option that --NAME sets (NAME itself unless it is an alias).
_po_alias() {
    if declare -p option_aliases >/dev/null 2>&1 && [[ -n ${option_aliases[$1]+set} ]]; then
        echo "${option_aliases[$1]}"
    else
        echo "$1"
    fi
}

# _po_aliases_of NAME: " (alias: --A --B)" for the aliases of option NAME, nothing if it has none.
_po_aliases_of() {
    local alias found=()
    declare -p option_aliases >/dev/null 2>&1 || return 0
    for alias in "${!option_aliases[@]}"; do
        [[ ${option_aliases[${alias}]} == "$1" ]] && found+=("--${alias}")
    done
    (( ${#found[@]} )) && echo " (alias: ${found[*]})"
    return 0
}

# One pass for --help (before anything changes a default), one for --config files, one for the
# options; each walks the leading options two arguments at a time, as the last pass consumes them.
for _po_pass in help config; do
    _po_i=1
    while (( _po_i <= $# )); do
        _po_arg=${!_po_i}
        [[ ${_po_arg} == --* || ${_po_arg} == -h ]] || break
        if [[ ${_po_pass} == help && ( ${_po_arg} == --help || ${_po_arg} == -h ) ]]; then
            {
                if [[ -n ${help_message:-} ]]; then printf '%s\n' "${help_message}"; else echo "Usage: $0 [options]"; fi
                _po_script=${BASH_SOURCE[1]:-$0}
                # a script that went to its own folder (cd "$(dirname "$0")") is found there
                [[ -r ${_po_script} ]] || _po_script=${_po_script##*/}
                _po_help "${_po_script}"
            } >&2
            exit 0
        fi
        _po_next=$(( _po_i + 1 ))
        if [[ ${_po_pass} == config && ${_po_arg} == --config && ${_po_next} -le $# ]]; then
            _po_config=${!_po_next}
            [[ -r ${_po_config} ]] || { echo "$0: missing config '${_po_config}'" >&2; exit 1; }
            # shellcheck disable=SC1090
            . "${_po_config}"
        fi
        (( _po_i += 2 ))
    done
done

while [[ $# -gt 0 && $1 == --* ]]; do
    if [[ $1 == --*=* ]]; then
        echo "$0: options to scripts must be of the form --name value, got '$1' (write: ${1%%=*} ${1#*=})" >&2
        exit 1
    fi
    _po_name=${1#--}; _po_name=$(_po_alias "${_po_name//-/_}")
    if [[ ${_po_name} != config ]] && ! declare -p "${_po_name}" >/dev/null 2>&1; then
        echo "$0: invalid option $1 (no such option; $0 --help lists them)" >&2; exit 1
    fi
    if [[ $# -lt 2 ]]; then
        echo "$0: option $1 needs a value" >&2; exit 1
    fi
    if [[ ${_po_name} != config && ( ${!_po_name-} == true || ${!_po_name-} == false ) ]] \
            && [[ $2 != true && $2 != false ]]; then
        echo "$0: expected \"true\" or \"false\": $1 $2" >&2; exit 1
    fi
    [[ ${_po_name} == config ]] || printf -v "${_po_name}" '%s' "$2"
    shift 2
done

# an empty --cmd is a scripting error (an unset variable in the caller), as Kaldi checks
if declare -p cmd >/dev/null 2>&1 && [[ -z ${cmd} ]]; then
    echo "$0: empty argument to --cmd option" >&2; exit 1
fi
unset _po_script _po_pass _po_arg _po_i _po_next _po_config _po_name
unset -f _po_help _po_alias _po_aliases_of
