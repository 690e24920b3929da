// A member's last hour as a small inline SVG chart for the HTML dashboard:
// distinct sessions per minute as a filled area (the drain picture: it falls
// to zero), requests per minute as a line, and a red mark under each minute
// with errors. The time axis starts at the first minute with any count (at
// least 10 minutes before now; data-first is its index in the hour). Each series is scaled to its own maximum, which the caption
// states, and the current minute, not over yet, is a shaded band; every
// series also carries its numbers in a data-values attribute,
// oldest minute first, the same arrays as the JSON format's "history".
#ifndef STICKY_STATUS_CHART_H
#define STICKY_STATUS_CHART_H

#include <string>

#include "status/status.h"

namespace sticky {

// Appends <figure class="chart" data-worker="NAME">...</figure>.
void AppendMinuteChart(std::string* out, const WorkerRow& w);

}  // namespace sticky

#endif  // STICKY_STATUS_CHART_H
