#!/usr/bin/env bash
# Prints the version of this checkout in `git describe` form, for the
# programs' `version` (-ldflags -X) and the Debian packages:
#   v1.2.0                    a release tag
#   v1.2.0-3-g3f2a9c1b7d4e    three commits after it
#   v0.0.0-412-g47a33552cba4  no release tag yet (412 commits)
# with -dirty when tracked files differ from the commit.
set -euo pipefail
cd "$(dirname "$0")/.."
if d=$(git describe --tags --dirty --abbrev=12 --match 'v[0-9]*' 2>/dev/null); then
  echo "$d"
elif h=$(git rev-parse --short=12 HEAD 2>/dev/null); then
  dirty=""
  git diff --quiet HEAD -- 2>/dev/null || dirty=-dirty
  echo "v0.0.0-$(git rev-list --count HEAD)-g$h$dirty"
else
  echo "v0.0.0" # a source tree without its git history
fi
