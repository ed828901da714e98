#!/bin/sh
# The team server's scheduled work (compose.yaml's `jobs` service), in a loop: every
# INGEST_EVERY_MINUTES, load the drop folders' new files (each file not loaded before, in name
# order, as its own run); once a day from ALERTS_AT (HH:MM, UTC), send the day's new alerts
# with the digest to NOTIFY_URLS (apprise URLs, space-separated; empty: only list them).
# `jobs.sh --once` does one round and exits.
#
# Database and configuration: BPO_KPI_DB, BPO_KPI_CONFIG. Drop folders: $DROP/decisions,
# $DROP/audits, $DROP/calibration for files in bpo-kpi's own columns, and $DROP/<vendor>/<kind>
# for a vendor's export format, read with the mapping $MAPPINGS/<vendor>.toml
# (sample_data/vendors/ has examples). Alerts and the digest go out once per target, whatever
# the number of rounds (bpo-kpi keeps what was sent in the state file beside the database).
set -u

DROP=${DROP:-/drop}
MAPPINGS=${MAPPINGS:-/config/mappings}
INGEST_EVERY_MINUTES=${INGEST_EVERY_MINUTES:-15}
ALERTS_AT=${ALERTS_AT:-07:15}
NOTIFY_URLS=${NOTIFY_URLS:-}

log() { echo "$(date -u +%FT%TZ) jobs: $*"; }

ingest_round() {
    for kind in decisions audits calibration; do
        if [ -d "$DROP/$kind" ]; then
            bpo-kpi ingest "$kind" "$DROP/$kind" --quiet || log "ingest $DROP/$kind failed ($?)"
        fi
        for mapping in "$MAPPINGS"/*.toml; do
            [ -f "$mapping" ] || continue  # no mappings: the pattern stays unexpanded
            folder="$DROP/$(basename "$mapping" .toml)/$kind"
            if [ -d "$folder" ]; then
                bpo-kpi ingest "$kind" "$folder" --mapping "$mapping" --quiet \
                    || log "ingest $folder failed ($?)"
            fi
        done
    done
}

alerts() (  # a subshell, for `set -f`; its status is bpo-kpi's
    set -f  # NOTIFY_URLS is split on spaces, never expanded as file patterns (`?` in URLs)
    if [ -n "$NOTIFY_URLS" ]; then
        # shellcheck disable=SC2086  # one argument per URL
        exec bpo-kpi alerts --notify $NOTIFY_URLS --digest
    fi
    exec bpo-kpi alerts --exit-status
)

alerts_at=$(echo "$ALERTS_AT" | tr -d :)
alerted=""
while :; do
    ingest_round
    today=$(date -u +%F)
    if [ "$today" != "$alerted" ] && [ "$(date -u +%H%M)" -ge "$alerts_at" ] \
        && [ -f "${BPO_KPI_DB:-bpo_kpi.duckdb}" ]; then  # no database: no data to alert on yet
        alerts
        status=$?
        # 0 no open alert, 1 a warning, 2 a critical one; 3 a target was not reached (nothing
        # marked sent to it): try again next round; an error prints an `error:` line first
        log "alerts: exit status $status"
        [ "$status" -eq 3 ] || alerted=$today
    fi
    [ "${1:-}" = "--once" ] && exit 0
    sleep $((INGEST_EVERY_MINUTES * 60))
done
