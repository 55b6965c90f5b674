#!/usr/bin/env bash
# Refresh the dashboard's vendored libraries from the npm registry (the page must load offline: no CDN).
# Usage: scripts/vendor-dashboard.sh [chart.js version] [leaflet version]
set -euo pipefail
chart=${1:-4.6.1}
leaflet=${2:-1.9.4}
here=$(cd "$(dirname "$0")/.." && pwd)
vendor="$here/app/dashboard/static/vendor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "chart.js@$chart" "leaflet@$leaflet" >/dev/null
mkdir c l
tar xzf "chart.js-$chart.tgz" -C c
tar xzf "leaflet-$leaflet.tgz" -C l
rm -rf "$vendor"
mkdir -p "$vendor/chart.js" "$vendor/leaflet/images"
cp c/package/dist/chart.umd.min.js "$vendor/chart.js/"
cp c/package/LICENSE.md "$vendor/chart.js/"
cp l/package/dist/leaflet.js l/package/dist/leaflet.css "$vendor/leaflet/"
cp l/package/dist/images/* "$vendor/leaflet/images/"
cp l/package/LICENSE "$vendor/leaflet/"
echo "vendored chart.js $chart and leaflet $leaflet into $vendor"
