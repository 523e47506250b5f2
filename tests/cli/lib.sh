# The setup every tests/cli/*_test.sh shares, sourced first thing:
#   source "$(dirname "$0")/lib.sh" "$@"
# Takes the script's arguments (AASIM, the binary under test) and leaves:
#   aasim   the binary ($1), made absolute (the script then works from the repository root)
#   dir     a fresh temporary directory, removed when the script exits
#   failed  0; a script's own `check` sets it to 1, and the script ends with `exit $failed`
# and the working directory at the repository root (scenarios/, docs/ ...). Options: -u and
# pipefail; a script that wants -e sets it itself. Each script keeps its own `check`: what
# a case compares (stdout and stderr apart, or together) differs from script to script.
set -uo pipefail
if [[ $# -lt 1 ]]; then
  echo "usage: $(basename "$0") AASIM (the aasim binary to test)" >&2
  exit 2
elif [[ ! -f $1 || ! -x $1 ]]; then
  echo "$(basename "$0"): AASIM '$1' is not an executable file" >&2
  exit 2
fi
aasim=$(realpath "$1")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 2
failed=0
