// The dashboard's inline style sheet and script (status_html_assets.cc).
#ifndef STICKY_STATUS_HTML_ASSETS_H
#define STICKY_STATUS_HTML_ASSETS_H

namespace sticky {

extern const char kStatusCss[];
extern const char kStatusScript[];

}  // namespace sticky

#endif  // STICKY_STATUS_HTML_ASSETS_H
