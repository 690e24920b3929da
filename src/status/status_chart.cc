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

double X(std::size_t minute) {
  return kWidth * static_cast<double>(minute) / static_cast<double>(kHistoryMinutes - 1);
}
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

void AppendValues(std::string* out, const WorkerRow& w, std::uint32_t MinuteCounts::*count) {
  out->append(" data-values=\"");
  for (std::size_t i = 0; i < kHistoryMinutes; ++i) {
    if (i > 0) out->push_back(' ');
    out->append(std::to_string(w.history[i].*count));
  }
  out->push_back('"');
}

// <polyline> of one series (and, with `area`, the filled shape under it).
void AppendSeries(std::string* out, const WorkerRow& w, std::uint32_t MinuteCounts::*count,
                  const char* name, bool area) {
  const std::uint32_t max = Max(w, count);
  if (area) {
    out->append("<path class=\"area ").append(name).append("\" d=\"M0,");
    out->append(std::to_string(static_cast<int>(kPlotBottom))).append(" L");
    for (std::size_t i = 0; i < kHistoryMinutes; ++i) AppendPoint(out, X(i), Y(w.history[i].*count, max));
    out->append("L300,").append(std::to_string(static_cast<int>(kPlotBottom))).append(" Z\"/>");
  }
  out->append("<polyline class=\"line ").append(name).append("\" data-series=\"").append(name);
  out->append("\" data-max=\"").append(std::to_string(max)).append("\"");
  AppendValues(out, w, count);
  out->append(" points=\"");
  for (std::size_t i = 0; i < kHistoryMinutes; ++i) AppendPoint(out, X(i), Y(w.history[i].*count, max));
  out->pop_back();
  out->append("\"/>");
}

}  // namespace

void AppendMinuteChart(std::string* out, const WorkerRow& w) {
  const bool sessions = w.sessions_window_minutes > 0;
  out->append("<figure class=\"chart\" data-worker=\"");
  AppendHtmlEscaped(out, w.name);
  out->append("\"><figcaption><b>");
  AppendHtmlEscaped(out, w.name);
  out->append("</b>");
  if (sessions) {
    out->append(" <span class=\"k sessions\">sessions/min, max ");
    out->append(std::to_string(Max(w, &MinuteCounts::sessions))).append("</span>");
  }
  out->append(" <span class=\"k requests\">requests/min, max ");
  out->append(std::to_string(Max(w, &MinuteCounts::requests))).append("</span>");
  const std::uint32_t errors = Max(w, &MinuteCounts::errors);
  if (errors > 0) out->append(" <span class=\"k errors\">errors</span>");
  out->append("</figcaption><svg viewBox=\"0 0 300 64\" preserveAspectRatio=\"none\" role=\"img\" "
              "aria-label=\"last 60 minutes of ");
  AppendHtmlEscaped(out, w.name);
  out->append("\">");
  if (sessions) AppendSeries(out, w, &MinuteCounts::sessions, "sessions", true);
  AppendSeries(out, w, &MinuteCounts::requests, "requests", false);
  out->append("<g class=\"errors\" data-series=\"errors\"");
  AppendValues(out, w, &MinuteCounts::errors);
  out->append(">");
  for (std::size_t i = 0; i < kHistoryMinutes; ++i) {
    if (w.history[i].errors == 0) continue;
    char buf[96];
    std::snprintf(buf, sizeof buf, "<rect x=\"%.1f\" y=\"%.0f\" width=\"4\" height=\"%.0f\"/>",
                  std::max(0.0, X(i) - 2), kHeight - kErrorBand, kErrorBand);
    out->append(buf);
  }
  out->append("</g></svg><div class=\"axis\"><span>60 min ago</span><span>now</span></div>"
              "</figure>");
}

}  // namespace sticky
