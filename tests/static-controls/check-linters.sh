#!/usr/bin/env bash
# Positive controls for the linters of `make lint`: each must reject known-bad-template.yaml and
# name the rules it breaks (exiting non-zero is not enough: a crash exits non-zero too), and
# checkov must have run checks on the project's template (a template it cannot parse passes
# with zero checks). Usage: check-linters.sh VENV SAM_VENV TEMPLATE
set -u -o pipefail
venv=$1 sam_venv=$2 template=$3
bad="$(dirname "$0")/known-bad-template.yaml"
failed=0

# expect_reject NAME PATTERN COMMAND...: COMMAND must exit non-zero and print every rule in PATTERN
# (a space-separated list of rule ids).
expect_reject() {
  local name=$1 rules=$2 out rc missing=""
  shift 2
  out=$("$@" 2>&1)
  rc=$?
  for rule in $rules; do
    grep -q -- "$rule" <<<"$out" || missing="$missing $rule"
  done
  if [ "$rc" -eq 0 ]; then
    echo "positive control FAILED: $name passed the known-bad template"
    failed=1
  elif [ -n "$missing" ]; then
    echo "positive control FAILED: $name exited $rc without reporting$missing (did it crash?):"
    tail -n 20 <<<"$out"
    failed=1
  else
    echo "positive control: $name rejects the known-bad template ($rules)"
  fi
}

export BC_SKIP_MAPPING=TRUE SAM_CLI_TELEMETRY=0
expect_reject cfn-lint "E3002 W3037" "$venv/bin/cfn-lint" "$bad"
expect_reject checkov "CKV_AWS_63 CKV_AWS_21" \
  "$venv/bin/checkov" -f "$bad" --framework cloudformation --compact --quiet --skip-download
expect_reject "sam validate --lint" "E3002 W3037" \
  "$sam_venv/bin/sam" validate --lint --template-file "$bad" --region us-east-1

# checkov passes a file it could not read with "Passed checks: 0, Failed checks: 0".
out=$("$venv/bin/checkov" -f "$template" --framework cloudformation --compact --skip-download 2>&1)
if grep -qE "Passed checks: [1-9]" <<<"$out"; then
  echo "positive control: checkov ran $(grep -oE 'Passed checks: [0-9]+' <<<"$out" | head -1 | cut -d' ' -f3) passing checks on $template"
else
  echo "positive control FAILED: checkov ran no check on $template:"
  tail -n 20 <<<"$out"
  failed=1
fi
exit $failed
