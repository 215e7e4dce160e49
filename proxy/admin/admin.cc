// Admin handlers.
#include "proxy/admin/admin.h"

#include <regex>

#include "proxy/common/strings.h"
#include "proxy/http/access_log.h"
#include "proxy/stats/exposition.h"

namespace remora::admin {
namespace {

constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// Value of `key` in an application/x-www-form-urlencoded query (no percent-decoding needed
// for the parameters we read).
std::string queryParam(std::string_view query, std::string_view key) {
  for (std::string_view kv : split(query, '&')) {
    size_t eq = kv.find('=');
    if (kv.substr(0, eq) == key)
      return eq == std::string_view::npos ? "" : std::string(kv.substr(eq + 1));
  }
  return {};
}

Response prometheus(AdminHooks& hooks) {
  Response r;
  r.content_type = std::string(kPrometheusContentType);
  r.body = stats::renderPrometheus(hooks.stats());
  return r;
}

Response ready(AdminHooks& hooks) {
  Response r;
  ServerState s = hooks.state();
  r.status = s == ServerState::Live ? 200 : 503;
  r.body = cat(stateName(s), "\n");
  return r;
}

}  // namespace

std::string_view stateName(ServerState state) {
  switch (state) {
    case ServerState::Live:
      return "LIVE";
    case ServerState::Draining:
      return "DRAINING";
    case ServerState::PreInitializing:
      return "PRE_INITIALIZING";
    case ServerState::Initializing:
      return "INITIALIZING";
  }
  return "UNKNOWN";
}

std::shared_ptr<Router> adminRouter(AdminHooks& hooks) {
  auto router = std::make_shared<Router>();
  std::weak_ptr<Router> weak = router;
  router->add("/", "this list of admin commands", false, [weak](const Request&) {
    Response r;
    if (auto rt = weak.lock()) r.body = cat("admin commands are:\n", rt->index());
    return r;
  });
  router->add("/ready", "200 when the server is ready to take traffic, else 503", false,
              [&hooks](const Request&) { return ready(hooks); });
  router->add("/stats", "counters and gauges (?format=prometheus, ?filter=REGEX)", false,
              [&hooks](const Request& req) {
                if (queryParam(req.query, "format") == "prometheus") return prometheus(hooks);
                Response r;
                std::string text = stats::renderText(hooks.stats());
                std::string filter = queryParam(req.query, "filter");
                if (filter.empty()) {
                  r.body = std::move(text);
                  return r;
                }
                std::regex re;
                try {
                  re = std::regex(filter);
                } catch (const std::regex_error& e) {
                  r.status = 400;
                  r.body = cat("invalid filter regex '", filter, "': ", e.what(), "\n");
                  return r;
                }
                for (std::string_view line : split(text, '\n', true)) {
                  std::string_view name = line.substr(0, line.find(':'));
                  if (std::regex_search(name.begin(), name.end(), re)) append(&r.body, line, "\n");
                }
                return r;
              });
  router->add("/stats/prometheus", "counters and gauges in Prometheus text format", false,
              [&hooks](const Request&) { return prometheus(hooks); });
  router->add("/quitquitquit", "exit the server at once (open connections are reset)", true,
              [&hooks](const Request&) {
                Response r;
                r.body = "OK\n";
                r.after = [&hooks] { hooks.quit(); };
                return r;
              });
  router->add("/reopen_logs", "open the access log files again (after they were rotated)", true,
              [](const Request&) {
                http::AccessLogFile::reopenAll();
                Response r;
                r.body = "OK\n";
                return r;
              });
  router->add("/drain_listeners", "stop accepting new connections on every listener", true,
              [&hooks](const Request&) {
                Response r;
                r.body = "OK\n";
                r.after = [&hooks] { hooks.drainListeners(); };
                return r;
              });
  return router;
}

std::shared_ptr<Router> prometheusRouter(AdminHooks& hooks) {
  auto router = std::make_shared<Router>();
  router->add("/stats/prometheus", "counters and gauges in Prometheus text format", false,
              [&hooks](const Request&) { return prometheus(hooks); });
  return router;
}

std::shared_ptr<Router> healthRouter(AdminHooks& hooks) {
  auto router = std::make_shared<Router>();
  router->add("/healthz/ready", "200 when the server is ready to take traffic, else 503", false,
              [&hooks](const Request&) { return ready(hooks); });
  return router;
}

}  // namespace remora::admin
