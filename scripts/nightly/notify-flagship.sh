#!/bin/sh
# Example --on-sighting hook: one line per new flagship sighting (replace with mail, SMS gateway, chat webhook …).
# wildeye sets WILDEYE_SPECIES, WILDEYE_DEPLOYMENT, WILDEYE_SEQUENCE, WILDEYE_START, WILDEYE_END, WILDEYE_FRAMES,
# WILDEYE_SCORE, WILDEYE_FILES (one path per line) and passes the same details as JSON on stdin.
echo "$(date -Is) ${WILDEYE_SPECIES} at ${WILDEYE_DEPLOYMENT} ${WILDEYE_START} (${WILDEYE_FRAMES} frames, score ${WILDEYE_SCORE})" \
    >> "${WILDEYE_ALERT_LOG:-/var/log/wildeye/flagship.log}"
