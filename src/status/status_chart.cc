#include "status/status_chart.h"

#include <algorithm>
#include <cstdio>

namespace sticky {
namespace {

// The drawing area, in SVG user units; the SVG scales to the figure's width.
constexpr double kWidth = 300;
constexpr double kHeight = 64;
constexpr double kTop = 3;          // room for the line's stroke at the maximum
constexpr double kErrorBand = 6;    // error marks, under the plot
constexpr double kPlotBottom = kHeight - kErrorBand - 1;
// The chart spans at least this many minutes, up to the whole history.
constexpr std::size_t kMinSpan = 10;

// The minutes drawn: from the first with any count (so that an hour with
// only a few minutes of traffic is not a spike at the right edge), at least
// kMinSpan of them, to the current one.
class TimeAxis {
 public:
  explicit TimeAxis(const WorkerRow& w) {
    first_ = kHistoryMinutes - kMinSpan;
    for (std::size_t i = 0; i < kHistoryMinutes - kMinSpan; ++i) {
      const MinuteCounts& c = w.history[i];
      if (c.requests || c.sticky_hits || c.new_sessions || c.errors || c.in_flight_peak ||
          c.sessions) {
        first_ = i;
        break;
      }
    }
  }
  std::size_t first() const { return first_; }
  std::size_t span() const { return kHistoryMinutes - first_; }
  double X(std::size_t minute) const {
    return kWidth * static_cast<double>(minute - first_) / static_cast<double>(span() - 1);
  }

 private:
  std::size_t first_;
};

double Y(std::uint32_t value, std::uint32_t max) {
  return kPlotBottom - (kPlotBottom - kTop) * static_cast<double>(value) / std::max<std::uint32_t>(max, 1);
}

void AppendPoint(std::string* out, double x, double y) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f,%.1f ", x, y);
  out->append(buf);
}

std::uint32_t Max(const WorkerRow& w, std::uint32_t MinuteCounts::*count) {
  std::uint32_t max = 0;
  for (const MinuteCounts& c : w.history) max = std::max(max, c.*count);
  return max;
}

// All 60 minutes, drawn or not: the JSON's "history" arrays.
void AppendValues(std::string* out, const WorkerRow& w, std::uint32_t MinuteCounts::*count) {
  out->append(" data-values=\"");
  for (std::size_t i = 0; i < kHistoryMinutes; ++i) {
    if (i > 0) out->push_back(' ');
    out->append(std::to_string(w.history[i].*count));
  }
  out->push_back('"');
}

void AppendPoints(std::string* out, const WorkerRow& w, const TimeAxis& axis,
                  std::uint32_t MinuteCounts::*count, std::uint32_t max) {
  for (std::size_t i = axis.first(); i < kHistoryMinutes; ++i)
    AppendPoint(out, axis.X(i), Y(w.history[i].*count, max));
}

// <polyline> of one series (and, with `area`, the filled shape under it).
void AppendSeries(std::string* out, const WorkerRow& w, const TimeAxis& axis,
                  std::uint32_t MinuteCounts::*count, const char* name, bool area) {
  const std::uint32_t max = Max(w, count);
  const std::string bottom = std::to_string(static_cast<int>(kPlotBottom));
  if (area) {
    out->append("<path class=\"area ").append(name).append("\" d=\"M0,").append(bottom);
    out->append(" L");
    AppendPoints(out, w, axis, count, max);
    out->append("L300,").append(bottom).append(" Z\"/>");
  }
  out->append("<polyline class=\"line ").append(name).append("\" data-series=\"").append(name);
  out->append("\" data-max=\"").append(std::to_string(max)).append("\"");
  AppendValues(out, w, count);
  out->append(" points=\"");
  AppendPoints(out, w, axis, count, max);
  out->pop_back();
  out->append("\"/>");
}

}  // namespace

void AppendMinuteChart(std::string* out, const WorkerRow& w) {
  const bool sessions = w.sessions_window_minutes > 0;
  const TimeAxis axis(w);
  out->append("<figure class=\"chart\" data-worker=\"");
  AppendHtmlEscaped(out, w.name);
  out->append("\" data-first=\"").append(std::to_string(axis.first()));
  out->append("\"><figcaption><b>");
  AppendHtmlEscaped(out, w.name);
  out->append("</b>");
  if (sessions) {
    out->append(" <span class=\"k sessions\">sessions/min, max ");
    out->append(std::to_string(Max(w, &MinuteCounts::sessions))).append("</span>");
  }
  out->append(" <span class=\"k requests\">requests/min, max ");
  out->append(std::to_string(Max(w, &MinuteCounts::requests))).append("</span>");
  if (Max(w, &MinuteCounts::errors) > 0) out->append(" <span class=\"k errors\">errors</span>");
  out->append("</figcaption><svg viewBox=\"0 0 300 64\" preserveAspectRatio=\"none\" role=\"img\" "
              "aria-label=\"last ");
  out->append(std::to_string(axis.span())).append(" minutes of ");
  AppendHtmlEscaped(out, w.name);
  out->append("\">");
  // The current minute is not over: its band is shaded.
  char band[112];
  const double now = axis.X(kHistoryMinutes - 2);
  std::snprintf(band, sizeof band,
                "<rect class=\"now\" x=\"%.1f\" y=\"0\" width=\"%.1f\" height=\"%.0f\"/>", now,
                kWidth - now, kHeight);
  out->append(band);
  if (sessions) AppendSeries(out, w, axis, &MinuteCounts::sessions, "sessions", true);
  AppendSeries(out, w, axis, &MinuteCounts::requests, "requests", false);
  out->append("<g class=\"errors\" data-series=\"errors\"");
  AppendValues(out, w, &MinuteCounts::errors);
  out->append(">");
  for (std::size_t i = axis.first(); i < kHistoryMinutes; ++i) {
    if (w.history[i].errors == 0) continue;
    char mark[96];
    std::snprintf(mark, sizeof mark, "<rect x=\"%.1f\" y=\"%.0f\" width=\"4\" height=\"%.0f\"/>",
                  std::max(0.0, axis.X(i) - 2), kHeight - kErrorBand, kErrorBand);
    out->append(mark);
  }
  out->append("</g></svg><div class=\"axis\"><span>");
  out->append(std::to_string(axis.span() - 1));
  out->append(" min ago</span><span>now (this minute so far)</span></div></figure>");
}

}  // namespace sticky
